/**
 * One time convention in the store (issue 18; store/tables.ts): epoch ms in an integer column,
 * on the dialect this project runs on (SQLite in `integration`, PostgreSQL in `pg`).
 *
 * - A store written by the old code (migrations up to 0010, ISO-8601 text times, the audit chain
 *   hashed over that text) is converted by 0011_times_epoch_ms: every time keeps its instant, the
 *   views show the same text as before, the chain still verifies and grows, and an audit time that
 *   epoch ms cannot render back (written by other software) keeps the text its hash covers.
 * - Every time-named column of a migrated store is an integer: introspected, so a new text time
 *   fails here (with a positive control: the check does find a text time column).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { appendAudit, ChainVerifier, hashedTime } from '../../src/audit/audit-log.ts';
import { toDeviceView } from '../../src/devices/registry.ts';
import { CommissioningLog } from '../../src/ingest/commissioning.ts';
import { createLogger } from '../../src/logger.ts';
import { migrationProvider } from '../../src/store/migrations.ts';
import { ensureRowids, postgresDialect } from '../../src/store/postgres.ts';
import { Store } from '../../src/store/store.ts';
import type { AuditRow } from '../../src/store/tables.ts';
import { dropTestStore, onPostgres, testStoreUrl } from '../helpers/test-store.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) {
    await dropTestStore(dir);
    rmSync(dir, { recursive: true, force: true });
  }
});

async function tempStore(): Promise<{ dir: string; url: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'gridhub-times-'));
  dirs.push(dir);
  return { dir, url: await testStoreUrl(dir) };
}

/** A store as the code before 0011 left it: migrated to 0010 on this project's dialect. */
async function oldStore(dir: string, url: string): Promise<Kysely<unknown>> {
  let db: Kysely<unknown>;
  if (url) {
    db = new Kysely<unknown>({ dialect: postgresDialect(url).dialect });
  } else {
    const file = new BetterSqlite3(join(dir, 'gridhub.sqlite'));
    file.pragma('journal_mode = WAL');
    file.pragma('foreign_keys = ON');
    db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: file }) });
  }
  const { error } = await new Migrator({ db, provider: migrationProvider }).migrateTo(
    '0010_ingress2_platform_commands',
  );
  if (error) throw error;
  if (url) await ensureRowids(db);
  return db;
}

/** The old chain: sha256 over the ISO text, as audit-log.ts computed it before 0011. */
function oldHash(
  prev: string,
  at: string,
  actor: string,
  action: string,
  type: string,
  id: string,
  data: string,
) {
  return createHash('sha256')
    .update(JSON.stringify([prev, at, actor, action, type, id, data]))
    .digest('hex');
}

