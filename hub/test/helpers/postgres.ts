import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './hub-process.ts';
import { ensureDebianPackages } from './system-packages.ts';

/** A Debian PostgreSQL binary of the newest installed major version, if a server is installed. */
export function findPgBin(name: string): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const bin = join(root, v, 'bin', name);
    if (existsSync(bin)) return bin;
  }
  return undefined;
}

function pgBin(name: string): string {
  const bin = findPgBin(name);
  if (!bin)
    throw new Error(`PostgreSQL's ${name} not found under /usr/lib/postgresql (Debian package postgresql)`);
  return bin;
}

/** PostgreSQL refuses to run as root: run its tools as the `postgres` user when we are root. */
function asPostgres(cmd: string, args: string[]): void {
  const root = process.getuid?.() === 0;
  const [file, argv] = root ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const r = spawnSync(file, argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
}

/**
 * A throw-away PostgreSQL cluster for tests: `initdb` in a temp directory, started on a free
 * loopback port with its socket in that directory, stopped and removed by `stop()`. Trust
 * authentication on loopback only; fsync off unless asked (the tests kill hubs, not the database;
 * the benchmark compares stores and wants PostgreSQL's commits as durable as SQLite's).
 */
export class TestPostgres {
  readonly dir: string;
  port = 0;

  constructor(private readonly fsync = false) {
    this.dir = mkdtempSync(join(tmpdir(), 'gridhub-pg-'));
  }

  get url(): string {
    return `postgres://gridhub@127.0.0.1:${this.port}/postgres`;
  }

  /** The URL of a database of this cluster. */
  urlOf(database: string): string {
    return `postgres://gridhub@127.0.0.1:${this.port}/${database}`;
  }

  /** A new, empty database of this cluster; its URL. */
  async createDatabase(database: string): Promise<string> {
    const client = new pg.Client({ connectionString: this.url });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
    } finally {
      await client.end();
    }
    return this.urlOf(database);
  }

  async start(): Promise<void> {
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', this.dir]);
    const data = join(this.dir, 'data');
    asPostgres(pgBin('initdb'), ['-D', data, '-U', 'gridhub', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
    this.port = await freePort();
    asPostgres(pgBin('pg_ctl'), [
      '-D',
      data,
      '-l',
      join(this.dir, 'server.log'),
      '-w',
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=${this.fsync ? 'on' : 'off'} -c max_connections=300`,
      'start',
    ]);
  }

  async stop(): Promise<void> {
    try {
      asPostgres(pgBin('pg_ctl'), ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/**
 * Install Debian's `postgresql` when no server is installed, then start a throw-away cluster: what
 * the `pg` test project (global-setup-postgres.ts) and the benchmark's PostgreSQL row both need.
 * The caller stops it.
 */
export async function startThrowawayPostgres(options: { fsync?: boolean } = {}): Promise<TestPostgres> {
  await ensureDebianPackages([
    { command: 'initdb', pkg: 'postgresql', present: () => findPgBin('initdb') !== undefined },
  ]);
  const cluster = new TestPostgres(options.fsync);
  await cluster.start();
  return cluster;
}
