/** One aggregate: count, sum, min, max and the last value. */
export interface Bucket {
  n: number;
  sum: number;
  min: number;
  max: number;
  last: number;
}

/** Per device and field: the last raw value and the open minute and hour buckets. */
export interface FieldState {
  rawTs: number;
  rawValue: number;
  minute: number;
  m: Bucket;
  hour: number;
  h: Bucket;
}

export const empty = (): Bucket => ({
  n: 0,
  sum: 0,
  min: Number.POSITIVE_INFINITY,
  max: Number.NEGATIVE_INFINITY,
  last: 0,
});
export function take(b: Bucket, v: number): void {
  b.n++;
  b.sum += v;
  if (v < b.min) b.min = v;
  if (v > b.max) b.max = v;
  b.last = v;
}
