import type { Kysely, Migration } from 'kysely';

/** Migration 0002_ingest_dedupe_commissioning (append-only: never edit a migration that has shipped). */
export const m0002: Migration = {
  async up(db: Kysely<unknown>) {
    // A QoS 1 event redelivered (same device, same eventId) is recognised, also across restarts.
    await db.schema
      .createTable('device_events_seen')
      .addColumn('device_id', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('received_at', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('device_events_seen_pk', ['device_id', 'event_id'])
      .execute();
    await db.schema
      .createIndex('device_events_seen_at')
      .on('device_events_seen')
      .column('received_at')
      .execute();
    // What an installer sees at the device: the last accepted and rejected messages with reasons.
    await db.schema
      .createTable('device_commissioning')
      .addColumn('device_id', 'text', (c) => c.primaryKey().references('devices.id'))
      .addColumn('accepted', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('rejected', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
  },
};
