/**
 * Epoch milliseconds as an ISO-8601 string for API views. A stored value no Date can hold (a device
 * clock of 9e15 ms before ingest clamped such values) reads as null rather than failing the route.
 */
export function isoTime(ms: number | null | undefined): string | null {
  if (ms == null) return null;
  const d = new Date(ms);
  return Number.isFinite(d.getTime()) ? d.toISOString() : null;
}

/** A stored time that is never null, as ISO-8601 text for API views and CSV files. */
export function isoText(ms: number): string {
  return isoTime(ms) ?? new Date(0).toISOString();
}