describe('times in the store', () => {
  it('0011 converts a store written with ISO text: same instants, same text shown, the chain verifies and grows', async () => {
    const { dir, url } = await tempStore();
    const old = await oldStore(dir, url);
    // toISOString text, as the hub wrote it; the third audit time as other software might write it
    const created = '2026-11-20T08:15:30.123Z';
    const installed = '2026-11-21T09:00:00.000Z';
    const seen = '2026-11-30T23:59:59.999Z';
    const foreign = '2026-11-22T10:00:00.123456+08:00';
    const auditTimes = [
      '2026-11-20T08:15:30.123Z',
      '2026-11-21T09:00:00.001Z',
      foreign,
      '2026-11-23T00:00:00.000Z',
    ];
    await sql`insert into grid_nodes (id, parent_id, kind, exclusive_type, name, path, created_at, updated_at)
              values ('g1', null, 'grid', null, 'G', '/g1/', ${created}, ${created})`.execute(old);
    await sql`insert into sites (id, grid_node_id, name, created_at, updated_at)
              values ('s1', 'g1', 'S', ${created}, ${created})`.execute(old);
    for (const [id, lastSeen] of [
      ['d1', seen],
      ['d2', null],
    ] as const)
      await sql`insert into devices (id, model_id, type, site_id, grid_node_id, status, secret_hash,
                  secret_rotated_at, installed_by, installed_at, last_seen_at, online, created_at, updated_at)
                values (${id}, 'm', 'smoke-detector', 's1', 'g1', 'active', 'x', ${created}, 'i', ${installed},
                        ${lastSeen}, 0, ${created}, ${seen})`.execute(old);
    await sql`insert into integrations (id, kind, name, models, settings, enabled, created_by, created_at, updated_at)
              values ('i1', 'ctwing', 'I', '[]', '{}', 1, 'a', ${created}, ${seen})`.execute(old);
    await sql`insert into integration_unmatched (integration_id, identity, identity_kind, first_at, last_at, count, excerpt)
              values ('i1', '8600', 'imei', ${created}, ${seen}, 3, '{}')`.execute(old);
    const record = { at: seen, topic: 'gh/v1/dev/d1/event', what: 'selftest', excerpt: '{}' };
    await sql`insert into device_commissioning (device_id, accepted, rejected, updated_at)
              values ('d1', ${JSON.stringify([record])}, '[]', ${seen})`.execute(old);
    let prev = '0'.repeat(64);
    for (const [i, at] of auditTimes.entries()) {
      const data = JSON.stringify({ i });
      const hash = oldHash(prev, at, 'person:a', 'device.register', 'device', `d${i}`, data);
      await sql`insert into audit_log (at, actor, action, entity_type, entity_id, data, prev_hash, hash)
                values (${at}, 'person:a', 'device.register', 'device', ${`d${i}`}, ${data}, ${prev}, ${hash})`.execute(
        old,
      );
      prev = hash;
    }
    const rowidsBefore = url
      ? []
      : (await sql<{ id: string; r: number }>`select id, rowid as r from devices order by id`.execute(old))
          .rows;
    await old.destroy();

    const store = new Store(dir, createLogger('silent'), url);
    await store.start();
    try {
      const d1 = await store.db
        .selectFrom('devices')
        .selectAll()
        .where('id', '=', 'd1')
        .executeTakeFirstOrThrow();
      const d2 = await store.db
        .selectFrom('devices')
        .selectAll()
        .where('id', '=', 'd2')
        .executeTakeFirstOrThrow();
      expect([d1.created_at, d1.installed_at, d1.last_seen_at, d1.updated_at, d1.secret_rotated_at]).toEqual([
        Date.parse(created),
        Date.parse(installed),
        Date.parse(seen),
        Date.parse(seen),
        Date.parse(created),
      ]);
      expect(d2.last_seen_at).toBeNull();
      const view = toDeviceView(d1);
      expect([view.createdAt, view.installedAt, view.lastSeenAt, view.updatedAt]).toEqual([
        created,
        installed,
        seen,
        seen,
      ]);
      const grid = await store.db.selectFrom('grid_nodes').selectAll().executeTakeFirstOrThrow();
      expect([grid.created_at, grid.updated_at]).toEqual([Date.parse(created), Date.parse(created)]);
      const unmatched = await store.db
        .selectFrom('integration_unmatched')
        .selectAll()
        .executeTakeFirstOrThrow();
      expect([unmatched.first_at, unmatched.last_at]).toEqual([Date.parse(created), Date.parse(seen)]);
      if (!url)
        expect(
          (
            await sql<{ id: string; r: number }>`select id, rowid as r from devices order by id`.execute(
              store.db,
            )
          ).rows,
        ).toEqual(rowidsBefore);

      // the commissioning records' JSON holds ms now, and the installer's view shows the old text
      const commissioning = await store.db
        .selectFrom('device_commissioning')
        .selectAll()
        .executeTakeFirstOrThrow();
      expect(JSON.parse(commissioning.accepted)).toEqual([{ ...record, at: Date.parse(seen) }]);
      expect(commissioning.updated_at).toBe(Date.parse(seen));
      expect((await new CommissioningLog(store, createLogger('silent')).view('d1')).accepted).toEqual([
        record,
      ]);

      const audit = await store.db.selectFrom('audit_log').selectAll().orderBy('seq').execute();
      expect(audit.map((r) => r.at)).toEqual(auditTimes.map((t) => Date.parse(t)));
      // Only the foreign text is kept; the hub's own renders back from the ms.
      expect(audit.map((r) => r.at_as_hashed)).toEqual([null, null, foreign, null]);
      expect(audit.map(hashedTime)).toEqual(auditTimes);
      const verifier = new ChainVerifier();
      verifier.check(audit);
      expect(verifier.broken).toBeNull();
      expect(verifier.entries).toBe(4);
      // Negative control: the kept text is what makes that row verify.
      const stripped = new ChainVerifier();
      stripped.check(audit.map((r): AuditRow => ({ ...r, at_as_hashed: null })));
      expect(stripped.broken).toBe(audit[2]?.seq);

      // The chain grows on the new code and still verifies end to end.
      await store.db.transaction().execute((trx) =>
        appendAudit(trx, {
          actor: 'person:a',
          action: 'device.rotate-secret',
          entityType: 'device',
          entityId: 'd1',
        }),
      );
      const after = await store.db.selectFrom('audit_log').selectAll().orderBy('seq').execute();
      expect(after).toHaveLength(5);
      expect(typeof after[4]?.at).toBe('number');
      expect(after[4]?.at_as_hashed).toBeNull();
      const again = new ChainVerifier();
      again.check(after);
      expect(again.broken).toBeNull();
      // The audit log stays append-only after its one conversion.
      await expect(sql`update audit_log set actor = 'x' where seq = 1`.execute(store.db)).rejects.toThrow(
        /append-only/,
      );
    } finally {
      await store.stop();
    }
  });

  it('0011 refuses a time that is no time, naming the place, and changes nothing', async () => {
    const { dir, url } = await tempStore();
    const old = await oldStore(dir, url);
    await sql`insert into grid_nodes (id, parent_id, kind, exclusive_type, name, path, created_at, updated_at)
              values ('g1', null, 'grid', null, 'G', '/g1/', 'yesterday-ish', '2026-11-20T08:15:30.123Z')`.execute(
      old,
    );
    await old.destroy();
    const store = new Store(dir, createLogger('silent'), url);
    await expect(store.start()).rejects.toThrow(/grid_nodes/);
    // Positive control: once the value is a time, the same store migrates.
    const fix = await oldStore(dir, url);
    await sql`update grid_nodes set created_at = '2026-11-20T08:15:30.123Z'`.execute(fix);
    await fix.destroy();
    const fixed = new Store(dir, createLogger('silent'), url);
    await fixed.start();
    try {
      const g = await fixed.db.selectFrom('grid_nodes').select('created_at').executeTakeFirstOrThrow();
      expect(g.created_at).toBe(Date.parse('2026-11-20T08:15:30.123Z'));
    } finally {
      await fixed.stop();
    }
  });

  it('every time-named column of a migrated store is an integer', async () => {
    const { dir, url } = await tempStore();
    const store = new Store(dir, createLogger('silent'), url);
    await store.start();
    try {
      const columns = await storeColumns(store);
      // The introspection sees the store: tables of every era, times old and new.
      expect(columns.filter((c) => c.table === 'devices').map((c) => c.column)).toContain('installed_at');
      expect(columns.some((c) => c.table === 'tickets' && c.column === 'created_at')).toBe(true);
      expect(columns.filter((c) => TIME_NAME.test(c.column)).length).toBeGreaterThan(40);
      expect(notIntegerTimes(columns)).toEqual([]);

      // Positive control: a text time column is found.
      await sql`create table times_probe (id text primary key, seen_at text, at_time text)`.execute(store.db);
      expect(notIntegerTimes(await storeColumns(store))).toEqual([
        'times_probe.seen_at (text)',
        'times_probe.at_time (text)',
      ]);
    } finally {
      await store.stop();
    }
  });
});

