import type { Kysely, Transaction } from 'kysely';
import type { Store } from '../store/store.ts';
import type { AlertRow, Database } from '../store/tables.ts';
import type { HeldDeliveryEntry } from './person-channel.ts';

type Executor = Kysely<Database> | Transaction<Database>;

/**
 * The SQL of the alerts' own tables (alerts, alert_events, alert_deliveries): the decisions are in
 * the parts of the service, the statements here. Inside a transaction pass the transaction (one
 * SQLite connection: a statement beside it would wait for it).
 */
export class AlertStore {
  constructor(private readonly store: Store) {}

  get db(): Kysely<Database> {
    return this.store.db;
  }

  byId(id: string, db: Executor = this.db): Promise<AlertRow | undefined> {
    return db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The alert of an incident that is not resolved yet. */
  activeFor(incidentKey: string, db: Executor = this.db): Promise<AlertRow | undefined> {
    return db
      .selectFrom('alerts')
      .selectAll()
      .where('incident_key', '=', incidentKey)
      .where('state', '!=', 'resolved')
      .executeTakeFirst();
  }

  /** The alert that absorbed a device event (`deviceId:eventId`). */
  byEvent(eventRef: string): Promise<AlertRow | undefined> {
    return this.db
      .selectFrom('alert_events')
      .innerJoin('alerts', 'alerts.id', 'alert_events.alert_id')
      .selectAll('alerts')
      .where('alert_events.event_ref', '=', eventRef)
      .executeTakeFirst();
  }

  async recordEvent(trx: Executor, alertId: string, eventRef: string | null): Promise<void> {
    if (!eventRef) return;
    await trx
      .insertInto('alert_events')
      .values({ event_ref: eventRef, alert_id: alertId })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  /** Raised alerts whose escalation step or re-notification is due. */
  async dueIds(now: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('alerts')
      .select('id')
      .where('state', '=', 'raised')
      .where((eb) => eb.or([eb('next_step_at', '<=', now), eb('next_renotify_at', '<=', now)]))
      .execute();
    return rows.map((r) => r.id);
  }

  async insertDelivery(entry: HeldDeliveryEntry): Promise<void> {
    await this.db.insertInto('alert_deliveries').values(entry).execute();
  }

  deliveries(alertId: string) {
    return this.db
      .selectFrom('alert_deliveries')
      .selectAll()
      .where('alert_id', '=', alertId)
      .orderBy('id')
      .execute();
  }

  /** The emergency units a person leads or belongs to. */
  async unitsOf(personId: string): Promise<Set<string>> {
    const led = await this.db
      .selectFrom('emergency_units')
      .select('id')
      .where('leader_id', '=', personId)
      .execute();
    const member = await this.db
      .selectFrom('emergency_unit_members')
      .select('unit_id')
      .where('person_id', '=', personId)
      .execute();
    return new Set([...led.map((u) => u.id), ...member.map((m) => m.unit_id)]);
  }
}
