/**
 * Proves over MQTT that elevator health follows the published scoring (weighted components, the total
 * floored at the worst component): one critical fault in the window (09 冲顶, 15 minutes out of
 * service) takes an elevator out of H1, while a minor door fault (02) barely moves its neighbour;
 * the values match the hand computation, and the ranking puts the faulty elevator first.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, type Registered, registerDevice, topic } from '../helpers/devices.ts';
import { startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const H = 3_600_000;

interface Health {
  deviceId: string;
  faults: number;
  components: { availability: number; faults: number; leveling: number };
  weighted: number;
  score: number;
  grade: string;
}

describe('elevator health grade', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub({ overrides: { 'series.flushMs': 50 } });
    await loadExample(t.api);
  });
  afterAll(async () => t.cleanup());

  async function faults(el: Registered, list: [number, 'fault' | 'fault.clear', string][]) {
    const c = await connectDevice(t, el);
    for (const [i, [at, type, code]] of list.entries())
      await c.publishAsync(
        topic(el.id, 'event'),
        JSON.stringify({ eventId: `${el.id}-${i}`, type, code, ts: at }),
        { qos: 1 },
      );
    await c.endAsync();
  }

  it('one critical fault leaves H1; a minor door fault barely moves the score', async () => {
    const day = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000; // yesterday, 00:00 UTC
    const overran = await registerDevice(t.api, 'gbt24476-elevator', 'site-b1');
    const door = await registerDevice(t.api, 'gbt24476-elevator', 'site-b2');
    await faults(overran, [
      [day + 10 * H, 'fault', '09'],
      [day + 10.25 * H, 'fault.clear', '09'],
    ]);
    await faults(door, [[day + 8 * H, 'fault', '02']]);

    const q = `from=${new Date(day).toISOString()}&to=${new Date(day + 24 * H).toISOString()}`;
    const list = await waitFor(
      async () => {
        const all = (await t.api.get<Health[]>(`/api/v1/elevators/health?${q}`)).body;
        const mine = all.filter((h) => h.deviceId === overran.id || h.deviceId === door.id);
        return mine.length === 2 && mine.every((h) => h.faults === 1) ? mine : undefined;
      },
      { what: 'both elevators’ faults in the local store' },
    );
    // Worst first.
    expect(list.map((h) => h.deviceId)).toEqual([overran.id, door.id]);
    expect(list[0]).toMatchObject({
      // availability 1 − 15 / 1440 min = 98.96 % → 99; faults 100 − 15 (one critical, counted whole)
      components: { availability: 99, faults: 85, leveling: 100 },
      weighted: 95, // 0.5 × 99 + 0.3 × 85 + 0.2 × 100 = 49.5 + 25.5 + 20
      score: 85, // floored at the worst component
      grade: 'H2',
    });
    expect(list[1]).toMatchObject({
      // a minor fault costs 1 point a day
      components: { availability: 100, faults: 99, leveling: 100 },
      weighted: 99.7,
      score: 99,
      grade: 'H1',
    });
  });
});
