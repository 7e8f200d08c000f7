/**
 * The brokers the benchmark compares, each in its own process: Mosquitto (Debian), bare Aedes with no
 * hooks, and the hub (hub-process.ts). All are reached only as a client would reach them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { LoadDevice } from '../device-sim/src/raw-mqtt.ts';
import { tempDir } from '../hub/test/helpers/start-hub.ts';
import { waitFor } from '../hub/test/helpers/wait.ts';

export interface Broker {
  name: string;
  /** mqtt://127.0.0.1:port */
  url: string;
  /** the broker's process, for /proc */
  pid: number;
  /** why the process ended before `stop()` (a crash under load), or null while it runs */
  died(): string | null;
  stop(): Promise<void>;
}

/**
 * Watch a broker's process: `died()` says how it ended if it ended before `stop()`, with the first
 * error line of its output (e.g. "RangeError: Maximum call stack size exceeded").
 */
export function watch(
  name: string,
  child: ChildProcess,
  out: () => string,
): { died(): string | null; stopping(): void } {
  let stopping = false;
  let reason: string | null = null;
  child.once('exit', (code, signal) => {
    if (stopping) return;
    const error = out()
      .split('\n')
      .find((l) => /^\w*Error\b|^FATAL|out of memory/i.test(l.trim()));
    reason = `exited with ${code ?? signal}${error ? `: ${error.trim()}` : ''}`;
    process.stderr.write(`bench: ${name} ${reason}\n${out().slice(-3000)}\n`);
  });
  return {
    died: () => reason,
    stopping: () => {
      stopping = true;
    },
  };
}

export const ROOT = new URL('../', import.meta.url).pathname;

/** The last 64 KB of a child's output, for the error when it dies. */
export function collect(child: ChildProcess): () => string {
  let out = '';
  const add = (d: Buffer) => {
    out = (out + d.toString()).slice(-65_536);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => out;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Devices without credentials, for the bare brokers (which accept anyone). */
export const anonymous = (n: number, prefix = 'bench'): LoadDevice[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}` }));

export async function mosquitto(): Promise<Broker> {
  // mosquitto cannot listen on port 0 and report it; a port just freed is as close as it gets.
  const port = await freePort();
  const conf = join(tempDir('gridhub-bench-mq-'), 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'max_queued_messages 1000000',
      // TCP_NODELAY on every client socket, as the hub does (mosquitto's default is off)
      'set_tcp_nodelay true',
      '',
    ].join('\n'),
  );
  const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collect(child);
  await waitFor(() => /listen socket on port/.test(out()) || child.exitCode !== null, {
    timeoutMs: 10_000,
    what: 'mosquitto',
  });
  if (child.exitCode !== null) throw new Error(`mosquitto exited: ${out()}`);
  const w = watch('Mosquitto', child, out);
  return {
    name: 'Mosquitto',
    pid: child.pid as number,
    url: `mqtt://127.0.0.1:${port}`,
    died: w.died,
    stop: () => {
      w.stopping();
      return stopChild(child);
    },
  };
}

export interface BareAedes extends Broker {
  /** the client publishes it has taken so far */
  published(): Promise<number>;
}

export async function bareAedes(): Promise<BareAedes> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/bare-aedes.ts')], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out = collect(child);
  const port = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`bare Aedes exited: ${out()}`);
      return /PORT (\d+)/.exec(out())?.[1];
    },
    { timeoutMs: 30_000, what: 'bare aedes' },
  );
  const w = watch('bare Aedes', child, out);
  // answers to `published()`: one PUBLISHED line per line written to its stdin
  let answers = 0;
  let last = 0;
  let partial = '';
  child.stdout?.on('data', (d: Buffer) => {
    partial += d.toString();
    for (let i = partial.indexOf('\n'); i >= 0; i = partial.indexOf('\n')) {
      const m = /^PUBLISHED (\d+)$/.exec(partial.slice(0, i));
      partial = partial.slice(i + 1);
      if (m) {
        answers++;
        last = Number(m[1]);
      }
    }
  });
  return {
    name: 'bare Aedes',
    pid: child.pid as number,
    url: `mqtt://127.0.0.1:${port}`,
    died: w.died,
    published: async () => {
      const want = answers + 1;
      child.stdin?.write('\n');
      await waitFor(() => answers >= want, { timeoutMs: 10_000, intervalMs: 5, what: 'bare Aedes count' });
      return last;
    },
    stop: () => {
      w.stopping();
      return stopChild(child);
    },
  };
}
