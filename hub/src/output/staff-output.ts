import type { Bus, DeliveryScope } from '../bus.ts';
import { topicFor } from '../contract/topics.ts';
import type { Logger } from '../logger.ts';

/** Where hub → staff messages are published: the broker, with the scope its forward check needs. */
export interface StaffPublisher {
  publishToStaff(topic: string, payload: unknown, scope?: { gridPath: string; siteId: string | null }): void;
}

/**
 * The hub's MQTT output to staff clients, fed only by bus events: device events, presence changes,
 * ticket and alert changes on their scoped topics, and messages for one person on that person's
 * own topic. Each event carries its delivery scope, which goes with the message to the broker, so
 * the per-subscriber jurisdiction check reads it from the message instead of the store.
 */
export class StaffOutput {
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly publisher: StaffPublisher,
    private readonly logger: Logger,
  ) {}

  private publish(topic: () => string, payload: unknown, scope?: DeliveryScope): void {
    let name: string;
    try {
      name = topic();
    } catch (err) {
      this.logger.error({ err }, 'no topic for a hub message; not published');
      return;
    }
    this.publisher.publishToStaff(name, payload, scope);
  }

  async start(): Promise<void> {
    this.unsubscribe.push(
      this.bus.on('device.event', (e) => this.publish(() => topicFor('hubEvent', e), e, e)),
      this.bus.on('device.presence', (p) => this.publish(() => topicFor('hubPresence', p), p, p)),
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
  }
}
