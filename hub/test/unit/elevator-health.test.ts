import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import { elevatorHealth, gradeOf, scoreOf } from '../../src/timeseries/elevator-health.ts';
import { LocalSeriesStore } from '../../src/timeseries/local-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'gridhub-health-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const H = 3_600_000;

describe('elevator health', () => {
  it('matches hand-computed availability, MTBF, MTTR, fault counts, score and grade', () => {
    const store = LocalSeriesStore.in(dir, loadConfig({ env: {} }).series, createLogger('silent'));
    store.open();
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
    const h = elevatorHealth(store, 'el-1', day, day + 24 * H);
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
      components: { availability: 93.8, faults: 70, leveling: 85 },
    });
    // 0.5 × 93.8 + 0.3 × 70 + 0.2 × 85 = 84.9, within 20 of the worst component (70)
    expect(h.score).toBe(84.9);
    expect(h.grade).toBe('H2');
    store.addEvent('el-1', day + 23 * H, 'fault', '04'); // not cleared by the end of the day
    expect(elevatorHealth(store, 'el-1', day, day + 24 * H).downtimeMinutes).toBe(150);
    store.flush();
  });

  it('never lets good components hide a failing one', () => {
    expect(scoreOf({ availability: 100, faults: 100, leveling: 10 })).toBe(30);
    expect(gradeOf(90)).toBe('H1');
    expect(gradeOf(89.9)).toBe('H2');
    expect(gradeOf(60)).toBe('H3');
    expect(gradeOf(59.9)).toBe('H4');
  });
});
