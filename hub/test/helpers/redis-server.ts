/**
 * A throw-away Redis for the cluster tests (issue 19): Debian's `redis-server` on a free loopback
 * port, its working directory a temp dir, no persistence (`--save ''`, no AOF), stopped and removed
 * by `stop()`. Each cluster test file starts its own: Redis pub/sub channels are shared by all
 * logical databases of a server, so two files on one server would hear each other's broker traffic.
 * Free of vitest: the benchmark may import it too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './hub-process.ts';
import { ensureDebianPackages } from './system-packages.ts';

export const REDIS_PACKAGE = { command: 'redis-server', pkg: 'redis-server' };

/** Install Debian's redis-server when it is missing (the cluster project's global setup calls it). */
export async function ensureRedisServer(): Promise<void> {
  await ensureDebianPackages([REDIS_PACKAGE]);
}

/** One PING over a raw socket: true once the server answers +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let got = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('error', () => done(false));
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
    s.once('connect', () => s.write('PING\r\n'));
  });
}

export class TestRedis {
  readonly dir: string;
  port = 0;
  private child: ChildProcess | undefined;
  private log = '';

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'gridhub-redis-'));
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await ensureRedisServer();
    this.port = await freePort();
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--protected-mode',
        'yes',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    const keep = (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      if (await ping(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.stop();
    throw new Error(`redis-server did not start on port ${this.port}:\n${this.log}`);
  }

  /** Stop the server (SIGKILL: nothing in it is worth keeping) and remove its directory. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
