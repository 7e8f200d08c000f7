import { type Kysely, type Migration, sql } from 'kysely';

/** Migration 0004_alerts (append-only: never edit a migration that has shipped). */
export const m0004: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('alerts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      // one active alert per incident (the ticket, or device and cause); repeats update it
      .addColumn('incident_key', 'text', (c) => c.notNull())
      .addColumn('severity', 'text', (c) => c.notNull())
      .addColumn('cause', 'text', (c) => c.notNull())
      .addColumn('title', 'text', (c) => c.notNull())
      .addColumn('device_id', 'text')
      .addColumn('device_type', 'text')
      .addColumn('site_id', 'text')
      .addColumn('grid_node_id', 'text', (c) => c.notNull())
      .addColumn('grid_path', 'text', (c) => c.notNull())
      .addColumn('emergency_unit_id', 'text')
      .addColumn('ticket_id', 'text')
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('count', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('chain', 'text', (c) => c.notNull())
      .addColumn('step', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_step_at', 'integer')
      .addColumn('next_renotify_at', 'integer')
      .addColumn('renotify_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('acked_by', 'text')
      .addColumn('acked_at', 'integer')
      .addColumn('ack_channel', 'text')
      .addColumn('resolved_by', 'text')
      .addColumn('resolved_at', 'integer')
      .addColumn('resolution', 'text')
      .addColumn('reason', 'text')
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .addColumn('updated_at', 'integer', (c) => c.notNull())
      .execute();
    await sql`CREATE UNIQUE INDEX alerts_active_incident ON alerts (incident_key) WHERE state != 'resolved'`.execute(
      db,
    );
    await db.schema.createIndex('alerts_due_step').on('alerts').column('next_step_at').execute();
    await db.schema.createIndex('alerts_due_renotify').on('alerts').column('next_renotify_at').execute();

    await db.schema
      .createTable('alert_deliveries')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('alert_id', 'text', (c) => c.notNull().references('alerts.id'))
      .addColumn('step', 'integer', (c) => c.notNull())
      .addColumn('recipient', 'text', (c) => c.notNull())
      .addColumn('channel', 'text', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('at', 'integer', (c) => c.notNull())
      .addColumn('result', 'text', (c) => c.notNull())
      .addColumn('detail', 'text')
      .execute();
    await db.schema.createIndex('alert_deliveries_alert').on('alert_deliveries').column('alert_id').execute();

    await db.schema
      .createTable('webhook_targets')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('secret', 'text')
      .addColumn('scope_kind', 'text', (c) => c.notNull())
      .addColumn('scope_id', 'text', (c) => c.notNull())
      .addColumn('min_severity', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('settings')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
  },
};
