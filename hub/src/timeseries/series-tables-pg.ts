import { type Kysely, type RawBuilder, sql } from 'kysely';
import { withoutStoreLock } from '../store/postgres.ts';
import type { Bucket } from './series-buckets.ts';
import type {
  ClosedBucket,
  EventRow,
  RawRow,
  SeriesBatch,
  SeriesTable,
  SeriesTables,
} from './series-tables.ts';

/** Rows per INSERT (PostgreSQL takes at most 65,535 parameters in one statement). */
const CHUNK = 1000;

/**
 * The local series tables in the main PostgreSQL database (`series_raw`, `series_m1`, `series_h1`,
 * `series_events`, `series_meta`), created here as the SQLite file creates its own: they are this
 * store's, not the hub's schema, and keep SQLite's keys. One flush is one transaction of multi-row
 * upserts; rows with the same key are merged first (PostgreSQL refuses to update one row twice in
 * one statement).
 */
export class PostgresSeriesTables implements SeriesTables {
  readonly kind = 'postgres';

  constructor(
    private readonly db: () => Kysely<unknown>,
    /**
     * Whose journal the stored position is (several nodes share these tables, each with its own
     * journal): `series_meta` keeps one `journalSeq:<id>` per journal (issue 19).
     */
    private readonly journalId: () => string,
  ) {}

  private key: string | undefined;

  private get seqKey(): string {
    this.key ??= `journalSeq:${this.journalId()}`;
    return this.key;
  }

  async open(): Promise<number> {
    // In one store transaction (it holds the store's lock): nodes starting at once would
    // otherwise race on CREATE TABLE IF NOT EXISTS (a duplicate pg_type row).
    return this.db()
      .transaction()
      .execute((trx) => this.create(trx));
  }

  private async create(db: Kysely<unknown>): Promise<number> {
    for (const table of ['series_m1', 'series_h1'])
      await sql`CREATE TABLE IF NOT EXISTS ${sql.table(table)} (device TEXT NOT NULL, field TEXT NOT NULL,
        bucket BIGINT NOT NULL, n BIGINT NOT NULL, sum DOUBLE PRECISION NOT NULL, min DOUBLE PRECISION NOT NULL,
        max DOUBLE PRECISION NOT NULL, last DOUBLE PRECISION NOT NULL, PRIMARY KEY (device, field, bucket))`.execute(
        db,
      );
    await sql`CREATE TABLE IF NOT EXISTS series_raw (device TEXT NOT NULL, field TEXT NOT NULL, ts BIGINT NOT NULL,
      value DOUBLE PRECISION NOT NULL, PRIMARY KEY (device, field, ts))`.execute(db);
    await sql`CREATE TABLE IF NOT EXISTS series_events (device TEXT NOT NULL, ts BIGINT NOT NULL, type TEXT NOT NULL,
      code TEXT, event_id TEXT)`.execute(db);
    await sql`CREATE UNIQUE INDEX IF NOT EXISTS series_events_device_event ON series_events (device, event_id)
      WHERE event_id IS NOT NULL`.execute(db);
    await sql`CREATE INDEX IF NOT EXISTS series_events_device_ts ON series_events (device, ts)`.execute(db);
    await sql`CREATE TABLE IF NOT EXISTS series_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`.execute(db);
    const r = await sql<{ value: string }>`SELECT value FROM series_meta WHERE key = ${this.seqKey}`.execute(
      db,
    );
    if (r.rows[0]) return Number(r.rows[0].value);
    // Before issue 19 the one position had no journal in its key: the first node to open after the
    // upgrade (the single node that wrote it) takes it over, so nothing is read back twice.
    const legacy = await sql<{
      value: string;
    }>`DELETE FROM series_meta WHERE key = 'journalSeq' RETURNING value`.execute(db);
    return Number(legacy.rows[0]?.value ?? 0);
  }

  async write({ raw, events, buckets, seq }: SeriesBatch): Promise<void> {
    const rawRows = [...new Map(raw.map((r) => [`${r[0]}\u0000${r[1]}\u0000${r[2]}`, r])).values()];
    const merged = mergeBuckets(buckets);
    // Without the store's lock: upserts of this node's own rows and its own journal key, nothing
    // read then written, and the lock is what every node's alerts wait for (store/postgres.ts).
    await withoutStoreLock(this.db()).execute(async (trx) => {
      for (const part of chunks(rawRows))
        await sql`INSERT INTO series_raw (device, field, ts, value) VALUES ${values(part, rawValues)}
            ON CONFLICT (device, field, ts) DO UPDATE SET value = excluded.value`.execute(trx);
      for (const part of chunks(events))
        await sql`INSERT INTO series_events (device, ts, type, code, event_id) VALUES ${values(part, eventValues)}
            ON CONFLICT DO NOTHING`.execute(trx);
      for (const table of ['m1', 'h1'] as const) {
        const target = sql.table(`series_${table}`);
        for (const part of chunks(merged.filter((b) => b[0] === table)))
          await sql`INSERT INTO ${target} (device, field, bucket, n, sum, min, max, last) VALUES ${values(part, bucketValues)}
              ON CONFLICT (device, field, bucket) DO UPDATE SET n = ${target}.n + excluded.n,
                sum = ${target}.sum + excluded.sum, min = least(${target}.min, excluded.min),
                max = greatest(${target}.max, excluded.max), last = excluded.last`.execute(trx);
      }
      await sql`INSERT INTO series_meta (key, value) VALUES (${this.seqKey}, ${String(seq)})
          ON CONFLICT (key) DO UPDATE SET value = excluded.value`.execute(trx);
    });
  }

