import { HttpError, InfluxDB, type WriteApi } from '@influxdata/influxdb-client';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';

/**
 * The durable spool of points the sink drains (the ingest journal's spool table: device points
 * enter it in the same transaction as their message, before the PUBACK).
 */
export interface SpoolPort {
  spoolAppend(lines: string[]): Promise<void>;
  spoolPeek(limit: number): Promise<{ id: number; line: string }[]>;
  spoolRemove(ids: number[]): Promise<void>;
  spoolSize(): Promise<number>;
}

export interface InfluxOptions {
  url: string;
  token: string;
  org: string;
  bucket: string;
  batchSize: number;
  flushMs: number;
  spoolMaxPoints: number;
  timeoutMs: number;
}

/** Where a point is sent: the time-series sinks implement this; the pipeline never waits for one. */
export interface TelemetrySink {
  readonly name: string;
  /** points that are not device messages (presence, the hub's own measures): spooled at once */
  write(lines: readonly string[]): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

type Outcome = { ok: true } | { ok: false; retry: boolean; status: number | undefined; message: string };

/**
 * InfluxDB 2.x/3.x write API (VictoriaMetrics accepts it too) through @influxdata/influxdb-client,
 * with a durable spool in front: every point is on disk before it is sent — whatever the server's
 * state: a back-off delays sending, never spooling — and leaves the spool only when the server
 * accepts it, in order. Network errors, 429 and 5xx are retried with back-off; a 4xx batch is split
 * until the points that can never succeed are found, and those are dropped, counted and logged
 * with the server's reason. A restart resumes the spool.
 */
export class InfluxSink implements TelemetrySink {
  readonly name = 'influx';
  private writeApi: WriteApi | undefined;
  /** spool size as of the last drain step (a cheap figure for tests and operations) */
  private knownSize = 0;
  private failure: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private backoffMs = 0;
  private stopped = true;

  constructor(
    private readonly options: InfluxOptions,
    private readonly spool: SpoolPort,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  /** Points waiting in the spool, as of the last drain step. */
  get spooled(): number {
    return this.knownSize;
  }

  /** Device points were counted as spooled by ingest; count these too. */
  write(lines: readonly string[]): void {
    if (lines.length === 0) return;
    this.knownSize += lines.length;
    this.metrics.seriesPoints.inc({ sink: this.name, outcome: 'spooled' }, lines.length);
    this.spool
      .spoolAppend([...lines])
      .catch((err: unknown) => this.logger.error({ err }, 'time-series points could not be spooled'));
  }

  private async send(lines: readonly string[]): Promise<Outcome> {
    const api = this.writeApi as WriteApi;
    this.failure = undefined;
    api.writeRecords([...lines]);
    await api.flush();
    const err = this.failure as Error | undefined;
    if (!err) return { ok: true };
    const status = err instanceof HttpError ? err.statusCode : undefined;
    const retry = status === undefined || status === 429 || status >= 500;
    return { ok: false, retry, status, message: err.message };
  }

  /** Send a batch; on a 4xx split it to find and drop only the points that can never succeed. */
  private async deliver(batch: { id: number; line: string }[]): Promise<'sent' | 'retry'> {
    const result = await this.send(batch.map((b) => b.line));
    if (result.ok) {
      await this.spool.spoolRemove(batch.map((b) => b.id));
      this.metrics.seriesPoints.inc({ sink: this.name, outcome: 'written' }, batch.length);
      return 'sent';
    }
    if (result.retry) {
      this.logger.warn(
        { status: result.status, error: result.message, batch: batch.length },
        'time-series write failed; will retry',
      );
      return 'retry';
    }
    if (batch.length === 1) {
      await this.spool.spoolRemove([batch[0]?.id as number]);
      this.metrics.seriesPoints.inc({ sink: this.name, outcome: 'rejected' });
      this.logger.warn(
        { status: result.status, error: result.message, line: batch[0]?.line.slice(0, 300) },
        'time-series point refused by the server; dropped',
      );
      return 'sent';
    }
    const half = Math.ceil(batch.length / 2);
    for (const part of [batch.slice(0, half), batch.slice(half)]) {
      if ((await this.deliver(part)) === 'retry') return 'retry';
    }
    return 'sent';
  }

  private async drain(): Promise<void> {
    while (!this.stopped) {
      this.knownSize = await this.spool.spoolSize();
      const batch = await this.spool.spoolPeek(this.options.batchSize);
      if (batch.length === 0) return;
      if ((await this.deliver(batch)) === 'retry') {
        this.backoffMs = Math.min(30_000, Math.max(500, this.backoffMs * 2));
        return;
      }
      this.backoffMs = 0;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.draining = this.drain()
        .catch((err: unknown) => this.logger.error({ err }, 'time-series drain failed'))
        .finally(() => {
          this.draining = undefined;
          this.schedule();
        });
    }, this.backoffMs || this.options.flushMs);
  }

  async start(): Promise<void> {
    const { url, token, org, bucket, timeoutMs } = this.options;
    this.writeApi = new InfluxDB({ url, token, timeout: timeoutMs }).getWriteApi(org, bucket, 'ms', {
      maxRetries: 0,
      batchSize: this.options.batchSize + 1,
      flushInterval: 0,
      gzipThreshold: 1000,
      // The spool is the retry buffer: record the failure and let drain() decide.
      writeFailed: (error) => {
        this.failure = error;
        return Promise.resolve();
      },
    });
    this.stopped = false;
    const resumed = await this.spool.spoolSize();
    this.knownSize = resumed;
    if (resumed > 0) this.logger.info({ points: resumed }, 'resuming time-series spool');
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.draining;
    await this.writeApi?.close().catch(() => undefined);
  }
}
