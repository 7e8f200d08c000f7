/**
 * `npm run bench`: the figures of issue 16, each beside a baseline measured in the same run on the
 * same machine, printed as a table and written to bench/results.json (the README's performance
 * section is generated from that file by `npm run docs`). Benchmarks check numbers; tests check
 * behaviour: nothing here is asserted, and `--quick` (part of `npm test`) runs the same code on tiny
 * sizes only to prove the benchmark still works.
 *
 *   npm run bench [-- --quick] [-- --out FILE] [-- --only events,telemetry,alerts,connections,growth,cluster]
 *
 * Sections (one file each): events through the full pipeline vs bare Aedes and Mosquitto; telemetry
 * ingest vs bare Aedes, InfluxDB sink on/off; panic press → leader's app, quiet / under telemetry /
 * under an event flood with a CSV dry run; connections held, memory, reconnect storm vs bare Aedes;
 * how CPU per event and memory grow with the fleet and the rate; cluster overhead: the same paced
 * load against one embedded node and a 2-node cluster on PostgreSQL and Redis (issue 19).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { LoadDevice } from '../device-sim/src/raw-mqtt.ts';
import { findPgBin } from '../hub/test/helpers/postgres.ts';
import { REDIS_PACKAGE } from '../hub/test/helpers/redis-server.ts';
import { ensureDebianPackages } from '../hub/test/helpers/system-packages.ts';
import { HubPool } from './hub-process.ts';
import { fileLimit } from './proc.ts';
import { type BenchResults, machine, type Row, renderMachine, renderTable } from './results.ts';
import { alertsSection } from './section-alerts.ts';
import { clusterSection } from './section-cluster.ts';
import { connectionsSection } from './section-connections.ts';
import { eventsSection } from './section-events.ts';
import { growthSection } from './section-growth.ts';
import { telemetrySection } from './section-telemetry.ts';
import { FULL, QUICK } from './sizes.ts';

const SECTIONS = ['events', 'telemetry', 'alerts', 'connections', 'growth', 'cluster'] as const;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    only: { type: 'string' },
  },
});
const sizes = values.quick ? QUICK : FULL;
const only = new Set(values.only ? values.only.split(',') : SECTIONS);
for (const name of only)
  if (!(SECTIONS as readonly string[]).includes(name))
    throw new Error(`--only: no section ${name} (sections: ${SECTIONS.join(', ')})`);
const mode = values.quick ? 'quick' : values.only ? 'partial' : 'full';
// only a full run replaces bench/results.json, the source of the README's performance section
const out =
  values.out ??
  new URL(mode === 'full' ? './results.json' : `./results.${mode}.json`, import.meta.url).pathname;

// Every connection is an open file, in this process and in the broker's. Node cannot raise its own
// limit, so the bench starts itself again under a shell that raises the soft limit to the hard one;
// children (the brokers) inherit it.
const limit = fileLimit();
if (limit.soft < limit.hard && limit.soft < sizes.connections + 1000 && !process.env.GRIDHUB_BENCH_REEXEC) {
  const r = spawnSync(
    'sh',
    [
      '-c',
      `ulimit -n ${limit.hard} && exec "$0" "$@"`,
      process.execPath,
      ...process.execArgv,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit', env: { ...process.env, GRIDHUB_BENCH_REEXEC: '1' } },
  );
  process.exit(r.status ?? 1);
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** The connections and growth sections share one registered fleet, each on a fresh hub process. */
async function fleetSections(hubs: HubPool, rows: Row[], details: Record<string, string[]>) {
  if (!only.has('connections') && !only.has('growth')) return;
  // Both the hub and this process hold one file per connection; leave room for everything else.
  const files = fileLimit().soft;
  const connections = Math.min(sizes.connections, files - 1000);
  const limitNote =
    connections < sizes.connections
      ? `capped at ${connections.toLocaleString('en-US')} by this machine's open-files limit (${files.toLocaleString('en-US')})`
      : '';
  const size = Math.max(connections, ...sizes.growth.fleets.map((f) => Math.min(f, connections)));
  const registrar = await hubs.start();
  let devices: LoadDevice[];
  try {
    await registrar.loadCommunity();
    devices = await registrar.register(size, 'generic-nb-smoke', ['site-b1', 'site-b2', 'site-b3'], 'fleet');
  } finally {
    await hubs.release(registrar);
  }
  const { dataDir } = registrar;
  await section('connections', rows, () =>
    connectionsSection(
      sizes.connections,
      { devices: devices.slice(0, connections), dataDir },
      sizes.settleMs,
      hubs,
      limitNote,
      details,
    ),
  );
  await section('growth', rows, () =>
    growthSection(sizes.growth, { devices, dataDir }, sizes.settleMs, hubs, details),
  );
}

