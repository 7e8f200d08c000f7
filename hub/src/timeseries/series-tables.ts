import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Bucket } from './series-buckets.ts';
import { migrateEvents } from './series-schema.ts';

export type RawRow = [device: string, field: string, ts: number, value: number];
export type EventRow = [
  device: string,
  ts: number,
  type: string,
  code: string | null,
  eventId: string | null,
];
export type ClosedBucket = [table: 'm1' | 'h1', device: string, field: string, bucket: number, b: Bucket];
export type SeriesTable = 'raw' | 'm1' | 'h1' | 'events';

/** One flush: raw values, events, bucket deltas (merged into what is stored) and the journal position. */
export interface SeriesBatch {
  raw: RawRow[];
  events: EventRow[];
  buckets: ClosedBucket[];
  seq: number;
}

/**
 * Where the local series store keeps its rows: its own SQLite file (the embedded default), or
 * tables in the main PostgreSQL database when `store.url` points there, so a node keeps nothing of
 * its own that the console needs (issue 18). Both keep the same tables with the same keys.
 */
export interface SeriesTables {
  readonly kind: 'sqlite' | 'postgres';
  open(): Promise<number>;
  write(batch: SeriesBatch): Promise<void>;
  events(
    device: string,
    from: number,
    to: number,
  ): Promise<{ ts: number; type: string; code: string | null }[]>;
  raw(device: string, field: string, from: number, to: number): Promise<{ ts: number; value: number }[]>;
  grouped(
    table: 'm1' | 'h1',
    step: number,
    device: string,
    field: string,
    from: number,
    to: number,
  ): Promise<{ b: number; n: number; sum: number; min: number; max: number }[]>;
  latest(device: string, field: string): Promise<number | undefined>;
  lastPerBucket(
    device: string,
    field: string,
    from: number,
    to: number,
  ): Promise<{ bucket: number; last: number; min: number; n: number }[]>;
  devices(table: SeriesTable): Promise<string[]>;
  prune(table: SeriesTable, column: 'ts' | 'bucket', device: string, before: number): Promise<void>;
  bytes(): Promise<number>;
  close(): Promise<void>;
}

/** The embedded series file (data/series.sqlite), synced by the journal's thread. */
export class SqliteSeriesTables implements SeriesTables {
  readonly kind = 'sqlite';
  private db: BetterSqlite3.Database | undefined;

  constructor(private readonly file: string) {}

  private get handle(): BetterSqlite3.Database {
    if (!this.db) throw new Error('series store is not open');
    return this.db;
  }

  async open(): Promise<number> {
    mkdirSync(dirname(this.file), { recursive: true });
    const db = new BetterSqlite3(this.file);
    db.pragma('journal_mode = WAL');
    // NORMAL and no automatic checkpoints: a commit here is a write to the WAL, never an fsync on the
    // event loop (a busy disk made that fsync stall alarms for seconds). The journal's thread
    // checkpoints this file — which syncs it — before it forgets what this store says it has taken.
    db.pragma('synchronous = NORMAL');
    db.pragma('wal_autocheckpoint = 0');
    db.exec(`
      CREATE TABLE IF NOT EXISTS raw (device TEXT NOT NULL, field TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
        PRIMARY KEY (device, field, ts)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS m1 (device TEXT NOT NULL, field TEXT NOT NULL, bucket INTEGER NOT NULL,
        n INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, last REAL NOT NULL,
        PRIMARY KEY (device, field, bucket)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS h1 (device TEXT NOT NULL, field TEXT NOT NULL, bucket INTEGER NOT NULL,
        n INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, last REAL NOT NULL,
        PRIMARY KEY (device, field, bucket)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`);
    migrateEvents(db);
    this.db = db;
    const seq = db.prepare("SELECT value FROM meta WHERE key = 'journalSeq'").get() as
      | { value: string }
      | undefined;
    return Number(seq?.value ?? 0);
  }

