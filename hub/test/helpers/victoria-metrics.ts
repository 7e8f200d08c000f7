import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { waitFor } from './wait.ts';

/** The TCP port a process listens on, read from /proc (VictoriaMetrics does not print the port it got). */
function listeningPort(pid: number): number | undefined {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1] as string);
    } catch {
      // fd closed meanwhile
    }
  }
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    // local_address is col 1 (hex ip:port), st is col 3 (0A = LISTEN), inode is col 9
    if (cols[3] === '0A' && inodes.has(cols[9] ?? ''))
      return Number.parseInt((cols[1] ?? '').split(':')[1] ?? '', 16);
  }
  return undefined;
}

export interface ExportedSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

/**
 * A real VictoriaMetrics (Debian package `victoria-metrics`), which accepts the InfluxDB v2 write API.
 * Listens on port 0 the first time; `restart()` comes back on the same port after `kill()`.
 */
export class VictoriaMetrics {
  private child: ChildProcess | undefined;
  port = 0;

  constructor(private readonly dataDir: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'victoria-metrics',
      [
        `-storageDataPath=${this.dataDir}`,
        `-httpListenAddr=127.0.0.1:${this.port}`,
        '-retentionPeriod=100y',
        '-loggerLevel=ERROR',
      ],
      {
        stdio: 'ignore',
      },
    );
    this.child = child;
    const pid = child.pid as number;
    this.port = await waitFor(() => listeningPort(pid), {
      timeoutMs: 15_000,
      what: 'VictoriaMetrics listening',
    });
    await waitFor(async () => (await fetch(`${this.url}/health`).catch(() => undefined))?.ok, {
      timeoutMs: 15_000,
      what: 'VictoriaMetrics healthy',
    });
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // SIGTERM: VictoriaMetrics loses its last seconds of data on SIGKILL, which is not what these tests probe.
    child.kill('SIGTERM');
    await exited;
  }

  restart(): Promise<void> {
    return this.start();
  }

  /** Every series matching the selector, after making recent writes searchable. */
  async export(selector: string): Promise<ExportedSeries[]> {
    await fetch(`${this.url}/internal/force_flush`);
    const res = await fetch(`${this.url}/api/v1/export`, {
      method: 'POST',
      body: new URLSearchParams({ 'match[]': selector }),
    });
    const text = await res.text();
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ExportedSeries);
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}