/** Sections that failed: the others still run and are written, and the run exits 1. */
const failures: string[] = [];

async function section(name: (typeof SECTIONS)[number], rows: Row[], run: () => Promise<Row[]>) {
  if (!only.has(name)) return;
  const t0 = performance.now();
  say(`bench: ${name} …`);
  try {
    rows.push(...(await run()));
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    process.stderr.write(`bench: ${name} failed: ${err instanceof Error ? err.stack : why}\n`);
    failures.push(name);
    rows.push({ section: name, figure: 'the section failed', value: null, unit: '', note: why });
  }
  say(`bench: ${name} done in ${Math.round((performance.now() - t0) / 1000)} s`);
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadStart = Math.round((loadavg()[0] ?? 0) * 100) / 100;
  await ensureDebianPackages([
    { command: 'victoria-metrics', pkg: 'victoria-metrics' },
    { command: 'mosquitto', pkg: 'mosquitto' },
    { command: 'initdb', pkg: 'postgresql', present: () => findPgBin('initdb') !== undefined },
    REDIS_PACKAGE,
  ]);
  const rows: Row[] = [];
  const details: Record<string, string[]> = {};
  const hubs = new HubPool(values.quick);
  try {
    await section('events', rows, () => eventsSection(sizes.events, hubs, details));
    await section('events', rows, async () =>
      (await import('./ingress-push.ts')).ingressSection(values.quick, hubs, details),
    );
    await section('telemetry', rows, () => telemetrySection(sizes.telemetry, hubs, details));
    await section('alerts', rows, () => alertsSection(sizes.alerts, sizes.settleMs, hubs, details));
    await fleetSections(hubs, rows, details);
    // last: its PostgreSQL and Redis would otherwise run beside every other figure
    await section('cluster', rows, () => clusterSection(sizes.cluster, sizes.settleMs, hubs, details));
  } finally {
    await hubs.stopAll();
  }
  const results: BenchResults = {
    mode,
    at: new Date().toISOString(),
    seconds: Math.round((performance.now() - started) / 1000),
    machine: machine(fileLimit().soft, loadStart),
    rows,
    details,
  };
  say('');
  for (const [name, lines] of Object.entries(details)) say(`${name}\n  ${lines.join('\n  ')}`);
  say(`\n${renderMachine(results)}\n\n${renderTable(results)}\n`);
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  say(`written ${out}${mode === 'full' ? '; `npm run docs` puts it in the README' : ''}`);
}

// A promise nobody will settle (a broker that vanished mid-call) empties the event loop, and Node
// would exit 0 with the run unfinished; make that a failure.
let finished = false;
process.on('beforeExit', () => {
  if (finished) return;
  process.stderr.write('bench failed: stalled (a broker stopped answering; see its output above)\n');
  process.exit(1);
});

main().then(
  () => {
    finished = true;
    if (failures.length) process.stderr.write(`bench: failed sections: ${failures.join(', ')}\n`);
    process.exit(failures.length ? 1 : 0);
  },
  (err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
