/**
 * Small typed helpers rules compose (STYLE.md §4): windows, dwell, and conditions as data so a rule
 * can OR across different fields and let severity rise with duration.
 */

/** Timestamps within a sliding window, per key. */
export class SlidingWindow<K> {
  private readonly hits = new Map<K, number[]>();

  /** Record a hit and return how many fall within the window ending now. */
  add(key: K, at: number, windowMs: number): number {
    const list = (this.hits.get(key) ?? []).filter((t) => t > at - windowMs);
    list.push(at);
    this.hits.set(key, list);
    return list.length;
  }

  clear(key: K): void {
    this.hits.delete(key);
  }
}

/** Since when a condition has held, per key; `held()` says how long it has been true. */
export class Dwell<K> {
  private readonly since = new Map<K, number>();

  /**
   * Update with whether the condition holds at `at`; returns the ms it has held, or -1 when it does
   * not hold (0 means "just started", which a zero dwell must count).
   */
  update(key: K, holds: boolean, at: number): number {
    if (!holds) {
      this.since.delete(key);
      return -1;
    }
    const start = this.since.get(key) ?? at;
    this.since.set(key, start);
    return at - start;
  }
}

export type Comparison = '>' | '>=' | '<' | '<=' | '==' | '!=';

/** A condition over named numeric or boolean values: a leaf, or any/all of conditions. */
export type Condition =
  | { readonly field: string; readonly op: Comparison; readonly value: number | boolean | string }
  | { readonly any: readonly Condition[] }
  | { readonly all: readonly Condition[] };

export function holds(c: Condition, values: Record<string, unknown>): boolean {
  if ('any' in c) return c.any.some((x) => holds(x, values));
  if ('all' in c) return c.all.every((x) => holds(x, values));
  const v = values[c.field];
  if (v === undefined || v === null) return false;
  switch (c.op) {
    case '>':
      return (v as number) > (c.value as number);
    case '>=':
      return (v as number) >= (c.value as number);
    case '<':
      return (v as number) < (c.value as number);
    case '<=':
      return (v as number) <= (c.value as number);
    case '==':
      return v === c.value;
    case '!=':
      return v !== c.value;
  }
}

/** Severity that rises with how long a condition has lasted: the highest step reached. */
export function severityByDuration<S extends string>(
  heldMs: number,
  steps: { afterMs: number; severity: S }[],
): S | undefined {
  let out: S | undefined;
  for (const step of steps) if (heldMs >= step.afterMs) out = step.severity;
  return out;
}
