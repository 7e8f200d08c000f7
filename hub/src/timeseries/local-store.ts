import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { DeviceTelemetry } from '../contract/device-event.ts';
import { journalId } from '../ingest/journal-id.ts';
import type { Logger } from '../logger.ts';
import type { StorageHealth } from '../store/storage-health.ts';
import { empty, type FieldState, take } from './series-buckets.ts';
import {
  type ClosedBucket,
  type EventRow,
  type RawRow,
  type SeriesTables,
  SqliteSeriesTables,
} from './series-tables.ts';
import { PostgresSeriesTables } from './series-tables-pg.ts';

export interface LocalSeriesOptions {
  rawRetentionHours: number;
  minuteRetentionDays: number;
  hourRetentionDays: number;
  /** a raw value is stored when it changes, and at least this often when it does not */
  rawKeepaliveSeconds: number;
  flushMs: number;
}

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
 * The embedded time-series store (its own SQLite file under data/, or tables in the main
 * PostgreSQL database when the store is there: series-tables.ts), so the console can chart devices
 * with no InfluxDB at all, and never depends on InfluxDB being up. Numeric and boolean readings are
 * kept three ways: raw (only when a value changes, or once per keep-alive, for the recent window),
 * per-minute and per-hour aggregates (count, sum, min, max, last). Aggregates are accumulated in
 * memory and written once per flush, so a reading costs no disk write of its own.
 */
export class LocalSeriesStore {
  private isOpen = false;
  /** the flush under way: flushes run one after another */
  private flushing: Promise<void> = Promise.resolve();
  private rawPending: RawRow[] = [];
  private eventsPending: EventRow[] = [];
  /** journal position of the newest message taken, and of the newest one on disk */
  private takenSeq = 0;
  private storedSeq = 0;
  /** per device, per field: last stored raw value and the open minute and hour buckets */
  private readonly state = new Map<string, Map<string, FieldState>>();
  private closed: ClosedBucket[] = [];
  private unwritten: { raw: RawRow[]; events: EventRow[]; buckets: ClosedBucket[] } = {
    raw: [],
    events: [],
    buckets: [],
  };
  private flushTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly tables: SeriesTables,
    private readonly options: LocalSeriesOptions,
    private readonly logger: Logger,
  ) {}

  /** Its own SQLite file under `dataDir`, or, given the main store's PostgreSQL database, tables there. */
  static in(
    dataDir: string,
    options: LocalSeriesOptions,
    logger: Logger,
    postgres?: () => Kysely<unknown>,
  ): LocalSeriesStore {
    const tables = postgres
      ? new PostgresSeriesTables(postgres, () => journalId(dataDir))
      : new SqliteSeriesTables(join(dataDir, 'series.sqlite'));
    return new LocalSeriesStore(tables, options, logger);
  }

  get kind(): 'sqlite' | 'postgres' {
    return this.tables.kind;
  }

  async open(): Promise<void> {
    this.storedSeq = await this.tables.open();
    this.takenSeq = this.storedSeq;
    this.isOpen = true;
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

  async events(
    deviceId: string,
    from: number,
    to: number,
  ): Promise<{ ts: number; type: string; code: string | null }[]> {
    await this.flushQuietly();
    return this.tables.events(deviceId, from, to);
  }

  addTelemetry(t: DeviceTelemetry): void {
    this.add(t.deviceId, t.at, t.values as Record<string, unknown>);
  }

  /** Reports storage failures and recoveries (set by the composition root). */
  storage: StorageHealth | undefined;

  /** Flush before a read; a disk that refuses the write must not fail the read (it answers from disk). */
  private async flushQuietly(): Promise<void> {
    try {
      await this.flush();
    } catch (err) {
      if (!this.storage?.failed('series', err)) throw err;
    }
  }

  /** Write what was taken; flushes run one after another (each takes what the last left). */
  flush(): Promise<void> {
    const next = this.flushing.then(
      () => this.flushNow(),
      () => this.flushNow(),
    );
    this.flushing = next.catch(() => undefined);
    return next;
  }

  private async flushNow(): Promise<void> {
    if (!this.isOpen) return;
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
    try {
      await this.tables.write({ raw, events, buckets, seq });
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
    const steps: ['raw' | 'm1' | 'h1' | 'events', 'ts' | 'bucket', number][] = [
      ['raw', 'ts', now - rawRetentionHours * HOUR],
      ['m1', 'bucket', now - minuteRetentionDays * 24 * HOUR],
      ['h1', 'bucket', now - hourRetentionDays * 24 * HOUR],
      ['events', 'ts', now - hourRetentionDays * 24 * HOUR],
    ];
    for (const [table, column, before] of steps) {
      if (!this.isOpen) return;
      const devices = await this.tables.devices(table);
      let slice = performance.now();
      for (const device of devices) {
        if (!this.isOpen) return;
        await this.tables.prune(table, column, device, before);
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
  async query(
    deviceId: string,
    field: string,
    from: number,
    to: number,
    stepMs: number,
    now = Date.now(),
  ): Promise<SeriesPoint[]> {
    await this.flushQuietly();
    if (stepMs < MINUTE && from >= now - this.options.rawRetentionHours * HOUR) {
      return (await this.tables.raw(deviceId, field, from, to)).map((r) => ({
        t: new Date(r.ts).toISOString(),
        value: r.value,
      }));
    }
    const table = stepMs < HOUR && from >= now - this.options.minuteRetentionDays * 24 * HOUR ? 'm1' : 'h1';
    const step = Math.max(stepMs, table === 'm1' ? MINUTE : HOUR);
    return (await this.tables.grouped(table, step, deviceId, field, from - (from % step), to)).map((r) => ({
      t: new Date(r.b).toISOString(),
      value: r.sum / r.n,
      min: r.min,
      max: r.max,
      n: r.n,
    }));
  }

  /** The latest value of one field for each device (hourly aggregates, as far back as they are kept). */
  async latest(deviceIds: readonly string[], field: string): Promise<Map<string, number>> {
    await this.flushQuietly();
    const out = new Map<string, number>();
    for (const id of deviceIds) {
      const value = await this.tables.latest(id, field);
      if (value !== undefined) out.set(id, value);
    }
    return out;
  }

  /** Per-bucket last value and count (counters such as runCount), for health computations. */
  async lastPerBucket(
    deviceId: string,
    field: string,
    from: number,
    to: number,
  ): Promise<{ bucket: number; last: number; min: number; n: number }[]> {
    await this.flushQuietly();
    return this.tables.lastPerBucket(deviceId, field, from, to);
  }

  fileBytes(): Promise<number> {
    return this.tables.bytes();
  }

  async start(): Promise<void> {
    await this.open();
    await this.prune();
    this.flushTimer = setInterval(() => {
      this.flush().catch((err: unknown) => {
        if (!this.storage?.failed('series', err)) this.logger.error({ err }, 'series flush failed');
      });
    }, this.options.flushMs);
    this.pruneTimer = setInterval(() => {
      this.prune().catch((err: unknown) => this.logger.error({ err }, 'series retention failed'));
    }, HOUR);
  }

  async stop(): Promise<void> {
    clearInterval(this.flushTimer);
    clearInterval(this.pruneTimer);
    try {
      await this.flush();
    } finally {
      this.isOpen = false;
      await this.tables.close();
    }
  }
}
