/**
 * Exactly one Node-RED acts for the cluster (issue 19): the holder of the `node-red` lease in the
 * shared store runs it (cluster/leadership.ts, wired to the Node-RED supervisor in hub.ts). Three
 * contenders on three store connections to one PostgreSQL database, sampled every 10 ms: never
 * two leaders; when the leader loses its store (as a dead node does) it stops leading at its next
 * renewal and another leads once the lease ran out (bound: ttl + ttl/3); a clean stop hands over
 * at once. Outside cluster mode a node simply leads.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Leadership } from '../../src/cluster/leadership.ts';
import { createLogger } from '../../src/logger.ts';
import { Store } from '../../src/store/store.ts';
import { tempDirs } from '../helpers/test-hub.ts';
import { dropTestStore, postgresStoreUrl } from '../helpers/test-store.ts';
import { waitFor } from '../helpers/wait.ts';

const newDir = tempDirs('gridhub-leader-');
const TTL = 900;
const log = createLogger('silent');
const dir = newDir();

afterAll(async () => {
  await dropTestStore(dir);
});

describe('one Node-RED for the cluster', () => {
  it('has at most one leader at any time and replaces a dead one within the lease', async () => {
    const url = await postgresStoreUrl(dir);
    const running = new Set<number>();
    let most = 0;
    const stores: Store[] = [];
    const leaders: Leadership[] = [];
    for (let i = 0; i < 3; i++) {
      const store = new Store(newDir(), log, url);
      await store.start();
      stores.push(store);
      leaders.push(
        new Leadership(
          store,
          `node-${i}`,
          true,
          { name: 'node-red', ttlMs: TTL },
          log,
          () => {
            running.add(i);
          },
          async () => {
            running.delete(i);
          },
        ),
      );
    }
    const sampler = setInterval(() => {
      most = Math.max(most, running.size);
    }, 10);
    try {
      await Promise.all(leaders.map((l) => l.start()));
      await waitFor(() => running.size === 1, { what: 'one leader' });
      const first = [...running][0] as number;
      // Watch several renewals: the leader keeps it, nobody else starts.
      const until = Date.now() + TTL * 2;
      await waitFor(() => Date.now() >= until, { what: 'renewals' });
      expect([...running]).toEqual([first]);

      // The leader's node dies: its store is gone, its renewals fail.
      await stores[first]?.stop();
      const diedAt = Date.now();
      await waitFor(() => running.size === 1 && !running.has(first), {
        timeoutMs: TTL * 3,
        what: 'another node leading',
      });
      const takeover = Date.now() - diedAt;
      expect(takeover).toBeLessThan(TTL + TTL / 3 + 500);
      const second = [...running][0] as number;

      // A clean stop releases the lease: the last one leads within a renewal tick.
      const stoppedAt = Date.now();
      await leaders[second]?.stop();
      const third = [0, 1, 2].find((i) => i !== first && i !== second) as number;
      await waitFor(() => running.has(third), { timeoutMs: TTL * 2, what: 'the last node leading' });
      expect(Date.now() - stoppedAt).toBeLessThan(TTL / 3 + 500);
      expect(most).toBe(1);
    } finally {
      clearInterval(sampler);
      for (const l of leaders) await l.stop().catch(() => undefined);
      for (const s of stores) await s.stop().catch(() => undefined);
    }
  });

  it('leads at once outside cluster mode (one node, nothing to share)', async () => {
    let started = 0;
    const single = new Leadership(
      new Store(newDir(), log),
      'only',
      false,
      { name: 'node-red', ttlMs: TTL },
      log,
      () => {
        started++;
      },
      async () => {
        started--;
      },
    );
    await single.start();
    expect(started).toBe(1);
    expect(single.isLeader).toBe(true);
    await single.stop();
    expect(started).toBe(0);
  });
});
