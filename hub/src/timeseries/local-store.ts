import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { DeviceTelemetry } from '../contract/device-event.ts';
import type { Logger } from '../logger.ts';
import type { StorageHealth } from '../store/storage-health.ts';
import { type Bucket, empty, type FieldState, take } from './series-buckets.ts';
import { migrateEvents } from './series-schema.ts';

export interface LocalSeriesOptions {
  rawRetentionHours: number;
  minuteRetentionDays: number;
  hourRetentionDays: number;
  /** a raw value is stored when it changes, and at least this often when it does not */
  rawKeepaliveSeconds: number;
  flushMs: number;
}

type ClosedBucket = [table: 'm1' | 'h1', device: string, field: string, bucket: number, b: Bucket];

export interface SeriesPoint {
  t: string;
  value: number;
  min?: number;
  max?: number;
  n?: number;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

/**
 * The embedded time-series store (its own SQLite file under data/), so the console can chart devices
 * with no InfluxDB at all, and never depends on InfluxDB being up. Numeric and boolean readings are
 * kept three ways: raw (only when a value changes, or once per keep-alive, for the recent window),
 * per-minute and per-hour aggregates (count, sum, min, max, last). Aggregates are accumulated in
 * memory and written once per flush, so a reading costs no disk write of its own.
 */
export class LocalSeriesStore {
  private db: BetterSqlite3.Database | undefined;
  private rawPending: [string, string, number, number][] = [];
  private eventsPending: [string, number, string, string | null, string | null][] = [];
  /** journal position of the newest message taken, and of the newest one on disk */
  private takenSeq = 0;
  private storedSeq = 0;
  /** per device, per field: last stored raw value and the open minute and hour buckets */
  private readonly state = new Map<string, Map<string, FieldState>>();
  private closed: ClosedBucket[] = [];
  private unwritten: {
    raw: [string, string, number, number][];
    events: [string, number, string, string | null, string | null][];
    buckets: ClosedBucket[];
  } = { raw: [], events: [], buckets: [] };
  private flushTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string,
    private readonly options: LocalSeriesOptions,
    private readonly logger: Logger,
  ) {}

  static in(dataDir: string, options: LocalSeriesOptions, logger: Logger): LocalSeriesStore {
    return new LocalSeriesStore(join(dataDir, 'series.sqlite'), options, logger);
  }

  private get handle(): BetterSqlite3.Database {
    if (!this.db) throw new Error('series store is not open');
    return this.db;
  }

  open(): void {
    mkdirSync(join(this.file, '..'), { recursive: true });
    const db = new BetterSqlite3(this.file);
    db.pragma('journal_mode = WAL');
    // FULL: the journal forgets what this store says it has taken, so that must survive a power cut.
    db.pragma('synchronous = FULL');
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
    this.storedSeq = Number(
      (db.prepare("SELECT value FROM meta WHERE key = 'journalSeq'").get() as { value: string } | undefined)
        ?.value ?? 0,
    );
    this.takenSeq = this.storedSeq;
    this.db = db;
  }

  /** The newest journal position whose message is on disk here (the journal may forget up to it). */
  get durableSeq(): number {
    return this.storedSeq;
  }

  /** Messages up to this journal position have been added (written at the next flush). */
  taken(seq: number): void {
    if (seq > this.takenSeq) this.takenSeq = seq;
  }

  /** Take one reading: raw if it changed (or the keep-alive is due), and into the aggregates. */
  add(deviceId: string, at: number, values: Record<string, unknown>): void {
    let fields = this.state.get(deviceId);
    if (!fields) {
      fields = new Map();
      this.state.set(deviceId, fields);
    }
    const minute = at - (at % MINUTE);
    const hour = at - (at % HOUR);
    const keepalive = this.options.rawKeepaliveSeconds * 1000;
    for (const field in values) {
      if (field === 'ts') continue;
      const v = values[field];
      const value = typeof v === 'number' ? v : typeof v === 'boolean' ? (v ? 1 : 0) : undefined;
      if (value === undefined || !Number.isFinite(value)) continue;
      let st = fields.get(field);
      if (!st) {
        st = { rawTs: Number.NEGATIVE_INFINITY, rawValue: Number.NaN, minute, m: empty(), hour, h: empty() };
        fields.set(field, st);
      }
      if (st.rawValue !== value || at - st.rawTs >= keepalive) {
        this.rawPending.push([deviceId, field, at, value]);
        st.rawTs = at;
        st.rawValue = value;
      }
      if (st.minute !== minute) {
        if (st.m.n > 0) this.closed.push(['m1', deviceId, field, st.minute, st.m]);
        st.minute = minute;
        st.m = empty();
      }
      if (st.hour !== hour) {
        if (st.h.n > 0) this.closed.push(['h1', deviceId, field, st.hour, st.h]);
        st.hour = hour;
        st.h = empty();
      }
      take(st.m, value);
      take(st.h, value);
    }
  }

