import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { ADMIN_TOKEN, ApiClient } from './start-hub.ts';
import { testStoreEnv } from './test-store.ts';
import { waitFor } from './wait.ts';

/** A port that was free a moment ago (the OS picks it: listen on port 0, then release it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A free port below the kernel's ephemeral range (32768–60999 by default), for ports a hub keeps
 * across restarts: while the hub is down, an outgoing connection (to PostgreSQL, a webhook …) may
 * be given a port from the ephemeral range, and the restart then fails with EADDRINUSE.
 */
export async function keptPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** Config as environment variables (GRIDHUB_…), the way an operator's service file sets them. */
export type HubEnv = Record<string, string>;

/**
 * The hub as its own process (`node --import tsx hub/src/main.ts`), for tests whose point is to
 * kill it: SIGKILL leaves no chance to flush anything. Ports are chosen once and kept across
 * restarts, so devices reconnect to the same address as they would to a real machine.
 */
export class HubProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  output = '';
  httpPort = 0;
  mqttPort = 0;

  constructor(
    readonly dataDir: string,
    private readonly env: HubEnv = {},
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get api(): ApiClient {
    return new ApiClient(this.url, ADMIN_TOKEN);
  }

  async start(): Promise<void> {
    if (!this.httpPort) {
      this.httpPort = await keptPort();
      this.mqttPort = await keptPort();
    }
    // the `pg` project: this data directory's own PostgreSQL database, kept across restarts
    const store = this.env.GRIDHUB_STORE_URL === undefined ? await testStoreEnv(this.dataDir) : {};
    // GRIDHUB_TEST_NODE_ARGS: extra node flags for the hub process (e.g. --cpu-prof when profiling)
    const nodeArgs = process.env.GRIDHUB_TEST_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    const child = spawn(
      process.execPath,
      [...nodeArgs, '--import', 'tsx', 'hub/src/main.ts', '--no-node-red'],
      {
        cwd: new URL('../../..', import.meta.url).pathname,
        env: {
          ...process.env,
          GRIDHUB_DATA_DIR: this.dataDir,
          GRIDHUB_HTTP_HOST: '127.0.0.1',
          GRIDHUB_HTTP_PORT: String(this.httpPort),
          GRIDHUB_MQTT_HOST: '127.0.0.1',
          GRIDHUB_MQTT_PORT: String(this.mqttPort),
          GRIDHUB_AUTH_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN,
          GRIDHUB_LOG_LEVEL: process.env.GRIDHUB_TEST_LOG ?? 'error',
          ...store,
          ...this.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-200_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`hub exited (${child.exitCode}):\n${this.output}`);
        const res = await fetch(`${this.url}/ready`).catch(() => undefined);
        return res?.status === 200;
      },
      { timeoutMs: 60_000, intervalMs: 50, what: 'hub process ready' },
    );
  }

  /** SIGKILL: no shutdown hook runs, nothing is flushed. */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  async stop(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGTERM');
    const code = await this.exited;
    this.child = undefined;
    if (code !== 0) throw new Error(`hub did not stop cleanly (${code}):\n${this.output}`);
  }

  async metrics(): Promise<string> {
    return (
      await fetch(`${this.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).text();
  }
}
