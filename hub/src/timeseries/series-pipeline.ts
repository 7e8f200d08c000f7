import type { Bus, JournalCommitted } from '../bus.ts';
import type { DeviceEvent, DeviceTelemetry } from '../contract/device-event.ts';
import type { JournalRow } from '../ingest/journal.ts';
import type { Logger } from '../logger.ts';
import type { TelemetrySink } from './influx-sink.ts';
import type { LocalSeriesStore } from './local-store.ts';
import { hubStatsLine, presenceLine } from './points.ts';

/** The hub's own counts per grid node, sampled every `everyMs`. */
export type HubStatsSource = () => Promise<Map<string, Record<string, number>>>;

/** Where the pipeline reads back journaled messages its local store had not yet written. */
export interface JournalReader {
  since(afterSeq: number, limit: number): Promise<JournalRow[]>;
}

/**
 * Feeds the series stores. Device readings and events come from the ingest journal in journal order
 * (their InfluxDB points were spooled in the same commit); the local store writes them once a second
 * together with the journal position it has reached, and at start reads back whatever the journal
 * holds past that position, so a crash loses nothing the hub acknowledged. Presence changes and the
 * hub's own measures go to the sinks' spools at once.
 */
export class SeriesPipeline {
  private readonly unsubscribe: (() => void)[] = [];
  private statsTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly local: LocalSeriesStore,
    private readonly sinks: readonly TelemetrySink[],
    private readonly journal: JournalReader,
    private readonly logger: Logger,
    private readonly stats?: { source: HubStatsSource; everyMs: number },
  ) {}

  /** Record the hub's own measures: to the sinks, and to the local store under device id `hub:<grid>`. */
  async sampleStats(at = Date.now()): Promise<void> {
    if (!this.stats) return;
    for (const [grid, values] of await this.stats.source()) {
      this.local.add(`hub:${grid}`, at, values);
      this.emit(hubStatsLine(grid, values, at));
    }
  }

  private emit(line: string | undefined): void {
    if (!line) return;
    for (const sink of this.sinks) sink.write([line]);
  }

  /** Journal position up to which the local store has durably taken every message. */
  get durableSeq(): number {
    return this.local.durableSeq;
  }

  private take({ seq, subject }: JournalCommitted): void {
    if ('values' in subject) this.local.addTelemetry(subject as DeviceTelemetry);
    else if ('event' in subject) {
      const e = subject as DeviceEvent;
      const code = 'code' in e.event && e.event.code !== undefined ? String(e.event.code) : null;
      this.local.addEvent(e.deviceId, e.at, e.event.type, code, e.event.eventId);
    }
    this.local.taken(seq);
  }

  /** Read back what the journal holds past the local store's position (after a crash). */
  private async replay(): Promise<number> {
    let n = 0;
    for (let after = this.local.durableSeq; ; ) {
      const rows = await this.journal.since(after, 2000);
      for (const r of rows) {
        this.take({ seq: r.seq, subject: JSON.parse(r.body) as JournalCommitted['subject'] });
        after = r.seq;
      }
      n += rows.length;
      if (rows.length < 2000) break;
      await this.local.flush();
    }
    await this.local.flush();
    return n;
  }

  async start(): Promise<void> {
    await this.local.start();
    const replayed = await this.replay();
    if (replayed > 0)
      this.logger.info({ messages: replayed }, 'local series store caught up from the journal');
    for (const sink of this.sinks) await sink.start();
    this.unsubscribe.push(
      this.bus.on('journal.committed', (c) => this.take(c)),
      this.bus.on('device.presence', (p) => this.emit(presenceLine(p))),
    );
    if (this.stats) {
      this.statsTimer = setInterval(() => {
        this.sampleStats().catch((err: unknown) => this.logger.error({ err }, 'hub stats sample failed'));
      }, this.stats.everyMs);
    }
    this.logger.info({ sinks: this.sinks.map((s) => s.name) }, 'time-series pipeline started');
  }

  async stop(): Promise<void> {
    clearInterval(this.statsTimer);
    for (const off of this.unsubscribe.splice(0)) off();
    for (const sink of [...this.sinks].reverse()) await sink.stop();
    await this.local.stop();
  }
}
