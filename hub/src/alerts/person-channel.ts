import type { Bus } from '../bus.ts';
import { filterMatches } from '../contract/topic-filter.ts';
import { topicFor } from '../contract/topics.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Db, Store } from '../store/store.ts';
import type { AlertDeliveryTable } from './alert-tables.ts';

/** The broker, as far as delivering to people needs to know it (messages go out on the bus). */
export interface PersonSessions {
  /** filters the person's connected sessions subscribe to */
  staffSubscriptions(personId: string): string[];
  /** QoS 1 messages the broker holds for one client's session */
  sessionQueue(clientId: string): Promise<{ topic: string; payload: Buffer }[]>;
}

/** A delivery log entry as the alert service holds it for an alert kept in memory (the table's row). */
export type HeldDeliveryEntry = Omit<AlertDeliveryTable, 'id' | 'confirmed_at' | 'payload'>;

/** queued: handed to the broker for a person who can receive it; no-channel: nobody to hand it to. */
export type PersonDeliveryResult = 'queued' | 'no-channel';

export const personAlertTopic = (personId: string) => topicFor('personAlert', { personId });

const deliveryIdOf = (payload: Buffer): number | undefined => {
  try {
    const id = (JSON.parse(payload.toString('utf8')) as { deliveryId?: unknown }).deliveryId;
    return typeof id === 'number' ? id : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Alerts to one person's own MQTT topic, with an honest log: `queued` when the person has a live
 * session on the topic or an API token their app can connect with, `delivered` when their client
 * acknowledges the message (PUBACK, reported by aedes for persistent sessions), `no-channel` when
 * there is nobody to hand it to. Every message carries its delivery id, so a receipt finds its row.
 * When the person's app subscribes or comes back with its session, the latest still-queued message
 * of each raised alert is sent again — unless the broker's durable queue already holds it for that
 * client — so a restart (even a killed process, whose last session writes may be lost) loses nothing
 * the alert store knows.
 */
export class PersonChannel {
  private readonly unsubscribe: (() => void)[] = [];
  /**
   * Delivery ids acknowledged in this process, noted before their row is updated: a re-send that
   * read the row a moment earlier must not repeat a message the app just confirmed.
   */
  private readonly receipted = new Set<number>();

  constructor(
    private readonly store: Store,
    private readonly broker: PersonSessions,
    private readonly bus: Bus,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  private get db(): Db {
    return this.store.db;
  }

  /** Can this person receive an alert over MQTT, now or when their app connects? */
  async reach(personId: string): Promise<{ result: PersonDeliveryResult; detail: string }> {
    const topic = personAlertTopic(personId);
    if (this.broker.staffSubscriptions(personId).some((f) => filterMatches(f, topic)))
      return { result: 'queued', detail: `${topic} (live session)` };
    const token = await this.db
      .selectFrom('api_tokens')
      .innerJoin('people', 'people.id', 'api_tokens.person_id')
      .select('api_tokens.id')
      .where('api_tokens.person_id', '=', personId)
      .where('api_tokens.revoked_at', 'is', null)
      .where('people.active', '=', 1)
      .executeTakeFirst();
    if (token) return { result: 'queued', detail: `${topic} (no live session; held for the person's app)` };
    return { result: 'no-channel', detail: 'no MQTT session and no API token to connect with' };
  }

  /**
   * Log the attempt and, when someone can receive it, publish it with its delivery id. While the
   * disk refuses writes the message goes out all the same (without an id): `hold` keeps the log
   * entry with the alert held in memory, or a storage error is reported and the entry is lost.
   */
  async deliver(
    alertId: string,
    step: number,
    personId: string,
    message: Record<string, unknown>,
    hold?: (entry: HeldDeliveryEntry) => boolean,
    storageFailed?: (err: unknown) => boolean,
  ): Promise<PersonDeliveryResult> {
    const { result, detail } = await this.reach(personId);
    const payload = result === 'queued' ? JSON.stringify(message) : null;
    const entry = {
      alert_id: alertId,
      step,
      recipient: personId,
      channel: 'mqtt',
      attempt: 1,
      at: this.now(),
      result,
      detail,
    };
    let id: number | undefined;
    if (!hold?.(entry)) {
      try {
        ({ id } = await this.db
          .insertInto('alert_deliveries')
          .values({ ...entry, confirmed_at: null, payload })
          .returning('id')
          .executeTakeFirstOrThrow());
      } catch (err) {
        if (!storageFailed?.(err)) throw err;
      }
    }
    this.metrics.alertDeliveries.inc({ channel: 'mqtt', result });
    if (result === 'queued')
      this.bus.emit('person.delivery', {
        topic: 'personAlert',
        personId,
        payload: id === undefined ? message : { ...message, deliveryId: id },
      });
    return result;
  }

  private async confirm(personId: string, clientId: string, payload: Buffer): Promise<void> {
    const id = deliveryIdOf(payload);
    if (id === undefined) return;
    this.receipted.add(id);
    if (this.receipted.size > 10_000) this.receipted.delete(this.receipted.values().next().value as number);
    const res = await this.db
      .updateTable('alert_deliveries')
      .set({ result: 'delivered', confirmed_at: this.now(), detail: `PUBACK from client ${clientId}` })
      .where('id', '=', id)
      .where('recipient', '=', personId)
      .where('result', '=', 'queued')
      .executeTakeFirst();
    if (res.numUpdatedRows > 0n) this.metrics.alertDeliveries.inc({ channel: 'mqtt', result: 'delivered' });
  }

  /** The person's app can receive again: send what is still only queued for raised alerts. */
  private async resend(personId: string, clientId: string): Promise<void> {
    const rows = await this.db
      .selectFrom('alert_deliveries')
      .innerJoin('alerts', 'alerts.id', 'alert_deliveries.alert_id')
      .select(['alert_deliveries.id', 'alert_deliveries.alert_id', 'alert_deliveries.payload'])
      .where('alert_deliveries.recipient', '=', personId)
      .where('alert_deliveries.channel', '=', 'mqtt')
      .where('alert_deliveries.result', '=', 'queued')
      .where('alerts.state', '=', 'raised')
      .orderBy('alert_deliveries.id', 'desc')
      .execute();
    if (rows.length === 0) return;
    const held = new Set((await this.broker.sessionQueue(clientId)).map((m) => deliveryIdOf(m.payload)));
    const latest = new Map<string, { id: number; payload: string | null }>();
    for (const r of rows) if (!latest.has(r.alert_id)) latest.set(r.alert_id, r);
    for (const r of latest.values()) {
      if (held.has(r.id) || this.receipted.has(r.id) || !r.payload) continue;
      this.bus.emit('person.delivery', {
        topic: 'personAlert',
        personId,
        payload: { ...(JSON.parse(r.payload) as Record<string, unknown>), deliveryId: r.id },
      });
      this.logger.info({ personId, clientId, deliveryId: r.id }, 'alert sent again on reconnect');
    }
  }

  start(): void {
    const guard = (what: string) => (err: unknown) => this.logger.error({ err }, what);
    this.unsubscribe.push(
      this.bus.on('mqtt.receipt', ({ owner, clientId, topic, payload }) => {
        if (owner.kind === 'staff' && topic === personAlertTopic(owner.personId))
          this.confirm(owner.personId, clientId, payload).catch(guard('alert receipt failed'));
      }),
      this.bus.on('mqtt.session', ({ owner, clientId, filters }) => {
        if (owner.kind !== 'staff') return;
        const topic = personAlertTopic(owner.personId);
        if (filters.some((f) => filterMatches(f, topic)))
          this.resend(owner.personId, clientId).catch(guard('alert re-send failed'));
      }),
    );
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }
}
