import { type Kysely, sql } from 'kysely';
import type { Database } from './tables.ts';

/** Rows per page: a few milliseconds of SQLite work, so a page never holds the event loop long. */
export const PAGE_ROWS = 2000;

/** `rowid` for keyset paging of a single table (every table of the store has one). */
export const rowid = sql<number>`rowid`;

/**
 * Read a whole table (or a filtered part of it) a page at a time, in rowid order, yielding between
 * pages. better-sqlite3 runs each query synchronously, so one query over 100,000 rows blocks the
 * event loop for its whole length; pages of PAGE_ROWS keep each block short, and no connection is
 * held between them. `page(after, limit)` returns rows with `rid` (the rowid) above `after`.
 */
export async function eachPage<R extends { rid: number }>(
  page: (after: number, limit: number) => Promise<R[]>,
  each: (rows: R[]) => void | Promise<void>,
  slice: () => Promise<void>,
  limit = PAGE_ROWS,
): Promise<void> {
  let after = 0;
  for (;;) {
    const rows = await page(after, limit);
    if (rows.length > 0) await each(rows);
    if (rows.length < limit) return;
    after = (rows[rows.length - 1] as R).rid;
    await slice();
  }
}

/** Rows per range of an aggregate read: the SQL groups one range at a time. */
export const RANGE_ROWS = 10_000;

/** The largest rowid of a table (SQLite answers it from the end of the b-tree, in no time). */
export async function maxRowid(db: Kysely<Database>, table: keyof Database): Promise<number> {
  const r = await db.selectFrom(table).select(sql<number | null>`max(rowid)`.as('m')).executeTakeFirst();
  return Number(r?.m ?? 0);
}

/**
 * Run an aggregate over a large table one rowid range at a time (`lo <= rowid < hi`), yielding
 * between ranges: the caller sums the partial results. One GROUP BY over 200,000 rows is one
 * synchronous call of a few hundred milliseconds; ranges of RANGE_ROWS are a few milliseconds each.
 */
export async function eachRange(
  max: number,
  f: (lo: number, hi: number) => Promise<void>,
  slice: () => Promise<void>,
  size = RANGE_ROWS,
): Promise<void> {
  for (let lo = 1; lo <= max; lo += size) {
    await f(lo, lo + size);
    await slice();
  }
}
