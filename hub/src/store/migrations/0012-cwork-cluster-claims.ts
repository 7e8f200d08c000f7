import type { Kysely, Migration } from 'kysely';

/**
 * Migration 0012_cwork_cluster_claims (issue 19; append-only): what several hub nodes on one store
 * must decide once. A device event is processed by the node whose claim row it is (primary key
 * device + event id); a pending webhook delivery is retried by whichever node holds its lease; a
 * named lease (the cluster's one Node-RED) has one holder until it stops renewing.
 */
export const m0012ClusterClaims: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('event_claims')
      .addColumn('device_id', 'text', (c) => c.notNull())
      .addColumn('event_id', 'text', (c) => c.notNull())
      .addColumn('holder', 'text', (c) => c.notNull())
      .addColumn('lease_until', 'integer', (c) => c.notNull())
      .addColumn('claimed_at', 'integer', (c) => c.notNull())
      .addColumn('done_at', 'integer')
      .addPrimaryKeyConstraint('event_claims_pk', ['device_id', 'event_id'])
      .execute();
    await db.schema.createIndex('event_claims_at').on('event_claims').column('claimed_at').execute();

    await db.schema
      .createTable('webhook_outbox')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('target_id', 'text', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      .addColumn('origin', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('due_at', 'integer', (c) => c.notNull())
      .addColumn('holder', 'text')
      .addColumn('lease_until', 'integer')
      .addColumn('created_at', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('webhook_outbox_due')
      .on('webhook_outbox')
      .columns(['state', 'due_at'])
      .execute();

    await db.schema
      .createTable('cluster_leases')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('holder', 'text', (c) => c.notNull())
      .addColumn('lease_until', 'integer', (c) => c.notNull())
      .execute();
  },
};
