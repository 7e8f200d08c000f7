import type { Kysely, Migration, MigrationProvider } from 'kysely';

import { m0001 } from './migrations/0001-grid-people-devices-audit.ts';
import { m0002 } from './migrations/0002-ingest-dedupe-commissioning.ts';
import { m0003 } from './migrations/0003-policies-tickets.ts';
import { m0004 } from './migrations/0004-alerts.ts';
import { m0005 } from './migrations/0005-sessions-notifications.ts';
import { m0011 } from './migrations/0011-times-epoch-ms.ts';
import { m0012ClusterClaims } from './migrations/0012-cwork-cluster-claims.ts';

/**
 * Versioned migrations, applied in name order at start. Never edit a released migration: add one
 * at the end. The first ones live in migrations/, one file each; the later ones are still inline.
 */
const migrations: Record<string, Migration> = {
  '0001_grid_people_devices_audit': m0001,
  '0002_ingest_dedupe_commissioning': m0002,
  '0003_policies_tickets': m0003,
  '0004_alerts': m0004,
  '0005_sessions_notifications': m0005,
  // Titles as a code and parameters beside the Chinese text: the console renders them in the
  // reader's language (hub/src/contract/titles.ts). Older rows keep a null code and show their text.
  '0006_console_title_codes': {
    async up(db: Kysely<unknown>) {
      for (const table of ['tickets', 'alerts']) {
        await db.schema.alterTable(table).addColumn('title_code', 'text').execute();
        await db.schema.alterTable(table).addColumn('title_params', 'text').execute();
      }
    },
  },
  '0007_core_replay_idempotence': {
    async up(db: Kysely<unknown>) {
      // After a crash the rules run again on journaled events they had not finished: a ticket or
      // alert already raised for an event is found by the event and not raised twice.
      await db.schema.createIndex('ticket_links_ref').on('ticket_links').columns(['kind', 'ref']).execute();
      await db.schema.alterTable('tickets').addColumn('origin_ref', 'text').execute();
      await db.schema
        .createTable('alert_events')
        .addColumn('event_ref', 'text', (c) => c.primaryKey())
        .addColumn('alert_id', 'text', (c) => c.notNull().references('alerts.id'))
        .execute();
    },
  },
  '0008_persist_receipts_commands': {
    async up(db: Kysely<unknown>) {
      // queued → delivered: the PUBACK time, and the message itself for a re-send on reconnect
      await db.schema.alterTable('alert_deliveries').addColumn('confirmed_at', 'integer').execute();
      await db.schema.alterTable('alert_deliveries').addColumn('payload', 'text').execute();
      await db.schema
        .createIndex('alert_deliveries_recipient')
        .on('alert_deliveries')
        .columns(['recipient', 'result'])
        .execute();

      await db.schema
        .createTable('device_commands')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('settings', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .addColumn('expires_at', 'integer', (c) => c.notNull())
        .addColumn('sent_at', 'integer')
        .addColumn('acknowledged_at', 'integer')
        .addColumn('finished_at', 'integer')
        .addColumn('result', 'text')
        .addColumn('updated_at', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('device_commands_device')
        .on('device_commands')
        .columns(['device_id', 'created_at'])
        .execute();
      await db.schema
        .createIndex('device_commands_open')
        .on('device_commands')
        .columns(['state', 'expires_at'])
        .execute();
    },
  },
  '0009_ingress_integrations': {
    async up(db: Kysely<unknown>) {
      // Platform identities of devices that do not dial the broker (issue 20); each unique when set.
      for (const column of ['imei', 'platform_device_id', 'dev_eui'] as const) {
        await db.schema.alterTable('devices').addColumn(column, 'text').execute();
        await db.schema.createIndex(`devices_${column}`).unique().on('devices').column(column).execute();
      }
      await db.schema
        .createTable('integrations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('models', 'text', (c) => c.notNull())
        .addColumn('settings', 'text', (c) => c.notNull())
        // secrets the hub must use (OneNET token, ChirpStack password): AES-256-GCM, key outside the store
        .addColumn('secrets_enc', 'text')
        // secrets the hub only compares (CTWing push token): SHA-256
        .addColumn('token_hash', 'text')
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('integration_unmatched')
        .addColumn('integration_id', 'text', (c) => c.notNull().references('integrations.id'))
        .addColumn('identity', 'text', (c) => c.notNull())
        .addColumn('identity_kind', 'text', (c) => c.notNull())
        .addColumn('first_at', 'text', (c) => c.notNull())
        .addColumn('last_at', 'text', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addColumn('excerpt', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('integration_unmatched_pk', ['integration_id', 'identity'])
        .execute();
    },
  },
  '0010_ingress2_platform_commands': {
    async up(db: Kysely<unknown>) {
      // A command to a device behind a carrier platform goes through that platform's command API;
      // its result push names the platform's id of the command, which finds the row again.
      await db.schema.alterTable('device_commands').addColumn('via_integration', 'text').execute();
      await db.schema.alterTable('device_commands').addColumn('platform_command_id', 'text').execute();
      await db.schema
        .createIndex('device_commands_platform_id')
        .on('device_commands')
        .columns(['via_integration', 'platform_command_id'])
        .execute();
    },
  },
  // One time convention: every ISO-8601 text time becomes epoch ms (migrations/0011-times-epoch-ms.ts).
  '0011_times_epoch_ms': m0011,
  // Claims, leases and the webhook outbox of cluster mode (migrations/0012-cwork-cluster-claims.ts).
  '0012_cwork_cluster_claims': m0012ClusterClaims,
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
