import { type Kysely, type Migration, sql } from 'kysely';
import { isPostgres } from '../postgres.ts';

/**
 * Migration 0001_grid_people_devices_audit (append-only: never edit a migration that has shipped;
 * the PostgreSQL branch was added with that dialect and leaves SQLite's SQL as it was).
 */
export const m0001: Migration = {
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
    if (isPostgres(db)) {
      // Dialect-specific: PostgreSQL's triggers call a function (SQLite's have a body and RAISE).
      await sql`CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$`.execute(db);
      await sql`CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()`.execute(db);
      return;
    }
    await sql`CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`.execute(db);
    await sql`CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END`.execute(db);
  },
};
