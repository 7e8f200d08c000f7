import type { Bus } from '../bus.ts';
import type { Logger } from '../logger.ts';
import type { TelemetrySink } from './influx-sink.ts';
import type { LocalSeriesStore } from './local-store.ts';
import { eventLine, hubStatsLine, presenceLine, telemetryLine } from './points.ts';

/** The hub's own counts per grid node, sampled every `everyMs`. */
export type HubStatsSource = () => Promise<Map<string, Record<string, number>>>;

/**
 * Feeds every reading, event and presence change from the bus to the configured sinks. A bus
 * listener only formats a line and appends it to each sink's buffer: ingest never waits for a sink.
 */
export class SeriesPipeline {
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly local: LocalSeriesStore,
    private readonly sinks: readonly TelemetrySink[],
    private readonly logger: Logger,
    private readonly stats?: { source: HubStatsSource; everyMs: number },
  ) {}

  private statsTimer: NodeJS.Timeout | undefined;

  /** Record the hub's own measures: to the sinks, and to the local store under device id `hub:<grid>`. */
  async sampleStats(at = Date.now()): Promise<void> {
    if (!this.stats) return;
    for (const [grid, values] of await this.stats.source()) {
      this.local.add(`hub:${grid}`, at, values);
      this.emit(hubStatsLine(grid, values, at));
    }
  }

  private emit(line: string | undefined): void {
    if (!line || this.sinks.length === 0) return;
    for (const sink of this.sinks) sink.write([line]);
  }

  async start(): Promise<void> {
    await this.local.start();
    for (const sink of this.sinks) await sink.start();
    this.unsubscribe.push(
      this.bus.on('device.telemetry', (t) => {
        this.local.addTelemetry(t);
        this.emit(telemetryLine(t));
      }),
      this.bus.on('device.event', (e) => {
        this.local.addEvent(
          e.deviceId,
          e.at,
          e.event.type,
          'code' in e.event && e.event.code !== undefined ? String(e.event.code) : null,
        );
        this.emit(eventLine(e));
      }),
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
