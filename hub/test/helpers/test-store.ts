/**
 * Which store a test hub uses. The `pg` vitest project sets GRIDHUB_TEST_STORE=postgres and its
 * global setup starts one throw-away cluster (GRIDHUB_TEST_PG_URL); each hub then gets a database
 * of its own on it, named after its data directory, so a hub restarted on the same directory (a
 * restart or SIGKILL test) finds its data again, and parallel files never share one. Free of
 * vitest: the benchmark imports it too.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

export function onPostgres(): boolean {
  return process.env.GRIDHUB_TEST_STORE === 'postgres';
}

function cluster(): string {
  const url = process.env.GRIDHUB_TEST_PG_URL;
  if (!url)
    throw new Error(
      'GRIDHUB_TEST_STORE=postgres needs GRIDHUB_TEST_PG_URL (hub/test/global-setup-postgres.ts)',
    );
  return url;
}

function databaseOf(dataDir: string): string {
  return `gh_${createHash('sha256').update(dataDir).digest('hex').slice(0, 20)}`;
}

async function admin<T>(f: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: cluster() });
  await client.connect();
  try {
    return await f(client);
  } finally {
    await client.end();
  }
}

/** The store URL for a hub on `dataDir`: '' (SQLite) unless the tests run on PostgreSQL. */
export async function testStoreUrl(dataDir: string): Promise<string> {
  return onPostgres() ? postgresStoreUrl(dataDir) : '';
}

/** A PostgreSQL database for `dataDir` on the test cluster (created the first time). */
export async function postgresStoreUrl(dataDir: string): Promise<string> {
  const name = databaseOf(dataDir);
  await admin(async (c) => {
    try {
      await c.query(`CREATE DATABASE ${name}`);
    } catch (err) {
      if ((err as { code?: string }).code !== '42P04') throw err; // 42P04: exists (a restart)
    }
  });
  const url = new URL(cluster());
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drop the database of `dataDir`, when the tests run on PostgreSQL (its hub must be stopped). */
export async function dropTestStore(dataDir: string): Promise<void> {
  if (!onPostgres()) return;
  await dropPostgresStore(dataDir);
}

/** Drop the database postgresStoreUrl(dataDir) made (a cluster's, whatever the project). */
export async function dropPostgresStore(dataDir: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${databaseOf(dataDir)} WITH (FORCE)`));
}

/** Environment for a hub process on `dataDir` (GRIDHUB_STORE_URL on PostgreSQL, nothing on SQLite). */
export async function testStoreEnv(dataDir: string): Promise<Record<string, string>> {
  const url = await testStoreUrl(dataDir);
  return url ? { GRIDHUB_STORE_URL: url } : {};
}
