import { type Kysely, type Migration, type RawBuilder, sql } from 'kysely';
import { isPostgres } from '../postgres.ts';

/**
 * Migration 0011_times_epoch_ms (append-only: never edit a migration that has shipped): every time
 * the first migrations kept as ISO-8601 text becomes epoch milliseconds, so the store has one
 * convention (store/tables.ts, docs/decisions.md 2026-12-01 "One time convention").
 *
 * The audit chain hashes the ISO rendering of `at`. The hub always wrote it with
 * `Date.prototype.toISOString()`, which `new Date(ms).toISOString()` reproduces exactly; a row whose
 * text is not that rendering (written by hand or by other software, say with microseconds or an
 * offset) keeps its text in `at_as_hashed`, which the verifier hashes instead. Text that is no time
 * at all stops the migration with the table and column named, before anything has changed.
 */
export const TIME_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  grid_nodes: ['created_at', 'updated_at'],
  people: ['created_at', 'updated_at'],
  departments: ['created_at', 'updated_at'],
  api_tokens: ['created_at', 'revoked_at'],
  sites: ['created_at', 'updated_at'],
  emergency_units: ['created_at', 'updated_at'],
  devices: ['secret_rotated_at', 'installed_at', 'last_seen_at', 'created_at', 'updated_at'],
  audit_log: ['at'],
  device_commissioning: ['updated_at'],
  policies: ['updated_at'],
  webhook_targets: ['created_at'],
  integrations: ['created_at', 'updated_at'],
  integration_unmatched: ['first_at', 'last_at'],
};

export const m0011: Migration = {
  async up(db: Kysely<unknown>) {
    if (isPostgres(db)) await upPostgres(db);
    else await upSqlite(db);
  },
};

/**
 * The commissioning records are JSON in text columns; their `at` becomes epoch ms too
 * (ingest/commissioning.ts renders it). One row per device, converted here in JS on both dialects;
 * a record whose `at` is no time keeps the time of the row's last write.
 */
async function convertCommissioning(db: Kysely<unknown>): Promise<void> {
  const rows = await sql<{ device_id: string; accepted: string; rejected: string; updated_at: number }>`
    select device_id, accepted, rejected, updated_at from device_commissioning`.execute(db);
  for (const row of rows.rows) {
    const convert = (text: string) =>
      JSON.stringify(
        (JSON.parse(text) as { at: unknown }[]).map((r) => {
          const at = typeof r.at === 'string' ? Date.parse(r.at) : r.at;
          return { ...r, at: typeof at === 'number' && Number.isFinite(at) ? at : Number(row.updated_at) };
        }),
      );
    await sql`update device_commissioning set accepted = ${convert(row.accepted)}, rejected = ${convert(row.rejected)}
              where device_id = ${row.device_id}`.execute(db);
  }
}

function notATime(table: string, column: string, count: number): Error {
  return new Error(
    `migration 0011_times_epoch_ms: ${table}.${column} holds ${count} value(s) that are not ISO-8601 times; ` +
      'correct or clear them (NULL where the column allows it) and start the hub again',
  );
}

/**
 * Dialect-specific: PostgreSQL changes a column's type in place (`ALTER … TYPE … USING`, one
 * rewrite per table, constraints and position kept); the migration runs in one transaction, so a
 * failure leaves the store as it was.
 */
async function upPostgres(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('audit_log').addColumn('at_as_hashed', 'text').execute();
  const ms = (c: string) => sql`round(extract(epoch from ${sql.ref(c)}::timestamptz) * 1000)::bigint`;
  // The one UPDATE of the audit log ever made, inside this transaction: its trigger refuses it.
  await sql`alter table audit_log disable trigger audit_log_no_update`.execute(db);
  await sql`update audit_log set at_as_hashed = at
             where at <> to_char(to_timestamp(${ms('at')} / 1000.0) at time zone 'UTC',
                                 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`.execute(db);
  await sql`alter table audit_log enable trigger audit_log_no_update`.execute(db);
  for (const [table, columns] of Object.entries(TIME_COLUMNS)) {
    const changes = columns.map((c) => sql`alter column ${sql.ref(c)} type bigint using ${ms(c)}`);
    try {
      await sql`alter table ${sql.table(table)} ${sql.join(changes)}`.execute(db);
    } catch (err) {
      // PostgreSQL's own message names the value; ours names the place.
      throw new Error(`migration 0011_times_epoch_ms: ${table}: ${(err as Error).message}`);
    }
  }
  await convertCommissioning(db);
}

