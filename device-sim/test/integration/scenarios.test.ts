/**
 * Proves the simulator's scenarios against the real hub: every shipped scenario passes (each on a
 * fresh hub with the example community), through the real CLI process and its exit code; a scenario
 * with a deliberately broken expectation exits non-zero with a report naming that expectation.
 */
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadExample } from '../../../hub/test/helpers/community.ts';
import { Mosquitto } from '../../../hub/test/helpers/mosquitto.ts';
import { ADMIN_TOKEN, startTestHub, type TestHub, tempDir } from '../../../hub/test/helpers/test-hub.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const SCENARIOS = join(ROOT, 'device-sim/scenarios');

function sim(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'device-sim/bin/gridhub-sim.mjs'), ...args], {
      cwd: ROOT,
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('exit', (code) => resolve({ code, output }));
  });
}

let hub: TestHub | undefined;
afterEach(async () => {
  await hub?.cleanup();
  hub = undefined;
});

async function freshHub(): Promise<{ args: string[] }> {
  hub = await startTestHub({
    overrides: { 'alerts.tickMs': 50, 'tickets.schedulerTickMs': 100, 'presence.sweepMs': 100 },
  });
  await loadExample(hub.api);
  return {
    args: ['--hub', hub.url, '--token', ADMIN_TOKEN, '--mqtt', `mqtt://127.0.0.1:${hub.hub.broker.port}`],
  };
}

describe('shipped scenarios', () => {
  const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.yaml'));

  it('ships the scenarios the simulator promises', () => {
    expect(files.sort()).toEqual([
      'basement-flood.yaml',
      'detector-commands.yaml',
      'elevator-entrapment.yaml',
      'fire-confirmed-mixed-ingress.yaml',
      'fire-confirmed.yaml',
      'misbehaving-device.yaml',
      'school-panic.yaml',
      'site-power-outage.yaml',
    ]);
  });

  for (const file of files) {
    it(`passes: ${file}`, async () => {
      const { args } = await freshHub();
      const run = await sim(['scenario', join(SCENARIOS, file), ...args]);
      expect(run.output).toMatch(/^✓ /m);
      expect(run.code, run.output).toBe(0);
    });
  }

  it('plays a shipped scenario with its devices on another ingress (--ingress): ChirpStack via Mosquitto', async () => {
    const broker = new Mosquitto();
    await broker.start();
    try {
      const { args } = await freshHub();
      const run = await sim([
        'scenario',
        join(SCENARIOS, 'fire-confirmed.yaml'),
        ...args,
        '--ingress',
        'smoke-201=chirpstack,smoke-502=onenet',
        '--chirpstack',
        broker.url,
      ]);
      expect(run.output).toMatch(/smoke-201: through chirpstack/);
      expect(run.output).toMatch(/smoke-502: through onenet/);
      expect(run.code, run.output).toBe(0);
    } finally {
      await broker.stop();
    }
  });

  it('exits non-zero with a report naming a broken expectation', async () => {
    const { args } = await freshHub();
    const broken = join(tempDir('gridhub-scn-'), 'broken.yaml');
    writeFileSync(
      broken,
      [
        'name: broken expectation',
        'devices:',
        '  b: { model: generic-panic-button, site: site-school-gate }',
        'timeline:',
        '  - { at: 0, device: b, event: { type: press } }',
        'expect:',
        '  - { within: 3, ticket: { category: panic, device: b } }',
        '  - { within: 1, ticket: { category: fire, device: b } }',
      ].join('\n'),
    );
    const run = await sim(['scenario', broken, ...args]);
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/✗ broken expectation/);
    expect(run.output).toMatch(/✓ \{"ticket":\{"category":"panic"/);
    expect(run.output).toMatch(/✗ \{"ticket":\{"category":"fire","device":"b"\}\} — 0 ticket\(s\)/);
  });

  it('load: measures delivered rate and latency through the hub with registered devices', async () => {
    const { args } = await freshHub();
    const csv = [
      'id,model,site',
      ...Array.from({ length: 10 }, (_, i) => `load-${i},generic-nb-smoke,site-b1`),
    ].join('\n');
    const reg = await hub?.api.post<{ registered: { id: string; secret: string }[] }>(
      '/api/v1/devices/import',
      csv,
      'text/csv',
    );
    const credentials = join(tempDir('gridhub-load-'), 'credentials.json');
    writeFileSync(credentials, JSON.stringify({ devices: reg?.body.registered }));
    const run = await sim(['load', '--credentials', credentials, '--rate', '500', '--seconds', '2', ...args]);
    expect(run.code, run.output).toBe(0);
    const result = JSON.parse(run.output.slice(run.output.indexOf('{'))) as {
      sent: number;
      received: number;
      lossPct: number;
      p99Ms: number;
    };
    expect(result.sent).toBe(1000);
    expect(result.received).toBe(1000);
    expect(result.lossPct).toBe(0);
    expect(result.p99Ms).toBeGreaterThanOrEqual(0);
  });

  it('explains itself with --help and refuses an invalid scenario file', async () => {
    const help = await sim(['scenario', '--help']);
    expect(help.code).toBe(0);
    expect(help.output).toContain('exits 0 only if every expectation');
    const bad = join(tempDir('gridhub-scn-'), 'bad.yaml');
    writeFileSync(
      bad,
      'name: x\ndevices: {}\ntimeline: [{ at: 0, device: ghost, event: { type: press } }]\nexpect: []\n',
    );
    const run = await sim(['scenario', bad, '--token', 'x']);
    expect(run.code).toBe(2);
    expect(run.output).toContain('not a valid scenario');
  });
});