  async events(device: string, from: number, to: number) {
    const r = await sql<{
      ts: number;
      type: string;
      code: string | null;
    }>`SELECT ts, type, code FROM series_events
      WHERE device = ${device} AND ts >= ${from} AND ts < ${to} ORDER BY ts`.execute(this.db());
    return r.rows;
  }

  async raw(device: string, field: string, from: number, to: number) {
    const r = await sql<{ ts: number; value: number }>`SELECT ts, value FROM series_raw
      WHERE device = ${device} AND field = ${field} AND ts >= ${from} AND ts < ${to} ORDER BY ts`.execute(
      this.db(),
    );
    return r.rows;
  }

  async grouped(table: 'm1' | 'h1', step: number, device: string, field: string, from: number, to: number) {
    const r = await sql<{ b: number; n: number; sum: number; min: number; max: number }>`
      SELECT (bucket / ${step}::bigint) * ${step}::bigint AS b, sum(n) AS n, sum(sum) AS sum, min(min) AS min,
        max(max) AS max FROM ${sql.table(`series_${table}`)}
       WHERE device = ${device} AND field = ${field} AND bucket >= ${from} AND bucket < ${to}
       GROUP BY 1 ORDER BY 1`.execute(this.db());
    return r.rows;
  }

  async latest(device: string, field: string) {
    const r = await sql<{ value: number }>`SELECT last AS value FROM series_h1 WHERE device = ${device}
      AND field = ${field} ORDER BY bucket DESC LIMIT 1`.execute(this.db());
    return r.rows[0]?.value;
  }

  async lastPerBucket(device: string, field: string, from: number, to: number) {
    const r = await sql<{ bucket: number; last: number; min: number; n: number }>`SELECT bucket, last, min, n
      FROM series_m1 WHERE device = ${device} AND field = ${field} AND bucket >= ${from} AND bucket < ${to}
      ORDER BY bucket`.execute(this.db());
    return r.rows;
  }

  async devices(table: SeriesTable) {
    const r = await sql<{
      device: string;
    }>`SELECT DISTINCT device FROM ${sql.table(`series_${table}`)}`.execute(this.db());
    return r.rows.map((x) => x.device);
  }

  async prune(table: SeriesTable, column: 'ts' | 'bucket', device: string, before: number) {
    await sql`DELETE FROM ${sql.table(`series_${table}`)} WHERE device = ${device} AND ${sql.ref(column)} < ${before}`.execute(
      this.db(),
    );
  }

  async bytes() {
    const r = await sql<{
      n: number;
    }>`SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS n FROM pg_class c
      WHERE c.relkind = 'r' AND c.relname LIKE 'series\\_%'`.execute(this.db());
    return Number(r.rows[0]?.n ?? 0);
  }

  async close() {}
}

function* chunks<T>(rows: T[]): Generator<T[]> {
  for (let i = 0; i < rows.length; i += CHUNK) yield rows.slice(i, i + CHUNK);
}

function values<T>(rows: T[], one: (row: T) => RawBuilder<unknown>): RawBuilder<unknown> {
  return sql.join(rows.map(one));
}

const rawValues = ([device, field, ts, value]: RawRow) =>
  sql`(${device}, ${field}, ${ts}::bigint, ${value}::double precision)`;
const eventValues = ([device, ts, type, code, eventId]: EventRow) =>
  sql`(${device}, ${ts}::bigint, ${type}, ${code}::text, ${eventId}::text)`;
const bucketValues = ([, device, field, bucket, b]: ClosedBucket) =>
  sql`(${device}, ${field}, ${bucket}::bigint, ${b.n}::bigint, ${b.sum}::double precision,
    ${b.min}::double precision, ${b.max}::double precision, ${b.last}::double precision)`;

/** Deltas for one key added up in order (the later one's last value wins), as the upsert would. */
function mergeBuckets(buckets: ClosedBucket[]): ClosedBucket[] {
  const out = new Map<string, ClosedBucket>();
  for (const [table, device, field, bucket, b] of buckets) {
    const key = `${table}\u0000${device}\u0000${field}\u0000${bucket}`;
    const seen = out.get(key);
    if (!seen) {
      out.set(key, [table, device, field, bucket, { ...b }]);
      continue;
    }
    const m: Bucket = seen[4];
    m.n += b.n;
    m.sum += b.sum;
    m.min = Math.min(m.min, b.min);
    m.max = Math.max(m.max, b.max);
    m.last = b.last;
  }
  return [...out.values()];
}
