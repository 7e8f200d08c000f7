/**
 * Setup of the `pg` project (issue 18): the hub-level suites again, with the store on PostgreSQL.
 * Installs Debian's `postgresql` when no server is installed, starts one throw-away cluster for the
 * run (initdb in a temp dir as the postgres user, a free port, fsync off) and stops it at the end.
 * Each hub gets a database of its own on it (helpers/test-store.ts).
 */
import { startThrowawayPostgres } from './helpers/postgres.ts';

export default async function setup(): Promise<() => Promise<void>> {
  const cluster = await startThrowawayPostgres();
  // Read by helpers/test-store.ts in the test workers, which inherit this process's environment.
  process.env.GRIDHUB_TEST_PG_URL = cluster.url;
  return async () => {
    await cluster.stop();
  };
}
