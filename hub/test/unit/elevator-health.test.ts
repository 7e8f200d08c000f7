import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import {
  elevatorHealth,
  faultsComponent,
  gradeOf,
  scoreOf,
  weightedOf,
} from '../../src/timeseries/elevator-health.ts';
import { LocalSeriesStore } from '../../src/timeseries/local-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'gridhub-health-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const H = 3_600_000;

describe('elevator health', () => {
  it('matches hand-computed availability, MTBF, MTTR, fault counts, score and grade', async () => {
    const store = LocalSeriesStore.in(dir, loadConfig({ env: {} }).series, createLogger('silent'));
    await store.open();
    const day = Date.UTC(2026, 10, 20);
    // Counters over the day: 250 trips, 500 door cycles, 6 running hours; levelling error up to 8 mm.
    for (let m = 0; m < 1440; m += 10) {
      const f = m / 1440;
      store.add('el-1', day + m * 60_000, {
        runCount: 1000 + Math.round(250 * f),
        doorCycles: 5000 + Math.round(500 * f),
        runningHours: 100 + 6 * f,
        levelingErrorMm: m === 600 ? -8 : 2,
      });
    }
    store.add('el-1', day + 1439 * 60_000, { runCount: 1250, doorCycles: 5500, runningHours: 106 });
    // Scripted faults: entrapment 02:00–02:30, a door fault at 10:00 (no downtime), overrun at 20:00–21:00.
    store.addEvent('el-1', day + 2 * H, 'fault', '11');
    store.addEvent('el-1', day + 2.5 * H, 'fault.clear', '11');
    store.addEvent('el-1', day + 10 * H, 'fault', '02');
    store.addEvent('el-1', day + 20 * H, 'fault', '09');
    store.addEvent('el-1', day + 21 * H, 'fault.clear', '09');
    const h = await elevatorHealth(store, 'el-1', day, day + 24 * H);
    expect(h).toMatchObject({
      trips: 250,
      doorCycles: 500,
      runningHours: 6,
      faults: 3,
      faultsByCode: { '11': 1, '02': 1, '09': 1 },
      downtimeMinutes: 90, // 30 + 60
      availability: 0.9375, // 1 − 90 / 1440
      mtbfHours: 7.5, // (1440 − 90) min / 3 faults = 450 min
      mttrMinutes: 45, // 90 min / 2 repaired
      levelingErrorMm: { maxAbs: 8 },
      // faults: 100 − 15 (11, critical) − 15 (09, critical) − 1 (02, minor, 1 a day) = 69
      components: { availability: 93.8, faults: 69, leveling: 85 },
      // 0.5 × 93.8 + 0.3 × 69 + 0.2 × 85 = 46.9 + 20.7 + 17
      weighted: 84.6,
    });
    // floored at the worst component: min(84.6, 93.8, 69, 85)
    expect(h.score).toBe(69);
    expect(h.grade).toBe('H3');
    store.addEvent('el-1', day + 23 * H, 'fault', '04'); // not cleared by the end of the day
    expect((await elevatorHealth(store, 'el-1', day, day + 24 * H)).downtimeMinutes).toBe(150);
    await store.flush();
  });

  it('takes an elevator out of H1 for one critical fault in the window, and barely moves it for a door fault', async () => {
    const store = LocalSeriesStore.in(dir, loadConfig({ env: {} }).series, createLogger('silent'));
    await store.open();
    const week = Date.UTC(2026, 10, 1);
    const critical = ['09', '10', '11', '05', 'overspeed', 'door_open_running'];
    for (const code of critical) {
      const id = `el-${code}`;
      // one fault on day 3, cleared 15 minutes later, in a 7-day window
      store.addEvent(id, week + 50 * H, 'fault', code);
      store.addEvent(id, week + 50.25 * H, 'fault.clear', code);
      const h = await elevatorHealth(store, id, week, week + 7 * 24 * H);
      // availability 1 − 15 / 10 080 min = 99.85 % → 99.9; faults 100 − 15 = 85 (counts whole in any window)
      expect(h.components).toEqual({ availability: 99.9, faults: 85, leveling: 100 });
      expect(h.score).toBe(85);
      expect(h.grade).toBe('H2');
    }
    // A door-close fault (02, minor) in one day: 1 point a day.
    store.addEvent('el-door', week + 8 * H, 'fault', '02');
    const door = await elevatorHealth(store, 'el-door', week, week + 24 * H);
    // 0.5 × 100 + 0.3 × 99 + 0.2 × 100 = 99.7, floored at 99
    expect(door).toMatchObject({
      components: { availability: 100, faults: 99, leveling: 100 },
      weighted: 99.7,
    });
    expect(door.score).toBe(99);
    expect(door.grade).toBe('H1');
    // The same door fault over the 7-day window is a seventh of a point: 99.86 → 99.9.
    expect((await elevatorHealth(store, 'el-door', week, week + 7 * 24 * H)).components.faults).toBe(99.9);
    // Major faults (06, motor run-time limiter) are a rate too: 5 points each a day.
    store.addEvent('el-major', week + 8 * H, 'fault', '06');
    store.addEvent('el-major', week + 9 * H, 'fault.clear', '06');
    expect((await elevatorHealth(store, 'el-major', week, week + 24 * H)).components.faults).toBe(95);
    await store.flush();
  });

  it('never lets good components hide a failing one', async () => {
    // weighted 0.5 × 100 + 0.3 × 100 + 0.2 × 10 = 82, floored at the worst component
    expect(scoreOf({ availability: 100, faults: 100, leveling: 10 })).toBe(10);
    expect(scoreOf({ availability: 95, faults: 92, leveling: 98 })).toBe(92);
    expect(weightedOf({ availability: 95, faults: 92, leveling: 98 })).toBe(94.7);
    expect(faultsComponent({ '11': 7 }, 30)).toBe(0);
    expect(gradeOf(90)).toBe('H1');
    expect(gradeOf(89.9)).toBe('H2');
    expect(gradeOf(60)).toBe('H3');
    expect(gradeOf(59.9)).toBe('H4');
  });
});
