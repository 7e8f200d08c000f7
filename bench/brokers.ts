import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from '../hub/test/helpers/test-hub.ts';
import { waitFor } from '../hub/test/helpers/wait.ts';

export interface Target {
  name: string;
  url: string;
  devices: { id: string; secret?: string }[];
  subscribe: { topic: string; options?: { username: string; password: string } };
  /** the hub's HTTP address (for its /metrics), when the target is the hub */
  http?: string;
  /** the broker's process, for its memory (/proc) */
  pid: number;
  /** the hub's API with the admin token, when the target is the hub */
  api?: (method: string, path: string, body?: string, type?: string) => Promise<unknown>;
  stop(): Promise<void>;
}

const ROOT = new URL('../', import.meta.url).pathname;
const ADMIN = 'ghk_bench-admin-token-0123456789abcdefghijklmnopqrstuvwx';

function collect(child: ChildProcess): () => string {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return () => out;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const anonymous = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `bench-${i}` }));

export async function mosquitto(devices: number): Promise<Target> {
  // mosquitto cannot listen on port 0 and report it; a port just freed is as close as it gets.
  const port = await freePort();
  const conf = join(tempDir('gridhub-bench-mq-'), 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n`);
  const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collect(child);
  await waitFor(() => /listen socket on port/.test(out()) || child.exitCode !== null, {
    timeoutMs: 10_000,
    what: 'mosquitto',
  });
  if (child.exitCode !== null) throw new Error(`mosquitto exited: ${out()}`);
  return {
    name: 'Mosquitto 2',
    pid: child.pid as number,
    url: `mqtt://127.0.0.1:${port}`,
    devices: anonymous(devices),
    subscribe: { topic: 'gh/v1/dev/+/event' },
    stop: () => stopChild(child),
  };
}

export async function bareAedes(devices: number): Promise<Target> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/bare-aedes.ts')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = collect(child);
  const port = await waitFor(() => /PORT (\d+)/.exec(out())?.[1], { timeoutMs: 20_000, what: 'bare aedes' });
  return {
    name: 'bare Aedes 1.2',
    pid: child.pid as number,
    url: `mqtt://127.0.0.1:${port}`,
    devices: anonymous(devices),
    subscribe: { topic: 'gh/v1/dev/+/event' },
    stop: () => stopChild(child),
  };
}

/** The whole hub in its own process: auth, ACL, validation, dedupe, rules, time-series sink. */
export async function hub(devices: number): Promise<Target> {
  const dataDir = tempDir('gridhub-bench-hub-');
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'hub/src/main.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      GRIDHUB_DATA_DIR: dataDir,
      GRIDHUB_HTTP_HOST: '127.0.0.1',
      GRIDHUB_HTTP_PORT: '0',
      GRIDHUB_MQTT_HOST: '127.0.0.1',
      GRIDHUB_MQTT_PORT: '0',
      GRIDHUB_LOG_LEVEL: 'warn',
      GRIDHUB_AUTH_BOOTSTRAP_ADMIN_TOKEN: ADMIN,
      // the benchmark measures the pipeline, not the per-device rate limit
      GRIDHUB_MQTT_RATE_PER_SECOND: '1000000',
      GRIDHUB_MQTT_RATE_BURST: '1000000',
      GRIDHUB_MQTT_MAX_QUEUED_MESSAGES: '1000000',
    },
  });
  const out = collect(child);
  const http = await waitFor(() => /API and console\s+(http:\/\/[^/\s]+)/.exec(out())?.[1], {
    timeoutMs: 30_000,
    what: 'hub',
  });
  const mqttPort = /MQTT\s+mqtt:\/\/[^:]+:(\d+)/.exec(out())?.[1];
  const call = async (method: string, path: string, body?: string, type = 'application/json') => {
    const res = await fetch(`${http}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': type }) },
      body,
    });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<unknown>;
  };
  await call(
    'POST',
    '/api/v1/grid/import',
    readFileSync(join(ROOT, 'hub/examples/community.yaml'), 'utf8'),
    'application/yaml',
  );
  const csv = [
    'id,model,site',
    ...Array.from({ length: devices }, (_, i) => `bench-${i},generic-nb-smoke,site-b${1 + (i % 3)}`),
  ].join('\n');
  const reg = (await call('POST', '/api/v1/devices/import', csv, 'text/csv')) as {
    registered: { id: string; secret: string }[];
  };
  return {
    name: 'gridhub (full pipeline)',
    http,
    pid: child.pid as number,
    api: call,
    url: `mqtt://127.0.0.1:${mqttPort}`,
    devices: reg.registered,
    subscribe: { topic: 'gh/v1/hub/event/#', options: { username: 'admin', password: ADMIN } },
    stop: () => stopChild(child),
  };
}
