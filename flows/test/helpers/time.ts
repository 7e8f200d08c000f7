/** The most recent hh:00 in Asia/Shanghai (UTC+8, no daylight saving), as epoch ms: night or day events. */
export function lastShanghai(hour: number): number {
  const d = new Date();
  let at = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), (hour - 8 + 24) % 24);
  while (at > Date.now()) at -= 86_400_000;
  return at;
}
