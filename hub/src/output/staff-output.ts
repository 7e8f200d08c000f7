import type { Bus, DeliveryScope } from '../bus.ts';
import type { DeviceEvent } from '../contract/device-event.ts';
import { type TopicName, topicFor } from '../contract/topics.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { DropOldestQueue } from './staff-queue.ts';

/** Where hub → staff messages are published: the broker, with the scope its forward check needs. */
export interface StaffPublisher {
  /** `delivered` is called once every subscriber's copy has been written */
  publishToStaff(
    topic: string,
    payload: unknown,
    scope?: { gridPath: string; siteId: string | null },
    delivered?: () => void,
  ): void;
}

export interface StaffOutputOptions {
  /** ordinary messages waiting at most; beyond it the oldest are dropped */
  maxQueued: number;
  /** how long one batch of ordinary messages may take, from its publishing to its last write */
  budgetMs: number;
  /** which device events are life-safety (ingest/life-safety.ts): they are published at once */
  lifeSafety(e: DeviceEvent): boolean;
}

/** An ordinary message waiting for its turn (topic computed when it is published). */
interface Waiting {
  kind: Extract<TopicName, 'hubEvent' | 'hubPresence'>;
  topic: () => string;
  payload: unknown;
  scope: DeliveryScope;
}

const DROP_LOG_EVERY_MS = 10_000;
const MAX_BATCH = 1000;
const STUCK_BATCH_MS = 5000;

/**
 * The hub's MQTT output to staff clients, fed only by bus events: device events, presence changes,
 * ticket and alert changes on their scoped topics, and messages for one person on that person's
 * own topic. Each event carries its delivery scope, which goes with the message to the broker, so
 * the per-subscriber jurisdiction check reads it from the message instead of the store.
 *
 * Every message costs one delivery per staff subscriber, on the event loop that also reads the next
 * panic press (with 100 dashboards on `gh/v1/hub/#`, an event flood kept the loop busy for seconds
 * before an alarm's turn came). So alerts, person messages, tickets and life-safety events are
 * published at once; ordinary device events and presence changes wait in a bounded queue and go
 * out in batches sized to a time budget, one batch at a time, with setImmediate between (so
 * sockets and the rules' life-safety lane run in between). When more wait than `maxQueued`, the
 * oldest are dropped, counted and logged (GH_ERR_STAFF_OUTPUT_DROPPED): a dashboard misses a
 * reading rather than a leader missing an alarm. Tickets are records people work and come at the
 * rules' pace (one open ticket per device and cause), so they are never dropped either. A
 * life-safety event may overtake the same device's ordinary events still waiting.
 */
export class StaffOutput {
  private readonly unsubscribe: (() => void)[] = [];
  private readonly waiting: DropOldestQueue<Waiting>;
  private draining: NodeJS.Immediate | undefined;
  /** messages in the next batch (adapted to the budget) */
  private batch = 16;
  /** when the batch out now was published (performance.now()); 0 when none is out */
  private batchStarted = 0;
  private dropped = 0;
  private droppedLoggedAt = 0;

  constructor(
    private readonly bus: Bus,
    private readonly publisher: StaffPublisher,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: StaffOutputOptions,
  ) {
    this.waiting = new DropOldestQueue(options.maxQueued);
  }

  private publish(
    topic: () => string,
    payload: unknown,
    scope?: DeliveryScope,
    delivered?: () => void,
  ): void {
    let name: string;
    try {
      name = topic();
    } catch (err) {
      this.logger.error({ err }, 'no topic for a hub message; not published');
      delivered?.();
      return;
    }
    this.publisher.publishToStaff(name, payload, scope, delivered);
  }

  /** An ordinary message: published when its turn comes, or dropped if it waits behind too many. */
  private enqueue(w: Waiting): void {
    const dropped = this.waiting.push(w);
    if (dropped) this.drop(dropped);
    this.metrics.staffOutputQueued.set(this.waiting.size);
    // a batch whose deliveries never finished (a broker that lost a callback) must not stop the output
    if (this.batchStarted > 0 && performance.now() - this.batchStarted > STUCK_BATCH_MS)
      this.batchStarted = 0;
    if (this.batchStarted === 0) this.draining ??= setImmediate(() => this.drain());
  }

