import { configDefaults, defineConfig } from 'vitest/config';

// Unit tests open no socket and run in parallel; integration tests start real servers (the hub,
// mosquitto clients, VictoriaMetrics, Chromium) and get longer time limits; the security suite
// plays attacks against real hubs; `pg` runs every file that starts a hub again with the store on
// PostgreSQL (issue 18).
const HUB_LEVEL = [
  'hub/test/integration/**/*.test.ts',
  'device-sim/test/integration/**/*.test.ts',
  'flows/test/integration/**/*.test.ts',
  'dashboards/test/**/*.test.ts',
  'hub/test/routes/**/*.test.ts',
  'hub/test/bad-day/**/*.test.ts',
  'hub/test/security/**/*.test.ts',
];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'hub/test/unit/**/*.test.ts',
            'device-sim/test/unit/**/*.test.ts',
            'flows/test/unit/**/*.test.ts',
          ],
          environment: 'node',
        },
      },
      {
        test: {
          // Route-level checks through fastify's inject(): validation, error codes and authorisation
          // per route, against a hub started without sockets (issue 17).
          name: 'routes',
          include: ['hub/test/routes/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: [
            'hub/test/integration/**/*.test.ts',
            'device-sim/test/integration/**/*.test.ts',
            'flows/test/integration/**/*.test.ts',
            'dashboards/test/**/*.test.ts',
          ],
          environment: 'node',
          globalSetup: ['hub/test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Each integration file starts its own hub on port 0 in a temp directory.
        },
      },
      {
        test: {
          // The bad day (issue 13): SIGKILL under load, a full disk, an outage, a flood. Each file
          // starts real hubs (child processes where a kill is the point) and counts every message.
          name: 'bad-day',
          include: ['hub/test/bad-day/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['hub/test/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // Issue 14: each attack against a real hub, a positive control beside each denial, and
          // the OpenAPI walker. One hub per file.
          name: 'security',
          include: ['hub/test/security/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['hub/test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // Cluster mode (issue 19): several hub nodes sharing one PostgreSQL database and one Redis.
          // One PostgreSQL for the run (a database per test cluster); each file starts its own
          // redis-server (helpers/redis-server.ts), as Redis pub/sub is server-wide.
          // Work that must happen once happens once, a node's death loses nothing (cwork's tests run
          // several hub processes on the one database).
          name: 'cluster',
          include: ['hub/test/cluster/**/*.test.ts'],
          environment: 'node',
          env: { GRIDHUB_TEST_STORE: 'postgres' },
          globalSetup: [
            'hub/test/global-setup.ts',
            'hub/test/global-setup-postgres.ts',
            'hub/test/global-setup-redis.ts',
          ],
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // The same files against PostgreSQL: one throw-away cluster for the run, a database per
          // hub (hub/test/global-setup-postgres.ts, hub/test/helpers/test-store.ts).
          name: 'pg',
          include: HUB_LEVEL,
          // Its subject is an alert held in memory because the SQLite store is on the full disk; a
          // PostgreSQL store is not on it, so nothing is held (disk-full.test.ts covers that case on
          // both stores).
          exclude: [...configDefaults.exclude, 'hub/test/bad-day/held-alert-stream.test.ts'],
          environment: 'node',
          env: { GRIDHUB_TEST_STORE: 'postgres' },
          globalSetup: ['hub/test/global-setup.ts', 'hub/test/global-setup-postgres.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
