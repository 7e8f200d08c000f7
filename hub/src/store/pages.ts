import { type Kysely, sql } from 'kysely';
import type { Database } from './tables.ts';

/**
 * How long one page or range of a large read may take (its query and what the caller does with its
 * rows): better-sqlite3 runs each query synchronously, so this is how long the event loop is held.
 * Sizes adapt to it from the last page's time, so a slow or busy machine reads smaller pages.
 */
export const STEP_MS = 8;
const MIN_ROWS = 100;
const MAX_ROWS = 20_000;

/** The next size, from how long the last `size` took. */
function adapt(size: number, ms: number): number {
  const next = ms > 0 ? Math.round((size * STEP_MS) / ms) : size * 2;
  return Math.max(MIN_ROWS, Math.min(MAX_ROWS, next, size * 2));
}

/** `rowid` for keyset paging of a single table (every table of the store has one). */
export const rowid = sql<number>`rowid`;

/**
 * Read a whole table (or a filtered part of it) a page at a time, yielding between pages, with no
 * connection held between them: one query over 100,000 rows blocks the event loop for its whole
 * length. `page(after, limit)` returns up to `limit` rows after the cursor (`undefined` first), in
 * cursor order; `cursor(row)` is a row's position (its rowid, or a unique key it is ordered by).
 */
export async function eachPage<R, K>(
  page: (after: K | undefined, limit: number) => Promise<R[]>,
  cursor: (row: R) => K,
  each: (rows: R[]) => void | Promise<void>,
  slice: () => Promise<void>,
  firstLimit = 250,
): Promise<void> {
  let after: K | undefined;
  for (let limit = firstLimit; ; ) {
    const started = performance.now();
    const rows = await page(after, limit);
    if (rows.length > 0) await each(rows);
    if (rows.length < limit) return;
    after = cursor(rows[rows.length - 1] as R);
    limit = adapt(limit, performance.now() - started);
    await slice();
  }
}

/** eachPage in rowid order: `page(after, limit)` returns rows with `rid` (the rowid) above `after`. */
export function eachRowidPage<R extends { rid: number }>(
  page: (after: number, limit: number) => Promise<R[]>,
  each: (rows: R[]) => void | Promise<void>,
  slice: () => Promise<void>,
): Promise<void> {
  return eachPage<R, number>(
    (after, limit) => page(after ?? 0, limit),
    (r) => r.rid,
    each,
    slice,
  );
}

/** The largest rowid of a table (SQLite answers it from the end of the b-tree, in no time). */
export async function maxRowid(db: Kysely<Database>, table: keyof Database): Promise<number> {
  const r = await db.selectFrom(table).select(sql<number | null>`max(rowid)`.as('m')).executeTakeFirst();
  return Number(r?.m ?? 0);
}

/**
 * Run an aggregate over a large table one rowid range at a time (`lo <= rowid < hi`), yielding
 * between ranges; the caller sums the partial results. One GROUP BY over 200,000 rows is one
 * synchronous call of seconds; a range is sized to take about STEP_MS.
 */
export async function eachRange(
  max: number,
  f: (lo: number, hi: number) => Promise<void>,
  slice: () => Promise<void>,
  firstSize = 250,
): Promise<void> {
  for (let lo = 1, size = firstSize; lo <= max; ) {
    const started = performance.now();
    await f(lo, lo + size);
    lo += size;
    size = adapt(size, performance.now() - started);
    await slice();
  }
}
