/**
 * Proves: the benchmark still runs. `bench/run.ts --quick` (every section of `npm run bench` on tiny
 * sizes: real hub processes, bare Aedes, Mosquitto, VictoriaMetrics) runs outside vitest as
 * `npm run bench` does — so it fails if the bench ever imports vitest again — exits 0, and writes a
 * result file with a row for every figure of issue 16, each a number. The figures themselves are
 * printed, not asserted: a test checks behaviour, the bench measures it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResults } from '../../../bench/results.ts';
import { tempDir } from '../helpers/test-hub.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;

describe('npm run bench -- --quick', () => {
  const dir = tempDir('gridhub-bench-quick-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every section and writes its result file', async () => {
    const out = join(dir, 'results.json');
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, output).toBe(0);
    expect(existsSync(out), output).toBe(true);

    const results = JSON.parse(readFileSync(out, 'utf8')) as BenchResults;
    expect(results.mode).toBe('quick');
    expect(results.machine.cores).toBeGreaterThan(0);
    const sections = new Set(results.rows.map((r) => r.section));
    expect([...sections]).toEqual(['events', 'telemetry', 'alerts', 'connections', 'growth', 'cluster']);
    // every row of the goals is there, with its baseline where it has one
    const figures = results.rows.map((r) => r.figure).join('\n');
    for (const want of [
      'vs bare Aedes',
      'vs Mosquitto',
      'store on PostgreSQL vs on SQLite',
      'telemetry ingest, InfluxDB sink off',
      'telemetry ingest, InfluxDB sink on',
      'quiet, p50',
      'telemetry, p99',
      'CSV dry run, p99',
      'leader’s app, ordinary events (',
      'staff subscribers on gh/v1/hub/#, p99',
      'event-loop delay',
      '/health',
      'connections held',
      'memory per device connection',
      'reconnect storm',
      'memory per connected device',
      'CPU per event',
      'CPU per message, 2-node cluster',
      'leader’s app on the other node, 2-node cluster',
    ])
      expect(figures).toContain(want);
    for (const row of results.rows) {
      // a null would be a figure the quick run failed to measure (the hub's own event-loop metric
      // is the one that may legitimately be missing)
      if (!row.figure.includes('event-loop delay the hub reports'))
        expect(row.value, `${row.figure}: ${row.note ?? ''}`).not.toBeNull();
      if (row.baseline) expect(row.baseline.value, row.figure).not.toBeNull();
    }
    expect(output).toContain('written');
  }, 240_000);
});