  /** Device events (alarms, faults and restores), kept for health figures such as MTBF and MTTR. */
  addEvent(
    deviceId: string,
    at: number,
    type: string,
    code: string | null,
    eventId: string | null = null,
  ): void {
    this.eventsPending.push([deviceId, at, type, code, eventId]);
  }

  events(deviceId: string, from: number, to: number): { ts: number; type: string; code: string | null }[] {
    this.flushQuietly();
    return this.handle
      .prepare<[string, number, number], { ts: number; type: string; code: string | null }>(
        'SELECT ts, type, code FROM events WHERE device = ? AND ts >= ? AND ts < ? ORDER BY ts',
      )
      .all(deviceId, from, to);
  }

  addTelemetry(t: DeviceTelemetry): void {
    this.add(t.deviceId, t.at, t.values as Record<string, unknown>);
  }

  /** Reports storage failures and recoveries (set by the composition root). */
  storage: StorageHealth | undefined;

  /** Flush before a read; a disk that refuses the write must not fail the read (it answers from disk). */
  private flushQuietly(): void {
    try {
      this.flush();
    } catch (err) {
      if (!this.storage?.failed('series', err)) throw err;
    }
  }

  flush(): void {
    if (!this.db) return;
    const db = this.db;
    // What a failed flush (full disk) could not write goes first: deltas must not be lost.
    const raw = [...this.unwritten.raw, ...this.rawPending];
    this.rawPending = [];
    const events = [...this.unwritten.events, ...this.eventsPending];
    this.eventsPending = [];
    // Closed buckets, then the open ones as deltas (the merge adds them up), which then start over.
    const buckets = [...this.unwritten.buckets, ...this.closed];
    this.closed = [];
    this.unwritten = { raw: [], events: [], buckets: [] };
    for (const [device, fields] of this.state) {
      for (const [field, st] of fields) {
        if (st.m.n > 0) buckets.push(['m1', device, field, st.minute, st.m]);
        if (st.h.n > 0) buckets.push(['h1', device, field, st.hour, st.h]);
        st.m = empty();
        st.h = empty();
      }
    }
    const seq = this.takenSeq;
    if (raw.length === 0 && buckets.length === 0 && events.length === 0 && seq === this.storedSeq) return;
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
    try {
      db.transaction(() => {
        for (const r of raw) insertRaw.run(...r);
        for (const e of events) insertEvent.run(...e);
        for (const [table, device, field, bucket, b] of buckets)
          statements[table].run(device, field, bucket, b.n, b.sum, b.min, b.max, b.last);
        saveSeq.run(String(seq));
      })();
    } catch (err) {
      this.unwritten = { raw, events, buckets };
      throw err;
    }
    this.storedSeq = seq;
    this.storage?.recovered('series');
  }

  /**
   * Retention, device by device, yielding to the event loop every few milliseconds: a day of raw
   * readings for a large fleet is millions of rows, and one DELETE over them would hold alarms
   * back for seconds. Each step uses the tables' (device, …) keys.
   */
  async prune(now = Date.now()): Promise<void> {
    const { rawRetentionHours, minuteRetentionDays, hourRetentionDays } = this.options;
    const steps: [string, string, number][] = [
      ['raw', 'ts', now - rawRetentionHours * HOUR],
      ['m1', 'bucket', now - minuteRetentionDays * 24 * HOUR],
      ['h1', 'bucket', now - hourRetentionDays * 24 * HOUR],
      ['events', 'ts', now - hourRetentionDays * 24 * HOUR],
    ];
    for (const [table, column, before] of steps) {
      if (!this.db) return;
      const devices = this.db.prepare(`SELECT DISTINCT device FROM ${table}`).pluck().all() as string[];
      const del = this.db.prepare(`DELETE FROM ${table} WHERE device = ? AND ${column} < ?`);
      let slice = performance.now();
      for (const device of devices) {
        if (!this.db) return;
        del.run(device, before);
        if (performance.now() - slice > 5) {
          await new Promise((r) => setImmediate(r));
          slice = performance.now();
        }
      }
    }
  }