/** Names that hold a time: `at`, `ts`, `time`, and anything ending `_at`, `_ts`, `_time`. */
const TIME_NAME = /(^|_)(at|ts|time)$/;

interface Column {
  table: string;
  column: string;
  type: string;
}

/** Every column of every table of the store (not Kysely's migration bookkeeping). */
async function storeColumns(store: Store): Promise<Column[]> {
  if (onPostgres()) {
    const r = await sql<Column>`select table_name as "table", column_name as "column", data_type as "type"
      from information_schema.columns where table_schema = current_schema() and table_name not like 'kysely\\_%'
      order by table_name, ordinal_position`.execute(store.db);
    return r.rows;
  }
  const r = await sql<Column>`select m.name as "table", c.name as "column", lower(c.type) as "type"
    from sqlite_master m join pragma_table_info(m.name) c
    where m.type = 'table' and m.name not like 'kysely\\_%' escape '\\' and m.name not like 'sqlite\\_%' escape '\\'
    order by m.name, c.cid`.execute(store.db);
  return r.rows;
}

function notIntegerTimes(columns: readonly Column[]): string[] {
  // SQLite's INTEGER; PostgreSQL's bigint (epoch ms do not fit its 32-bit integer).
  const integer = onPostgres() ? ['bigint'] : ['integer'];
  return columns
    .filter((c) => TIME_NAME.test(c.column) && !integer.includes(c.type))
    .map((c) => `${c.table}.${c.column} (${c.type})`);
}
