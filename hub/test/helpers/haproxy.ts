/**
 * A real HAProxy (Debian's `haproxy`, installed when missing) in front of test hub nodes, running
 * the deployment's own deploy/haproxy.cfg: only the listen addresses and the server lines are
 * rewritten to loopback ports, and a stats page is added so a test can wait for a node to be
 * marked down or up. What ships is what the cluster tests run. Free of vitest: the bench uses it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keptPort } from './hub-process.ts';
import { ensureDebianPackages } from './system-packages.ts';
import { waitFor } from './wait.ts';

export const HAPROXY_PACKAGE = { command: 'haproxy', pkg: 'haproxy' };

const SHIPPED = new URL('../../../deploy/haproxy.cfg', import.meta.url).pathname;

/** One hub node as the balancer sees it: its MQTT and HTTP ports on loopback. */
export interface Backend {
  name: string;
  mqttPort: number;
  httpPort: number;
}

/**
 * deploy/haproxy.cfg with loopback addresses: `bind :1883` / `bind :8080` become the given ports,
 * each backend's `server` lines become one per node (keeping the shipped line's options, such as
 * `check port 8080`, with the port mapped), `maxconn` fits a test machine's open-files limit, and
 * a CSV stats page is appended.
 */
export function testConfig(
  shipped: string,
  ports: { mqtt: number; http: number; stats: number },
  nodes: Backend[],
): string {
  const out: string[] = [];
  let backend: 'mqtt' | 'http' | undefined;
  let serversWritten = false;
  for (const line of shipped.split('\n')) {
    // the shipped connection limit is for a server's file limit, not a test machine's
    const maxconn = /^(\s*)maxconn \d+\s*$/.exec(line);
    if (maxconn) {
      out.push(`${maxconn[1]}maxconn 4000`);
      continue;
    }
    const bind = /^(\s*)bind :(1883|8080)\s*$/.exec(line);
    if (bind) {
      out.push(`${bind[1]}bind 127.0.0.1:${bind[2] === '1883' ? ports.mqtt : ports.http}`);
      continue;
    }
    const section = /^(backend|frontend|listen|defaults|global|resolvers)\s+(\S+)?/.exec(line);
    if (section) {
      backend = section[1] === 'backend' ? (section[2]?.endsWith('_mqtt') ? 'mqtt' : 'http') : undefined;
      serversWritten = false;
    }
    const server = /^(\s*)server \S+ \S+:(1883|8080)(.*)$/.exec(line);
    if (server && backend) {
      if (!serversWritten)
        for (const n of nodes) {
          const port = backend === 'mqtt' ? n.mqttPort : n.httpPort;
          const options = (server[3] ?? '').replace(/\bport 8080\b/, `port ${n.httpPort}`);
          out.push(`${server[1]}server ${n.name} 127.0.0.1:${port}${options}`);
        }
      serversWritten = true;
      continue;
    }
    out.push(line);
  }
  out.push(
    '',
    '# added by the tests: server states as CSV',
    'listen stats',
    '    mode http',
    `    bind 127.0.0.1:${ports.stats}`,
    '    timeout client 10s',
    '    timeout server 10s',
    '    stats enable',
    '    stats uri /stats',
    '',
  );
  return out.join('\n');
}

export class TestHaproxy {
  readonly dir: string;
  mqttPort = 0;
  httpPort = 0;
  statsPort = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<never> = new Promise(() => {});
  output = '';

  constructor(private readonly nodes: Backend[]) {
    this.dir = mkdtempSync(join(tmpdir(), 'gridhub-haproxy-'));
  }

  get mqttUrl(): string {
    return `mqtt://127.0.0.1:${this.mqttPort}`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  async start(): Promise<void> {
    await ensureDebianPackages([HAPROXY_PACKAGE]);
    this.mqttPort = await keptPort();
    this.httpPort = await keptPort();
    this.statsPort = await keptPort();
    const file = join(this.dir, 'haproxy.cfg');
    writeFileSync(
      file,
      testConfig(
        readFileSync(SHIPPED, 'utf8'),
        { mqtt: this.mqttPort, http: this.httpPort, stats: this.statsPort },
        this.nodes,
      ),
    );
    // -db: foreground, no daemon, so a test's end (or its crash) ends it with the child
    const child = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`haproxy exited (${code}):\n${this.output}`))),
    );
    this.exited.catch(() => undefined);
    await this.waitUp(this.nodes.map((n) => n.name));
  }

  /** Each node's state in both backends, from HAProxy's stats CSV (`UP`, `DOWN`, `UP 1/2` …). */
  async states(): Promise<Map<string, string[]>> {
    if (this.child?.exitCode !== null && this.child?.exitCode !== undefined)
      throw new Error(`haproxy exited (${this.child.exitCode}):\n${this.output}`);
    const csv = await (await fetch(`http://127.0.0.1:${this.statsPort}/stats;csv`)).text();
    const [head, ...rows] = csv.replace(/^# /, '').trim().split('\n');
    const cols = (head ?? '').split(',');
    const [px, sv, st] = ['pxname', 'svname', 'status'].map((c) => cols.indexOf(c)) as [
      number,
      number,
      number,
    ];
    const out = new Map<string, string[]>();
    for (const row of rows) {
      const f = row.split(',');
      if (!f[px]?.startsWith('hubs_')) continue;
      const name = f[sv] as string;
      if (name === 'FRONTEND' || name === 'BACKEND') continue;
      out.set(name, [...(out.get(name) ?? []), f[st] as string]);
    }
    return out;
  }

  /** Wait until HAProxy sends traffic to these nodes in both backends (their checks passed). */
  async waitUp(names: string[], timeoutMs = 30_000): Promise<void> {
    await this.watched(
      async () => {
        const s = await this.states();
        return names.every((n) => s.get(n)?.length === 2 && s.get(n)?.every((x) => x === 'UP'));
      },
      { timeoutMs, intervalMs: 100, what: `haproxy: ${names.join(', ')} up` },
    );
  }

  /** Wait until HAProxy has taken this node out of both backends. */
  async waitDown(name: string, timeoutMs = 15_000): Promise<void> {
    await this.watched(async () => (await this.states()).get(name)?.every((x) => x.startsWith('DOWN')), {
      timeoutMs,
      intervalMs: 100,
      what: `haproxy: ${name} down`,
    });
  }

  /** waitFor, failing at once when HAProxy exits meanwhile. */
  private watched<T>(check: () => Promise<T>, o: Parameters<typeof waitFor>[1]): Promise<NonNullable<T>> {
    return Promise.race([waitFor(check, o), this.exited]);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