/** SQLite: ISO text → epoch ms (julianday is exact to the millisecond for these dates). */
const sqliteMs = (c: string) =>
  sql`cast(round((julianday(${sql.ref(c)}) - 2440587.5) * 86400000.0) as integer)`;

/**
 * Dialect-specific: SQLite cannot change a column's type, so each table is rebuilt the way its
 * documentation prescribes (a new table from the stored CREATE with the time columns' type changed,
 * rows copied with their rowid, old table dropped, new one renamed, indexes and triggers created
 * again), with foreign keys off around it and checked before the commit.
 */
async function upSqlite(db: Kysely<unknown>): Promise<void> {
  for (const [table, columns] of Object.entries(TIME_COLUMNS))
    for (const c of columns) {
      const r = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}
        where ${sql.ref(c)} is not null and julianday(${sql.ref(c)}) is null`.execute(db);
      const n = r.rows[0]?.n ?? 0;
      if (n > 0) throw notATime(table, c, n);
    }
  await sql`pragma foreign_keys = off`.execute(db);
  try {
    await db.transaction().execute(async (trx) => {
      await trx.schema.alterTable('audit_log').addColumn('at_as_hashed', 'text').execute();
      for (const [table, columns] of Object.entries(TIME_COLUMNS)) await rebuildSqlite(trx, table, columns);
      await convertCommissioning(trx);
      const broken = await sql`pragma foreign_key_check`.execute(trx);
      if (broken.rows.length > 0)
        throw new Error('migration 0011_times_epoch_ms: foreign keys broken by the rebuild');
    });
  } finally {
    await sql`pragma foreign_keys = on`.execute(db);
  }
}

async function rebuildSqlite(db: Kysely<unknown>, table: string, columns: readonly string[]): Promise<void> {
  const schema = await sql<{ type: string; name: string; sql: string | null }>`
    select type, name, sql from sqlite_master where tbl_name = ${table}`.execute(db);
  const create = schema.rows.find((r) => r.type === 'table')?.sql;
  if (!create) throw new Error(`migration 0011_times_epoch_ms: no table ${table}`);
  const temp = `${table}__epoch_ms`;
  let text = create.replace(/^create table "?[a-z_]+"?/i, `create table "${temp}"`);
  for (const c of columns) {
    const typed = new RegExp(`"${c}" text\\b`, 'gi');
    if ((text.match(typed) ?? []).length !== 1)
      throw new Error(`migration 0011_times_epoch_ms: ${table}.${c} is not one text column`);
    text = text.replace(typed, `"${c}" integer`);
  }
  await sql.raw(text).execute(db);

  const info = await sql<{ name: string }>`select name from pragma_table_info(${table})`.execute(db);
  const names = info.rows.map((r) => r.name);
  const values: RawBuilder<unknown>[] = names.map((n) => {
    if (columns.includes(n)) return sqliteMs(n);
    // The exact text the chain hashed, where the ms would not render back to it.
    if (table === 'audit_log' && n === 'at_as_hashed')
      return sql`case when strftime('%Y-%m-%dT%H:%M:%fZ', ${sqliteMs('at')} / 1000.0, 'unixepoch') = at
                      then null else at end`;
    return sql.ref(n);
  });
  // rowid kept: keyset paging (store/pages.ts) walks it.
  await sql`insert into ${sql.table(temp)} (rowid, ${sql.join(names.map((n) => sql.ref(n)))})
            select rowid, ${sql.join(values)} from ${sql.table(table)}`.execute(db);
  await sql`drop table ${sql.table(table)}`.execute(db);
  await sql`alter table ${sql.table(temp)} rename to ${sql.table(table)}`.execute(db);
  for (const r of schema.rows) if (r.type !== 'table' && r.sql) await sql.raw(r.sql).execute(db);
}
