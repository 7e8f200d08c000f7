/**
 * Issue 14 item 10: `npm run demo` as a newcomer runs it (no host settings) listens on 127.0.0.1
 * only — HTTP and MQTT, read from the kernel's socket table — and prints an admin token made for
 * this run: it works (positive control), the demo's former fixed token does not, and the next run's
 * token replaces it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDirs } from '../helpers/test-hub.ts';
import { testStoreEnv } from '../helpers/test-store.ts';
import { waitFor } from '../helpers/wait.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const OLD_FIXED_TOKEN = 'ghk_demo-admin-token-only-for-the-local-demo-0000000';
const dataDir = tempDirs('gridhub-demo-sec-')();
const running: ChildProcess[] = [];
afterAll(() => {
  // a run the test did not get to stop (it failed midway): end its whole process group
  for (const c of running)
    if (c.exitCode === null && c.signalCode === null)
      try {
        process.kill(-(c.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
});

/** Local addresses of listening TCP sockets on a port (IPv4 and IPv6), from /proc/net/tcp*. */
function listeners(port: number): string[] {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((cols) => cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A')
      .map((cols) => (cols[1] as string).split(':')[0] as string),
  );
}

async function demo(): Promise<{ api: string; mqttPort: number; token: string; stop: () => Promise<void> }> {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('GRIDHUB_')) delete env[k];
  const child = spawn('npm', ['run', 'demo'], {
    cwd: ROOT,
    env: {
      ...env,
      GRIDHUB_DATA_DIR: dataDir,
      ...(await testStoreEnv(dataDir)),
      GRIDHUB_HTTP_PORT: '0',
      GRIDHUB_MQTT_PORT: '0',
      GRIDHUB_NODE_RED_ENABLED: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  running.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await waitFor(() => /admin token\s+\S+/.test(out), {
    timeoutMs: 60_000,
    what: `the demo banner in:\n${out}`,
  });
  const api = /API\s+(http:\/\/\S+)\/api\/v1/.exec(out)?.[1] as string;
  const mqttPort = Number(/MQTT\s+mqtt:\/\/[^:]+:(\d+)/.exec(out)?.[1]);
  const token = /admin token\s+(\S+)/.exec(out)?.[1] as string;
  return {
    api,
    mqttPort,
    token,
    stop: async () => {
      process.kill(-(child.pid as number), 'SIGINT');
      await exited;
    },
  };
}

const me = (api: string, token: string) =>
  fetch(`${api}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);

describe('npm run demo', () => {
  it('listens on 127.0.0.1 only and prints a token made for this run', { timeout: 120_000 }, async () => {
    const first = await demo();
    const httpPort = Number(new URL(first.api).port);
    expect(new URL(first.api).hostname).toBe('127.0.0.1');
    // 0100007F is 127.0.0.1 in /proc/net/tcp; 00000000 would be every interface.
    expect(listeners(httpPort)).toEqual(['0100007F']);
    expect(listeners(first.mqttPort)).toEqual(['0100007F']);
    expect(first.token).toMatch(/^ghk_[A-Za-z0-9_-]{40,}$/);
    expect(await me(first.api, first.token)).toBe(200);
    expect(await me(first.api, OLD_FIXED_TOKEN)).toBe(401);
    await first.stop();

    // The next run on the same data gets a new token; the old one stops working.
    const second = await demo();
    expect(second.token).not.toBe(first.token);
    expect(await me(second.api, second.token)).toBe(200);
    expect(await me(second.api, first.token)).toBe(401);
    await second.stop();
  });
});
