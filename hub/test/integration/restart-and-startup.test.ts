/**
 * Proves: stopping and starting a hub against the same data directory keeps grid, devices, tokens
 * and audit; the real entry point (`npm start`'s command) prints where the API and MQTT listen and
 * the bootstrap admin token, serves /ready, and exits cleanly on SIGTERM; a bad configuration value
 * stops start-up with a message naming the key.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { DeviceView } from '../../src/devices/device-schemas.ts';
import { loadExample } from '../helpers/community.ts';
import { freePort } from '../helpers/hub-process.ts';
import { ADMIN_TOKEN, startTestHub, tempDir } from '../helpers/test-hub.ts';
import { testStoreEnv } from '../helpers/test-store.ts';
import { waitFor } from '../helpers/wait.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;

async function startMain(env: Record<string, string>): Promise<{
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}> {
  // the `pg` project: the data directory's own PostgreSQL database (helpers/test-store.ts)
  const store =
    env.GRIDHUB_DATA_DIR && env.GRIDHUB_STORE_URL === undefined
      ? await testStoreEnv(env.GRIDHUB_DATA_DIR)
      : {};
  const child = spawn(process.execPath, ['--import', 'tsx', 'hub/src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...store, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

describe('restart and start-up', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('keeps everything across a stop and start on the same data directory', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const first = await startTestHub({ dataDir });
    const { 'p-installer': installer } = await loadExample(first.api, ['p-installer']);
    const reg = await installer?.post<{ device: DeviceView; secret: string }>('/api/v1/devices', {
      model: 'gbt24476-elevator',
      site: 'site-b1',
      name: '1号楼1号梯',
    });
    expect(reg?.status).toBe(201);
    const nodes = await first.api.get('/api/v1/grid/nodes');
    const audit = await first.api.get<unknown[]>('/api/v1/audit?limit=1000');
    await first.stop();

    const second = await startTestHub({ dataDir });
    try {
      expect(second.hub.bootstrapToken).toBeUndefined();
      expect((await second.api.get('/api/v1/grid/nodes')).body).toEqual(nodes.body);
      // The installer's token from before the restart still works on the new process.
      const again = await second.api
        .as(installer?.token ?? '')
        .get<DeviceView>(`/api/v1/devices/${reg?.body.device.id}`);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(reg?.body.device);
      expect((await second.api.get<unknown[]>('/api/v1/audit?limit=1000')).body).toEqual(audit.body);
      expect((await second.api.get<{ intact: boolean }>('/api/v1/audit/verify')).body.intact).toBe(true);
    } finally {
      await second.stop();
    }
  });

  it('starts from the entry point, prints addresses and the admin token once, and stops on SIGTERM', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const env = {
      GRIDHUB_DATA_DIR: dataDir,
      GRIDHUB_HTTP_PORT: '0',
      GRIDHUB_MQTT_PORT: '0',
      GRIDHUB_HTTP_HOST: '127.0.0.1',
      GRIDHUB_LOG_LEVEL: 'warn',
      GRIDHUB_NODE_RED_PORT: '0',
    };
    const run = await startMain(env);
    await waitFor(() => /ghk_[A-Za-z0-9_-]{43}/.test(run.output()), {
      timeoutMs: 30_000,
      what: 'banner with token',
    });
    const text = run.output();
    const url = /API and console\s+(http:\/\/[^/\s]+)/.exec(text)?.[1];
    const token = /(ghk_[A-Za-z0-9_-]{43})/.exec(text)?.[1];
    const mqttPort = Number(/MQTT\s+mqtt:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1]);
    expect(mqttPort).toBeGreaterThan(0);
    expect(url).toBeDefined();
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { store: true, broker: true, storage: true, 'broker-sessions': true, chirpstack: true },
    });
    const me = await fetch(`${url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await me.json()) as { roles: string[] }).roles).toEqual(['admin']);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);

    // Second start on the same store: no new token is printed.
    const rerun = await startMain(env);
    await waitFor(() => rerun.output().includes('gridhub is running'), { timeoutMs: 30_000, what: 'banner' });
    expect(rerun.output()).not.toMatch(/ghk_/);
    rerun.child.kill('SIGTERM');
    const code = await rerun.exited;
    if (code !== 0) console.log('RERUN OUTPUT', rerun.output(), rerun.child.signalCode);
    expect(code).toBe(0);
  });

  it('refuses a bad configuration value, naming the key', async () => {
    const run = await startMain({
      GRIDHUB_HTTP_PORT: 'abc',
      GRIDHUB_MQTT_MAX_PAYLOAD_BYTES: '-5',
      GRIDHUB_DATA_DIR: tempDir(),
    });
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain('http.port: must be integer');
    expect(run.output()).toContain('mqtt.maxPayloadBytes: must be >= 256');
  });

  it('refuses an unreachable PostgreSQL store: its code, the URL without the password, what to check; nothing starts', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    // Nothing listens on a port that was free a moment ago.
    const url = `postgres://gridhub:s3cret-pw@127.0.0.1:${await freePort()}/gridhub`;
    const run = await startMain({
      GRIDHUB_DATA_DIR: dataDir,
      GRIDHUB_STORE_URL: url,
      GRIDHUB_HTTP_HOST: '127.0.0.1',
      GRIDHUB_HTTP_PORT: '0',
      GRIDHUB_MQTT_PORT: '0',
      GRIDHUB_NODE_RED_ENABLED: 'false',
      GRIDHUB_LOG_LEVEL: 'silent',
    });
    expect(await run.exited).toBe(1);
    const out = run.output();
    expect(out).toContain('GH_ERR_STORE_UNAVAILABLE');
    expect(out).toContain(`postgres://gridhub:***@127.0.0.1:`);
    expect(out).not.toContain('s3cret-pw');
    expect(out).toContain('Check that the server runs');
    expect(out).not.toContain('gridhub is running');
    // No half-start: the store is the first step, so no other part wrote anything.
    expect(readdirSync(dataDir)).toEqual([]);
    // A URL that is not PostgreSQL's is refused by the configuration, naming the key.
    const bad = await startMain({ GRIDHUB_DATA_DIR: dataDir, GRIDHUB_STORE_URL: 'mysql://x@y/z' });
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toContain('store.url');
  });

  it('uses the configured bootstrap token instead of printing one', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const t = await startTestHub({ dataDir });
    expect(t.hub.bootstrapToken).toBeUndefined();
    expect((await t.api.get('/api/v1/me')).status).toBe(200);
    expect(t.api.token).toBe(ADMIN_TOKEN);
    await t.stop();
  });
});
