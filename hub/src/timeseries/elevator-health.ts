import { ELEVATOR_CODE_LIST, elevatorFaultSeverity } from '../contract/elevator-codes.ts';
import type { Severity } from '../contract/severity.ts';
import type { LocalSeriesStore } from './local-store.ts';

/** Fault codes that take an elevator out of service until cleared (GB/T 24476; DOMAIN.md). */
export const OUT_OF_SERVICE: ReadonlySet<string> = new Set(
  ELEVATOR_CODE_LIST.filter((c) => c.stopsCar).map((c) => c.code),
);

export interface ElevatorHealth {
  deviceId: string;
  from: string;
  to: string;
  trips: number | null;
  doorCycles: number | null;
  runningHours: number | null;
  faults: number;
  faultsByCode: Record<string, number>;
  downtimeMinutes: number;
  availability: number;
  mtbfHours: number | null;
  mttrMinutes: number | null;
  levelingErrorMm: { mean: number; maxAbs: number } | null;
  components: { availability: number; faults: number; leveling: number };
  /** the weighted average of the components (50 / 30 / 20 %); orders elevators of equal score */
  weighted: number;
  /** the weighted average floored at the worst component: never above the weakest part */
  score: number;
  grade: 'H1' | 'H2' | 'H3' | 'H4';
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export function gradeOf(score: number): ElevatorHealth['grade'] {
  return score >= 90 ? 'H1' : score >= 75 ? 'H2' : score >= 60 ? 'H3' : 'H4';
}

const WEIGHTS = { availability: 0.5, faults: 0.3, leveling: 0.2 } as const;

/**
 * Points one fault takes off the faults component, by the code's severity (DOMAIN.md table). A
 * critical fault (09 冲顶, 10 蹲底, 11 困人, 05 开门走梯, overspeed, door open while running) is a
 * safety event: it counts whole in any window, and one is enough to leave H1 (100 − 15 < 90). Major
 * and minor faults are a reliability rate: they count per day, so a door fault a day barely moves it.
 */
export const FAULT_POINTS: Record<Severity, { points: number; perDay: boolean }> = {
  critical: { points: 15, perDay: false },
  major: { points: 5, perDay: true },
  minor: { points: 1, perDay: true },
  warning: { points: 1, perDay: true },
};

/** The faults component: 100 minus the points of the faults in the window (not below 0). */
export function faultsComponent(faultsByCode: Record<string, number>, days: number): number {
  let lost = 0;
  for (const [code, n] of Object.entries(faultsByCode)) {
    const weight = FAULT_POINTS[elevatorFaultSeverity(code) ?? 'minor'];
    lost += (weight.points * n) / (weight.perDay ? days : 1);
  }
  return round(Math.max(0, 100 - lost), 1);
}

export function weightedOf(c: { availability: number; faults: number; leveling: number }): number {
  return round(
    WEIGHTS.availability * c.availability + WEIGHTS.faults * c.faults + WEIGHTS.leveling * c.leveling,
    1,
  );
}

/**
 * The published scoring (DOMAIN.md): weighted components with the total floored at the worst
 * component. The total never stands above the weakest part, so good availability cannot average
 * away an overrun or a bad levelling; the weighted average is kept beside it (see decisions.md).
 */
export function scoreOf(c: { availability: number; faults: number; leveling: number }): number {
  return Math.min(weightedOf(c), c.availability, c.faults, c.leveling);
}

/**
 * Health of one elevator over a period, from the local store: counter deltas (trips, door cycles,
 * running hours), fault events (counts by code; downtime from each out-of-service fault to its clear,
 * or to the end of the period), availability, MTBF and MTTR, and levelling-error statistics.
 */
export async function elevatorHealth(
  store: LocalSeriesStore,
  deviceId: string,
  from: number,
  to: number,
): Promise<ElevatorHealth> {
  const delta = async (field: string) => {
    const rows = await store.lastPerBucket(deviceId, field, from, to);
    if (rows.length === 0) return null;
    const first = Math.min(...rows.map((r) => r.min));
    const last = rows[rows.length - 1]?.last as number;
    return round(last - first);
  };
  const events = await store.events(deviceId, from, to);
  const faultsByCode: Record<string, number> = {};
  let downtime = 0;
  let repairedDowntime = 0;
  let repaired = 0;
  const open = new Map<string, number>();
  for (const e of events) {
    const code = e.code ?? 'unknown';
    if (e.type === 'fault') {
      faultsByCode[code] = (faultsByCode[code] ?? 0) + 1;
      if (OUT_OF_SERVICE.has(code) && !open.has(code)) open.set(code, e.ts);
    } else if (e.type === 'fault.clear' && open.has(code)) {
      downtime += e.ts - (open.get(code) as number);
      repairedDowntime += e.ts - (open.get(code) as number);
      open.delete(code);
      repaired++;
    }
  }
  for (const since of open.values()) downtime += to - since;
  const faults = Object.values(faultsByCode).reduce((a, b) => a + b, 0);
  const period = to - from;
  const availability = period > 0 ? Math.max(0, 1 - downtime / period) : 1;
  const leveling = await store.lastPerBucket(deviceId, 'levelingErrorMm', from, to);
  const levelRows = await store.query(deviceId, 'levelingErrorMm', from, to, 3_600_000, to);
  const levelingErrorMm = leveling.length
    ? {
        mean: round(
          levelRows.reduce((a, r) => a + r.value * (r.n ?? 1), 0) /
            levelRows.reduce((a, r) => a + (r.n ?? 1), 0),
        ),
        maxAbs: round(
          Math.max(...levelRows.map((r) => Math.max(Math.abs(r.min ?? r.value), Math.abs(r.max ?? r.value)))),
        ),
      }
    : null;
  // A window shorter than a day counts as a day, so one door fault in an hour's window stays minor.
  const days = Math.max(period / 86_400_000, 1);
  const components = {
    availability: round(availability * 100, 1),
    faults: faultsComponent(faultsByCode, days),
    leveling: levelingErrorMm
      ? round(Math.max(0, 100 - Math.max(0, levelingErrorMm.maxAbs - 5) * 5), 1)
      : 100,
  };
  const score = scoreOf(components);
  return {
    deviceId,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    trips: await delta('runCount'),
    doorCycles: await delta('doorCycles'),
    runningHours: await delta('runningHours'),
    faults,
    faultsByCode,
    downtimeMinutes: round(downtime / 60_000),
    availability: round(availability, 4),
    mtbfHours: faults > 0 ? round((period - downtime) / faults / 3_600_000) : null,
    mttrMinutes: repaired > 0 ? round(repairedDowntime / repaired / 60_000) : null,
    levelingErrorMm,
    components,
    weighted: weightedOf(components),
    score,
    grade: gradeOf(score),
  };
}