  /**
   * A series for a chart: raw values when the step is under a minute and the range is within the raw
   * window, else per-minute or per-hour aggregates (mean, with min/max), regrouped to the step.
   */
  query(
    deviceId: string,
    field: string,
    from: number,
    to: number,
    stepMs: number,
    now = Date.now(),
  ): SeriesPoint[] {
    this.flushQuietly();
    const db = this.handle;
    if (stepMs < MINUTE && from >= now - this.options.rawRetentionHours * HOUR) {
      return db
        .prepare<[string, string, number, number], { ts: number; value: number }>(
          'SELECT ts, value FROM raw WHERE device = ? AND field = ? AND ts >= ? AND ts < ? ORDER BY ts',
        )
        .all(deviceId, field, from, to)
        .map((r) => ({ t: new Date(r.ts).toISOString(), value: r.value }));
    }
    const table = stepMs < HOUR && from >= now - this.options.minuteRetentionDays * 24 * HOUR ? 'm1' : 'h1';
    const step = Math.max(stepMs, table === 'm1' ? MINUTE : HOUR);
    return db
      .prepare<
        [number, number, string, string, number, number],
        { b: number; n: number; sum: number; min: number; max: number }
      >(
        `SELECT (bucket / ?) * ? AS b, sum(n) AS n, sum(sum) AS sum, min(min) AS min, max(max) AS max
           FROM ${table} WHERE device = ? AND field = ? AND bucket >= ? AND bucket < ? GROUP BY b ORDER BY b`,
      )
      .all(step, step, deviceId, field, from - (from % step), to)
      .map((r) => ({ t: new Date(r.b).toISOString(), value: r.sum / r.n, min: r.min, max: r.max, n: r.n }));
  }

  /** The latest value of one field for each device (hourly aggregates, as far back as they are kept). */
  latest(deviceIds: readonly string[], field: string): Map<string, number> {
    this.flushQuietly();
    const stmt = this.handle.prepare<[string, string], { value: number }>(
      'SELECT last AS value FROM h1 WHERE device = ? AND field = ? ORDER BY bucket DESC LIMIT 1',
    );
    const out = new Map<string, number>();
    for (const id of deviceIds) {
      const row = stmt.get(id, field);
      if (row) out.set(id, row.value);
    }
    return out;
  }

  /** Per-bucket last value and count (counters such as runCount), for health computations. */
  lastPerBucket(
    deviceId: string,
    field: string,
    from: number,
    to: number,
  ): { bucket: number; last: number; min: number; n: number }[] {
    this.flushQuietly();
    return this.handle
      .prepare<[string, string, number, number], { bucket: number; last: number; min: number; n: number }>(
        'SELECT bucket, last, min, n FROM m1 WHERE device = ? AND field = ? AND bucket >= ? AND bucket < ? ORDER BY bucket',
      )
      .all(deviceId, field, from, to);
  }

  fileBytes(): number {
    const db = this.handle;
    db.pragma('wal_checkpoint(TRUNCATE)');
    const pages = db.pragma('page_count', { simple: true }) as number;
    const size = db.pragma('page_size', { simple: true }) as number;
    return pages * size;
  }

  async start(): Promise<void> {
    this.open();
    await this.prune();
    this.flushTimer = setInterval(() => {
      try {
        this.flush();
      } catch (err) {
        if (!this.storage?.failed('series', err)) this.logger.error({ err }, 'series flush failed');
      }
    }, this.options.flushMs);
    this.pruneTimer = setInterval(() => {
      this.prune().catch((err: unknown) => this.logger.error({ err }, 'series retention failed'));
    }, HOUR);
  }

  async stop(): Promise<void> {
    clearInterval(this.flushTimer);
    clearInterval(this.pruneTimer);
    this.flush();
    this.db?.close();
    this.db = undefined;
  }
}