  async write({ raw, events, buckets, seq }: SeriesBatch): Promise<void> {
    const db = this.handle;
    // A replayed event (same device and event id) is stored once.
    const insertEvent = db.prepare(
      'INSERT OR IGNORE INTO events (device, ts, type, code, event_id) VALUES (?, ?, ?, ?, ?)',
    );
    const saveSeq = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('journalSeq', ?)");
    const insertRaw = db.prepare('INSERT OR REPLACE INTO raw (device, field, ts, value) VALUES (?, ?, ?, ?)');
    const merge = (table: 'm1' | 'h1') =>
      db.prepare(
        `INSERT INTO ${table} (device, field, bucket, n, sum, min, max, last) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (device, field, bucket) DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum,
           min = min(min, excluded.min), max = max(max, excluded.max), last = excluded.last`,
      );
    const statements = { m1: merge('m1'), h1: merge('h1') };
    db.transaction(() => {
      for (const r of raw) insertRaw.run(...r);
      for (const e of events) insertEvent.run(...e);
      for (const [table, device, field, bucket, b] of buckets)
        statements[table].run(device, field, bucket, b.n, b.sum, b.min, b.max, b.last);
      saveSeq.run(String(seq));
    })();
  }

  async events(device: string, from: number, to: number) {
    return this.handle
      .prepare<[string, number, number], { ts: number; type: string; code: string | null }>(
        'SELECT ts, type, code FROM events WHERE device = ? AND ts >= ? AND ts < ? ORDER BY ts',
      )
      .all(device, from, to);
  }

  async raw(device: string, field: string, from: number, to: number) {
    return this.handle
      .prepare<[string, string, number, number], { ts: number; value: number }>(
        'SELECT ts, value FROM raw WHERE device = ? AND field = ? AND ts >= ? AND ts < ? ORDER BY ts',
      )
      .all(device, field, from, to);
  }

  async grouped(table: 'm1' | 'h1', step: number, device: string, field: string, from: number, to: number) {
    return this.handle
      .prepare<
        [number, number, string, string, number, number],
        { b: number; n: number; sum: number; min: number; max: number }
      >(
        `SELECT (bucket / ?) * ? AS b, sum(n) AS n, sum(sum) AS sum, min(min) AS min, max(max) AS max
           FROM ${table} WHERE device = ? AND field = ? AND bucket >= ? AND bucket < ? GROUP BY b ORDER BY b`,
      )
      .all(step, step, device, field, from, to);
  }

  async latest(device: string, field: string) {
    return this.handle
      .prepare<[string, string], { value: number }>(
        'SELECT last AS value FROM h1 WHERE device = ? AND field = ? ORDER BY bucket DESC LIMIT 1',
      )
      .get(device, field)?.value;
  }

  async lastPerBucket(device: string, field: string, from: number, to: number) {
    return this.handle
      .prepare<[string, string, number, number], { bucket: number; last: number; min: number; n: number }>(
        'SELECT bucket, last, min, n FROM m1 WHERE device = ? AND field = ? AND bucket >= ? AND bucket < ? ORDER BY bucket',
      )
      .all(device, field, from, to);
  }

  async devices(table: SeriesTable) {
    return this.handle.prepare(`SELECT DISTINCT device FROM ${table}`).pluck().all() as string[];
  }

  async prune(table: SeriesTable, column: 'ts' | 'bucket', device: string, before: number) {
    this.handle.prepare(`DELETE FROM ${table} WHERE device = ? AND ${column} < ?`).run(device, before);
  }

  async bytes() {
    const db = this.handle;
    // Measurements only (tests, the bench): a TRUNCATE checkpoint is an fsync on the event loop.
    db.pragma('wal_checkpoint(TRUNCATE)');
    const pages = db.pragma('page_count', { simple: true }) as number;
    const size = db.pragma('page_size', { simple: true }) as number;
    return pages * size;
  }

  async close() {
    this.db?.close();
    this.db = undefined;
  }
}
