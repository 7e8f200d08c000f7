/**
 * The simulator's shipped scenarios against a cluster (issue 19): three hub nodes on one PostgreSQL
 * database and one Redis behind HAProxy (the shipped deploy/haproxy.cfg), and `gridhub-sim scenario`
 * given only the balancer's addresses, as an operator would run it. Each scenario passes through the
 * real CLI process and its exit code; the devices of one scenario land on different nodes
 * (leastconn), so a fire confirmed by two detectors, an alert to a leader or a command to a
 * sleeping detector crosses nodes as it would in the field. The scenarios share the cluster
 * (devices get fresh ids per run; policies are restored after each).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BalancedCluster } from '../helpers/balanced-cluster.ts';
import { loadExample } from '../helpers/community.ts';
import { tickets } from '../helpers/devices.ts';
import { ADMIN_TOKEN } from '../helpers/start-hub.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const SCENARIOS = join(ROOT, 'device-sim/scenarios');

function sim(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'device-sim/bin/gridhub-sim.mjs'), ...args], {
      cwd: ROOT,
    });
    let output = '';
    const keep = (d: Buffer) => {
      output += d.toString();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

const cluster = new BalancedCluster({
  nodes: 3,
  env: {
    GRIDHUB_ALERTS_TICK_MS: '50',
    GRIDHUB_TICKETS_SCHEDULER_TICK_MS: '100',
    GRIDHUB_PRESENCE_SWEEP_MS: '100',
  },
});
beforeAll(async () => {
  await cluster.start();
  await loadExample(cluster.api);
});
afterAll(() => cluster.stop());

/**
 * Between exercises, as an operator would: every alert resolved and every ticket walked to closed, so
 * one scenario's open fire ticket at a site does not absorb the next scenario's alarms there (each
 * single-node scenario gets a fresh hub; these share the cluster).
 */
beforeEach(async () => {
  const active = await cluster.api.get<{ items: { id: string }[] }>('/api/v1/alerts?active=true&limit=500');
  for (const a of active.body.items ?? []) await cluster.api.post(`/api/v1/alerts/${a.id}/resolve`, {});
  for (const tk of await tickets(cluster.api, 'open=true'))
    for (const action of ['sign', 'start', 'report-back', 'verify', 'close'])
      await cluster.api.post(`/api/v1/tickets/${tk.id}/${action}`, { note: 'between scenarios' });
  expect(await tickets(cluster.api, 'open=true')).toHaveLength(0);
});

describe('shipped scenarios against the cluster’s load balancer', () => {
  const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.yaml'));

  it('finds the shipped scenarios', () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
  });

  for (const file of files) {
    it(`passes: ${file}`, async () => {
      const run = await sim([
        'scenario',
        join(SCENARIOS, file),
        '--hub',
        cluster.url,
        '--token',
        ADMIN_TOKEN,
        '--mqtt',
        cluster.mqttUrl,
      ]);
      expect(run.output).toMatch(/^✓ /m);
      expect(run.code, `${run.output}\n${cluster.output(1500)}`).toBe(0);
    });
  }
});
