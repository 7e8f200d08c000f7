/**
 * A day of a simulated elevator at one reading per second: trips by hour of day (busy mornings and
 * evenings, quiet nights), doors opening at each stop, counters that only grow, levelling noise.
 * Deterministic (seeded), so sizes and figures repeat from run to run.
 */
export function* elevatorDay(
  seed: number,
  dayStart: number,
): Generator<{ at: number; values: Record<string, number | boolean | string> }> {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  let floor = 1;
  let runCount = Math.floor(rand() * 100_000);
  let doorCycles = runCount * 2;
  let runningHours = Math.floor(rand() * 10_000);
  let phase: 'idle' | 'moving' | 'doors' = 'idle';
  let left = 0;
  let target = 1;
  for (let sec = 0; sec < 86_400; sec++) {
    const hour = Math.floor(sec / 3600);
    const busy =
      hour >= 7 && hour < 9 ? 0.08 : hour >= 17 && hour < 20 ? 0.06 : hour >= 23 || hour < 6 ? 0.003 : 0.02;
    if (phase === 'idle' && rand() < busy) {
      target = 1 + Math.floor(rand() * 18);
      if (target !== floor) {
        phase = 'moving';
        left = Math.abs(target - floor) * 2;
        runCount++;
      }
    } else if (phase === 'moving' && --left <= 0) {
      floor = target;
      phase = 'doors';
      left = 6;
      doorCycles++;
    } else if (phase === 'doors' && --left <= 0) phase = 'idle';
    if (phase === 'moving') runningHours += 1 / 3600;
    yield {
      at: dayStart + sec * 1000,
      values: {
        serviceMode: 1,
        moving: phase === 'moving',
        direction: phase === 'moving' ? (target > floor ? 'up' : 'down') : 'none',
        floor,
        doorZone: phase !== 'moving',
        door: phase === 'doors' ? 'open' : 'closed',
        occupied: phase !== 'idle',
        speed: phase === 'moving' ? 1.75 : 0,
        runCount,
        doorCycles,
        runningHours: Math.round(runningHours * 100) / 100,
        levelingErrorMm: phase === 'doors' ? Math.round((rand() * 6 - 3) * 10) / 10 : 0,
      },
    };
  }
}