  /**
   * Publish the next batch. The broker writes each subscriber's copy in a callback of its own on a
   * later turn of the loop, so what a batch costs is known only when its last copy is written: one
   * batch is out at a time, and the next one is larger while batches take less than the budget and
   * half the size when one took longer (time spent on other work counts too: ordinary output is
   * what gives way when the hub is busy).
   */
  private drain(): void {
    this.draining = undefined;
    if (this.waiting.size === 0 || this.batchStarted > 0) return;
    const started = performance.now();
    this.batchStarted = started;
    let left = Math.min(this.batch, this.waiting.size);
    const sent = left;
    const delivered = () => {
      if (--left > 0 || this.batchStarted !== started) return;
      this.batchStarted = 0;
      const took = performance.now() - started;
      if (took > this.options.budgetMs) this.batch = Math.max(1, Math.floor(this.batch / 2));
      else if (sent === this.batch) this.batch = Math.min(MAX_BATCH, this.batch + Math.ceil(this.batch / 4));
      this.metrics.staffOutputQueued.set(this.waiting.size);
      if (this.waiting.size > 0) this.draining ??= setImmediate(() => this.drain());
    };
    for (let i = 0; i < sent; i++) {
      const w = this.waiting.shift() as Waiting;
      this.publish(w.topic, w.payload, w.scope, delivered);
    }
  }

  private drop(w: Waiting): void {
    this.metrics.staffOutputDropped.inc({ topic: w.kind });
    this.metrics.errors.inc({ code: 'GH_ERR_STAFF_OUTPUT_DROPPED', source: 'mqtt' });
    this.dropped++;
    const now = Date.now();
    if (now - this.droppedLoggedAt < DROP_LOG_EVERY_MS) return;
    this.logger.warn(
      {
        code: 'GH_ERR_STAFF_OUTPUT_DROPPED',
        dropped: this.dropped,
        waiting: this.waiting.size,
        maxQueued: this.options.maxQueued,
      },
      'staff subscribers cannot keep up; oldest ordinary hub messages dropped (alerts are not)',
    );
    this.dropped = 0;
    this.droppedLoggedAt = now;
  }

  async start(): Promise<void> {
    this.batchStarted = 0;
    this.unsubscribe.push(
      this.bus.on('device.event', (e) => {
        const topic = () => topicFor('hubEvent', e);
        if (this.options.lifeSafety(e)) this.publish(topic, e, e);
        else this.enqueue({ kind: 'hubEvent', topic, payload: e, scope: e });
      }),
      this.bus.on('device.presence', (p) =>
        this.enqueue({ kind: 'hubPresence', topic: () => topicFor('hubPresence', p), payload: p, scope: p }),
      ),
      // A ticket or an alert without a site goes out under "-" (the topic's scope level).
      this.bus.on('ticket.changed', ({ ticket, action, scope }) =>
        this.publish(
          () =>
            topicFor('hubTicket', {
              gridNodeId: ticket.gridNodeId,
              siteId: ticket.siteId ?? '-',
              id: ticket.id,
            }),
          { ticket, action },
          scope,
        ),
      ),
      this.bus.on('alert.changed', ({ seq, action, alert, scope }) =>
        this.publish(
          () =>
            topicFor('hubAlert', { gridNodeId: alert.gridNodeId, siteId: alert.siteId ?? '-', id: alert.id }),
          { seq, action, alert },
          scope,
        ),
      ),
      this.bus.on('person.delivery', ({ topic, personId, payload }) =>
        this.publish(() => topicFor(topic, { personId }), payload),
      ),
    );
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    if (this.draining) clearImmediate(this.draining);
    this.draining = undefined;
    this.batchStarted = -1; // a batch still out calls back into nothing
    // News feeds: what still waits is not worth holding the stop for (a client that reconnects
    // reads the current state from the API).
    const left = this.waiting.clear();
    this.metrics.staffOutputQueued.set(0);
    if (left > 0) this.logger.info({ left }, 'ordinary hub messages not published at stop');
  }
}
