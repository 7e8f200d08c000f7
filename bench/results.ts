/**
 * The shape of bench/results.json and its one rendering as a Markdown table, shared by `npm run bench`
 * (printed at the end) and `npm run docs` (the README's performance section).
 */
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface Row {
  /** events, telemetry, alerts, connections, growth */
  section: string;
  figure: string;
  /** null: not measured (the note says why) */
  value: number | null;
  unit: string;
  /** the same figure for the reference it is compared with, measured in the same run */
  baseline?: { label: string; value: number | null };
  /** value / baseline */
  ratio?: number | null;
  /** the goal from issue 16 */
  goal?: string;
  note?: string;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  os: string;
  node: string;
  openFilesLimit: number;
  loadAverage: { start: number; end: number };
  /** free text from GRIDHUB_BENCH_NOTE, e.g. "other work running" */
  note?: string;
}

export interface BenchResults {
  /** full: every section at full size (what the README shows); partial: `--only`; quick: `--quick` */
  mode: 'full' | 'partial' | 'quick';
  at: string;
  seconds: number;
  machine: Machine;
  rows: Row[];
  /** per-step lines (rate steps, phases) for whoever wants to see how a figure came about */
  details: Record<string, string[]>;
}

export function ratio(value: number | null, baseline: number | null): number | null {
  if (value === null || baseline === null || baseline === 0) return null;
  return Math.round((value / baseline) * 100) / 100;
}

export function machine(openFilesLimit: number, loadStart: number): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    os: `Linux ${release()}`,
    node: process.version,
    openFilesLimit,
    loadAverage: { start: loadStart, end: Math.round((loadavg()[0] ?? 0) * 100) / 100 },
    ...(process.env.GRIDHUB_BENCH_NOTE ? { note: process.env.GRIDHUB_BENCH_NOTE } : {}),
  };
}

function num(v: number | null): string {
  if (v === null) return '–';
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return v.toLocaleString('en-US', { maximumFractionDigits: digits });
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** The rows as one Markdown table: figure, gridhub, baseline of the same run, ratio, goal, notes. */
export function renderTable(r: BenchResults): string {
  return [
    '| section | figure | gridhub | baseline (same run) | ratio | goal | notes |',
    '|---|---|---:|---|---:|---|---|',
    ...r.rows.map((row) =>
      [
        '',
        row.section,
        cell(row.figure),
        `${num(row.value)} ${row.unit}`,
        row.baseline ? `${cell(row.baseline.label)}: ${num(row.baseline.value)} ${row.unit}` : '',
        row.ratio === undefined ? '' : num(row.ratio),
        cell(row.goal ?? ''),
        cell(row.note ?? ''),
        '',
      ]
        .join(' | ')
        .trim(),
    ),
  ].join('\n');
}

/** One sentence naming the machine and the run, for above the table. */
export function renderMachine(r: BenchResults): string {
  const m = r.machine;
  return (
    `Measured with \`npm run bench\`${r.mode === 'quick' ? ' --quick (small sizes; figures mean nothing)' : ''} ` +
    `on ${r.at.slice(0, 10)}: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}, Node ${m.node}, ` +
    `open-files limit ${m.openFilesLimit.toLocaleString('en-US')}, load average ${m.loadAverage.start} at the start ` +
    `and ${m.loadAverage.end} at the end; ${Math.round(r.seconds)} s in all.${m.note ? ` ${m.note}.` : ''}`
  );
}
