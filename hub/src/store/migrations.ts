import { type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';

/**
 * Versioned migrations, applied in name order at start. Never edit a released migration: add one.
 */
const migrations: Record<string, Migration> = {
  '0001_grid_people_devices_audit': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('grid_nodes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('parent_id', 'text', (c) => c.references('grid_nodes.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('exclusive_type', 'text')
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('grid_nodes_path').on('grid_nodes').column('path').execute();

      await db.schema
        .createTable('people')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('phone', 'text')
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('scope_grid_node_id', 'text', (c) => c.references('grid_nodes.id'))
        .addColumn('scope_site_ids', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('password_hash', 'text')
        .addColumn('active', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('grid_duty')
        .addColumn('grid_node_id', 'text', (c) => c.notNull().references('grid_nodes.id'))
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('person_id', 'text', (c) => c.notNull().references('people.id'))
        .addColumn('position', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('grid_duty_pk', ['grid_node_id', 'role', 'person_id'])
        .execute();

      await db.schema
        .createTable('departments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('district_id', 'text', (c) => c.notNull().references('grid_nodes.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('phone', 'text')
        .addColumn('contact_person_id', 'text', (c) => c.references('people.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('person_id', 'text', (c) => c.notNull().references('people.id'))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();

      await db.schema
        .createTable('sites')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('grid_node_id', 'text', (c) => c.notNull().references('grid_nodes.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('kind', 'text')
        .addColumn('building', 'text')
        .addColumn('unit', 'text')
        .addColumn('floor', 'text')
        .addColumn('room', 'text')
        .addColumn('address', 'text')
        .addColumn('lat', 'real')
        .addColumn('lng', 'real')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sites_grid').on('sites').column('grid_node_id').execute();

      await db.schema
        .createTable('emergency_units')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('grid_node_id', 'text', (c) => c.notNull().references('grid_nodes.id'))
        .addColumn('leader_id', 'text', (c) => c.notNull().references('people.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('emergency_unit_members')
        .addColumn('unit_id', 'text', (c) => c.notNull().references('emergency_units.id'))
        .addColumn('person_id', 'text', (c) => c.notNull().references('people.id'))
        .addColumn('position', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('emergency_unit_members_pk', ['unit_id', 'person_id'])
        .execute();
      await db.schema
        .createTable('emergency_unit_sites')
        .addColumn('unit_id', 'text', (c) => c.notNull().references('emergency_units.id'))
        // a site is covered by at most one emergency unit, so a device's unit is unambiguous
        .addColumn('site_id', 'text', (c) => c.primaryKey().references('sites.id'))
        .execute();

      await db.schema
        .createTable('devices')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('serial', 'text')
        .addColumn('site_id', 'text', (c) => c.notNull().references('sites.id'))
        .addColumn('grid_node_id', 'text', (c) => c.notNull().references('grid_nodes.id'))
        .addColumn('emergency_unit_id', 'text', (c) => c.references('emergency_units.id'))
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('secret_rotated_at', 'text', (c) => c.notNull())
        .addColumn('installed_by', 'text', (c) => c.notNull())
        .addColumn('installed_at', 'text', (c) => c.notNull())
        .addColumn('install_notes', 'text')
        .addColumn('install_photo_url', 'text')
        .addColumn('last_seen_at', 'text')
        .addColumn('online', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('devices_grid').on('devices').column('grid_node_id').execute();
      await db.schema.createIndex('devices_site').on('devices').column('site_id').execute();
      await db.schema.createIndex('devices_serial').on('devices').column('serial').execute();

      await db.schema
        .createTable('audit_log')
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('entity_type', 'text', (c) => c.notNull())
        .addColumn('entity_id', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('audit_entity')
        .on('audit_log')
        .columns(['entity_type', 'entity_id'])
        .execute();
      // The log is append-only: the store itself refuses to rewrite history.
      await sql`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`.execute(db);
      await sql`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`.execute(db);
    },
  },
  '0002_ingest_dedupe_commissioning': {
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
  },
  '0003_policies_tickets': {
    async up(db: Kysely<unknown>) {
      // A policy override at one scope; the default lives in code (hub/src/policies/definitions.ts).
      await db.schema
        .createTable('policies')
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('scope_kind', 'text', (c) => c.notNull())
        .addColumn('scope_id', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('updated_by', 'text', (c) => c.notNull())
        // a temporary override: at expires_at the hub restores `previous` (or removes the override)
        .addColumn('expires_at', 'integer')
        .addColumn('previous', 'text')
        .addPrimaryKeyConstraint('policies_pk', ['key', 'scope_kind', 'scope_id'])
        .execute();

      await db.schema
        .createTable('tickets')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('category', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('level', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('grid_node_id', 'text', (c) => c.notNull().references('grid_nodes.id'))
        .addColumn('site_id', 'text')
        .addColumn('device_id', 'text')
        .addColumn('emergency_unit_id', 'text')
        // one open ticket per incident (device and cause, building and fire …): repeats append
        .addColumn('incident_key', 'text')
        .addColumn('assignee_id', 'text')
        .addColumn('department_id', 'text')
        .addColumn('level_due_at', 'integer')
        .addColumn('due_at', 'integer')
        .addColumn('parked', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('extended', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('supervised', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('reminders', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('rework_count', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('recurring', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('occurrences', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('satisfaction', 'integer')
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'integer', (c) => c.notNull())
        .addColumn('accepted_at', 'integer')
        .addColumn('dispatched_at', 'integer')
        .addColumn('closed_at', 'integer')
        .addColumn('resolution', 'text')
        .execute();
      await sql`CREATE UNIQUE INDEX tickets_open_incident ON tickets (incident_key)
        WHERE incident_key IS NOT NULL AND state NOT IN ('closed', 'evaluated', 'rejected')`.execute(db);
      await db.schema.createIndex('tickets_due').on('tickets').column('level_due_at').execute();
      await db.schema.createIndex('tickets_grid').on('tickets').column('grid_node_id').execute();

      await db.schema
        .createTable('ticket_timeline')
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('ticket_id', 'text', (c) => c.notNull().references('tickets.id'))
        .addColumn('at', 'integer', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('from_state', 'text')
        .addColumn('to_state', 'text')
        .addColumn('level', 'integer', (c) => c.notNull())
        .addColumn('note', 'text')
        .addColumn('data', 'text')
        .execute();
      await db.schema
        .createIndex('ticket_timeline_ticket')
        .on('ticket_timeline')
        .column('ticket_id')
        .execute();

      await db.schema
        .createTable('ticket_links')
        .addColumn('ticket_id', 'text', (c) => c.notNull().references('tickets.id'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('ref', 'text', (c) => c.notNull())
        .addColumn('at', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('ticket_links_pk', ['ticket_id', 'kind', 'ref'])
        .execute();

      await db.schema
        .createTable('maintenance_visits')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
        .addColumn('at', 'integer', (c) => c.notNull())
        .addColumn('by', 'text', (c) => c.notNull())
        .addColumn('notes', 'text')
        .addColumn('ticket_id', 'text')
        .execute();
      await db.schema
        .createIndex('maintenance_visits_device')
        .on('maintenance_visits')
        .columns(['device_id', 'at'])
        .execute();
    },
  },
  '0004_alerts': {
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
      await db.schema
        .createIndex('alert_deliveries_alert')
        .on('alert_deliveries')
        .column('alert_id')
        .execute();

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
  },
  '0005_sessions_notifications': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('sessions')
        .addColumn('id_hash', 'text', (c) => c.primaryKey())
        .addColumn('person_id', 'text', (c) => c.notNull().references('people.id'))
        .addColumn('csrf', 'text', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .addColumn('expires_at', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_person').on('sessions').column('person_id').execute();

      await db.schema
        .createTable('notifications')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('to_kind', 'text', (c) => c.notNull())
        .addColumn('to_id', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('text', 'text', (c) => c.notNull())
        .addColumn('created_at', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('notification_deliveries')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('notification_id', 'text', (c) => c.notNull().references('notifications.id'))
        .addColumn('recipient', 'text', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('at', 'integer', (c) => c.notNull())
        .addColumn('result', 'text', (c) => c.notNull())
        .addColumn('detail', 'text')
        .execute();
      await db.schema
        .createIndex('notification_deliveries_notification')
        .on('notification_deliveries')
        .column('notification_id')
        .execute();
    },
  },
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
};

export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
