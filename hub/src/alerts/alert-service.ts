import type { Principal } from '../auth/principal.ts';
import type { AlertRequested, Bus } from '../bus.ts';
import { parseTopic } from '../contract/topics.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { PolicyService } from '../policies/policy-service.ts';
import { storedSecret } from '../store/settings.ts';
import type { Store } from '../store/store.ts';
import { AckLinks } from './ack-links.ts';
import { AlertActions } from './alert-actions.ts';
import type { AlertContext, AlertOptions } from './alert-context.ts';
import { AlertFeed } from './alert-feed.ts';
import { AlertQueries } from './alert-queries.ts';
import type { AlertView } from './alert-schemas.ts';
import { AlertStats } from './alert-stats.ts';
import { AlertStore } from './alert-store.ts';
import { AlertDelivery } from './delivery.ts';
import { AlertEscalation } from './escalation.ts';
import { PersonChannel, type PersonSessions } from './person-channel.ts';
import { AlertRaising } from './raising.ts';
import { VolatileAlerts } from './volatile-alerts.ts';
import { WebhookDeliverer } from './webhook-deliverer.ts';
import { WebhookOutbox } from './webhook-outbox.ts';
import { WebhookTargets } from './webhook-targets.ts';

export type { AlertOptions } from './alert-context.ts';

/**
 * Alerts to the people of a site's emergency unit (最小应急单元): point leader first, then members in
 * on-call order, then the grid leader, then the street duty room; re-notified until someone
 * acknowledges, escalating one person per step. The service is its parts — raising.ts,
 * delivery.ts, escalation.ts (stored due times, DESIGN.md contract 7), alert-actions.ts,
 * alert-queries.ts, alert-stats.ts, webhook-targets.ts over alert-store.ts — wired here and
 * started and stopped as one. Its output goes on the bus (`alert.changed`, `alert.notified`,
 * `person.delivery`); hub/src/output publishes it.
 */
export class AlertService {
  private readonly unsubscribe: (() => void)[] = [];
  private linkSecret = '';
  private readonly ctx: AlertContext;
  private readonly alertStore: AlertStore;
  private readonly persons: PersonChannel;
  private readonly escalation: AlertEscalation;
  private readonly raising: AlertRaising;
  readonly delivery: AlertDelivery;
  readonly queries: AlertQueries;
  readonly actions: AlertActions;
  readonly statistics: AlertStats;
  readonly webhooks: WebhookTargets;
  readonly deliverer: WebhookDeliverer;
  readonly links: AckLinks;
  /** alerts raised while the store refused writes */
  readonly volatile = new VolatileAlerts();

  constructor(
    private readonly store: Store,
    policies: PolicyService,
    private readonly bus: Bus,
    sessions: PersonSessions,
    metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: AlertOptions,
    /** this node's name in the webhook outbox's leases (cluster/cluster-node.ts) */
    nodeId: string,
    now: () => number = Date.now,
  ) {
    this.ctx = {
      store,
      policies,
      bus,
      metrics,
      logger,
      options,
      now,
      volatile: this.volatile,
      feed: new AlertFeed(bus),
    };
    this.alertStore = new AlertStore(store);
    this.links = new AckLinks(() => this.linkSecret, options.publicUrl, options.linkTtlMs);
    this.deliverer = new WebhookDeliverer(
      options,
      logger,
      options.outbound,
      new WebhookOutbox(store, nodeId),
      now,
    );
    this.persons = new PersonChannel(store, sessions, bus, metrics, logger, now);
    this.escalation = new AlertEscalation(this.ctx, this.alertStore);
    this.delivery = new AlertDelivery(this.ctx, this.alertStore, this.persons, this.links, () =>
      this.escalation.schedule(),
    );
    this.escalation.delivery = this.delivery;
    this.raising = new AlertRaising(this.ctx, this.alertStore, this.delivery);
    this.queries = new AlertQueries(this.alertStore, this.volatile);
    this.actions = new AlertActions(this.ctx, this.alertStore, this.queries);
    this.statistics = new AlertStats(this.alertStore, policies, this.queries);
    this.webhooks = new WebhookTargets(store, options.outbound, now);
  }

  raise(req: AlertRequested): Promise<AlertView> {
    return this.raising.raise(req);
  }

  /** Write what was held in memory once the store takes writes again. */
  persistHeld(): Promise<void> {
    return this.raising.persistHeld();
  }

  /** May a staff client publish here? Only the ack topic of an alert the person may see and acknowledge. */
  mayPublish(principal: Principal, topic: string): Promise<boolean> {
    return this.actions.mayPublish(principal, topic);
  }

  async start(): Promise<void> {
    this.linkSecret = await storedSecret(this.store.db, 'alerts.linkSecret', this.options.linkSecret);
    this.persons.start();
    this.unsubscribe.push(
      this.bus.on('alert.requested', (req) => {
        this.raise(req).catch((err: unknown) => this.logger.error({ err }, 'raising an alert failed'));
      }),
      // Acknowledgement from a leader app over MQTT: gh/v1/hub/ack/<alertId>.
      this.bus.on('staff.message', ({ principal, topic }) => {
        const ack = parseTopic('staffAck', topic);
        if (!ack) return;
        this.actions
          .acknowledgeAs(principal, ack.alertId, 'mqtt')
          .catch((err: unknown) =>
            this.logger.info(
              { err: (err as Error).message, alertId: ack.alertId, personId: principal.personId },
              'MQTT acknowledgement refused',
            ),
          );
      }),
    );
    await this.escalation.start();
    this.deliverer.start();
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    this.persons.stop();
    this.deliverer.stop();
    await this.escalation.stop();
  }
}
