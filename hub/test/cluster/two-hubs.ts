/**
 * Two hub processes on ONE PostgreSQL database (issue 19), each with its own data directory (its
 * own journal, as a node on its own machine has) and its own broker and HTTP ports: what the
 * database alone must make true across nodes, without the Redis parts of cluster mode.
 */
import pg from 'pg';
import { type HubEnv, HubProcess } from '../helpers/hub-process.ts';
import { dropTestStore, postgresStoreUrl } from '../helpers/test-store.ts';

export interface TwoHubs {
  a: HubProcess;
  b: HubProcess;
  url: string;
  /** rows of a query on the shared database */
  rows<R>(text: string, params?: unknown[]): Promise<R[]>;
  count(text: string, params?: unknown[]): Promise<number>;
  stop(): Promise<void>;
}

/** Config both nodes run with: fast ticks, loopback webhook receivers allowed. */
export const FAST: HubEnv = {
  GRIDHUB_ALERTS_TICK_MS: '25',
  GRIDHUB_TICKETS_SCHEDULER_TICK_MS: '50',
  GRIDHUB_OUTBOUND_ALLOW: '127.0.0.1',
};

/**
 * Start A, run `setup` on it, then start B on A's database (B finds the migrations done, A's admin
 * token, and the policies `setup` set: caches of policies are per node until cluster mode shares
 * them). Each node names itself to PostgreSQL (PGAPPNAME), so a test can tell whose session waits.
 */
export async function twoHubs(
  newDir: () => string,
  env: HubEnv = {},
  setup: (a: HubProcess) => Promise<void> = async () => {},
): Promise<TwoHubs> {
  const dirA = newDir();
  const url = await postgresStoreUrl(dirA);
  const common = { ...FAST, ...env, GRIDHUB_STORE_URL: url };
  const a = new HubProcess(dirA, { ...common, PGAPPNAME: 'gridhub-node-a' });
  const b = new HubProcess(newDir(), { ...common, PGAPPNAME: 'gridhub-node-b' });
  await a.start();
  await setup(a);
  await b.start();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const rows = async <R>(text: string, params: unknown[] = []) =>
    (await client.query(text, params)).rows as R[];
  return {
    a,
    b,
    url,
    rows,
    async count(text, params = []) {
      const [r] = await rows<{ n: string }>(text, params);
      return Number(r?.n ?? 0);
    },
    async stop() {
      await client.end();
      // a node a test killed is simply not running; a running one must stop cleanly
      await Promise.all([a.stop(), b.stop()]);
      await dropTestStore(dirA);
    },
  };
}
