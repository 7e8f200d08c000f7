import { type Kysely, type Migration, sql } from 'kysely';

/** Migration 0003_policies_tickets (append-only: never edit a migration that has shipped). */
export const m0003: Migration = {
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
    await db.schema.createIndex('ticket_timeline_ticket').on('ticket_timeline').column('ticket_id').execute();

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
};
