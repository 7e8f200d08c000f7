/**
 * A half-configured cluster node does not half-start (issue 19): cluster.redisUrl without a
 * PostgreSQL store stops with GH_ERR_CLUSTER_NEEDS_POSTGRES, an unreachable Redis with
 * GH_ERR_CLUSTER_REDIS_UNAVAILABLE naming the URL without its password; nothing is left listening.
 * Positive control: the same config with a reachable Redis starts, and /ready shows its Redis
 * (check names and messages for admins only, as for every check) and /metrics labels the node.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { Hub } from '../../src/hub.ts';
import { createLogger } from '../../src/logger.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { freePort } from '../helpers/hub-process.ts';
import { ADMIN_TOKEN, tempDir } from '../helpers/test-hub.ts';

describe('a cluster node refuses to half-start', () => {
  const cluster = new TestCluster();
  beforeAll(() => cluster.start());
  afterAll(() => cluster.cleanup());

  async function attempt(
    overrides: Record<string, unknown>,
  ): Promise<{ code?: string; message: string; httpPort: number }> {
    const httpPort = await freePort();
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: tempDir(),
        'log.level': 'silent',
        'http.host': '127.0.0.1',
        'http.port': httpPort,
        'mqtt.host': '127.0.0.1',
        'mqtt.port': 0,
        'nodeRed.enabled': false,
        'auth.bootstrapAdminToken': ADMIN_TOKEN,
        ...overrides,
      },
    });
    const hub = new Hub(config, createLogger('silent'));
    try {
      await hub.start();
      await hub.stop();
      return { message: 'started', httpPort };
    } catch (err) {
      return { code: (err as { code?: string }).code, message: (err as Error).message, httpPort };
    }
  }

  /** Nothing listens on the port the refused hub was given. */
  const portFree = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });

  it('refuses cluster.redisUrl on the SQLite store', async () => {
    const r = await attempt({ 'store.url': '', 'cluster.redisUrl': cluster.redis.url });
    expect(r.code).toBe('GH_ERR_CLUSTER_NEEDS_POSTGRES');
    expect(await portFree(r.httpPort)).toBe(true);
  });

  it('refuses an unreachable Redis, naming it without its password', async () => {
    const dead = await freePort();
    const r = await attempt({
      'store.url': cluster.storeUrl,
      'cluster.redisUrl': `redis://:s3cret-pw@127.0.0.1:${dead}`,
    });
    expect(r.code).toBe('GH_ERR_CLUSTER_REDIS_UNAVAILABLE');
    expect(r.message).toContain(`127.0.0.1:${dead}`);
    expect(r.message).not.toContain('s3cret-pw');
    expect(await portFree(r.httpPort)).toBe(true);
  });

  it('starts with a reachable Redis and shows it in /ready (names for admins only)', async () => {
    const node = await cluster.addNode('node-ready');
    const anonymous = (await (await fetch(`${node.url}/ready`)).json()) as {
      checks: Record<string, boolean>;
    };
    expect(anonymous.checks.redis).toBe(true);
    expect(anonymous.checks.store).toBe(true);
    // every series of /metrics carries the node's name
    const metrics = await (
      await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).text();
    const series = metrics.split('\n').filter((l) => l.startsWith('gridhub_'));
    expect(series.length).toBeGreaterThan(0);
    expect(series.filter((l) => !l.includes('node="node-ready"'))).toEqual([]);
    // Redis goes away: the node stays up, /ready says which check and, to an admin, where
    await cluster.redis.stop();
    const down = async (auth: boolean) =>
      fetch(`${node.url}/ready`, auth ? { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } } : {});
    const { waitFor } = await import('../helpers/wait.ts');
    const res = await waitFor(
      async () => {
        const r = await down(true);
        return r.status === 503 ? r : undefined;
      },
      { what: '/ready without Redis' },
    );
    const body = (await res.json()) as {
      checks: Record<string, boolean>;
      problems: { check: string; code: string; message?: string }[];
    };
    expect(body.checks.redis).toBe(false);
    expect(body.problems).toContainEqual(
      expect.objectContaining({ check: 'redis', code: 'GH_ERR_CLUSTER_REDIS_UNAVAILABLE' }),
    );
    expect(body.problems.find((p) => p.check === 'redis')?.message).toContain('127.0.0.1');
    const plain = (await (await down(false)).json()) as { problems: { message?: string }[] };
    expect(plain.problems.every((p) => p.message === undefined)).toBe(true);
  });
});
