/**
 * Setup of the `cluster` project (issue 19): Debian's `redis-server` is installed when missing.
 * Each cluster test file starts its own throw-away server (helpers/redis-server.ts), because Redis
 * pub/sub is server-wide and parallel files must not hear each other's broker traffic. PostgreSQL
 * comes from global-setup-postgres.ts (one cluster for the run, a database per test cluster).
 */
import { ensureRedisServer } from './helpers/redis-server.ts';

export default async function setup(): Promise<void> {
  await ensureRedisServer();
}
