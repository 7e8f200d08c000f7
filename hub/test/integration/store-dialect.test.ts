/**
 * What the services' SQL relies on holds on the store this project runs on (SQLite in
 * `integration`, PostgreSQL in `pg`, issue 18): transactions run one at a time (a read-then-write
 * inside one sees no concurrent writer), epoch-ms and count columns come back as numbers, every
 * table has a rowid in insertion order, and the store refuses a second open ticket for one incident.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../helpers/test-hub.ts';

describe('the store dialect', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub();
  });
  afterAll(async () => t.cleanup());

  it('runs transactions one at a time: twenty concurrent read-then-writes lose no increment', async () => {
    const db = t.hub.store.db;
    await db.insertInto('settings').values({ key: 'test.counter', value: '0' }).execute();
    const bump = () =>
      db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('settings')
          .select('value')
          .where('key', '=', 'test.counter')
          .executeTakeFirstOrThrow();
        await new Promise((r) => setTimeout(r, 5)); // another writer would slip in here
        await trx
          .updateTable('settings')
          .set({ value: String(Number(row.value) + 1) })
          .where('key', '=', 'test.counter')
          .execute();
      });
    await Promise.all(Array.from({ length: 20 }, bump));
    const end = await db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', 'test.counter')
      .executeTakeFirst();
    expect(end?.value).toBe('20');
  });

  it('returns epoch ms, counts and sums as numbers, and rowids in insertion order', async () => {
    const db = t.hub.store.db;
    const at = Date.UTC(2026, 11, 1, 12);
    // the bootstrap admin is the one person of a fresh hub
    const person = await db.selectFrom('people').select('id').executeTakeFirstOrThrow();
    for (const [i, id] of ['s-a', 's-b', 's-c'].entries())
      await db
        .insertInto('sessions')
        .values({ id_hash: id, person_id: person.id, csrf: 'x', created_at: at + i, expires_at: at + 1000 })
        .execute();
    const rows = await db
      .selectFrom('sessions')
      .select(['id_hash', 'created_at', sql<number>`rowid`.as('rid')])
      .where('id_hash', 'like', 's-%')
      .orderBy(sql`rowid`)
      .execute();
    expect(rows.map((r) => r.id_hash)).toEqual(['s-a', 's-b', 's-c']);
    expect(rows.map((r) => r.created_at)).toEqual([at, at + 1, at + 2]);
    expect(typeof rows[0]?.rid).toBe('number');
    const agg = await db
      .selectFrom('sessions')
      .select([sql<number>`count(*)`.as('n'), sql<number>`sum(created_at)`.as('s')])
      .where('id_hash', 'like', 's-%')
      .executeTakeFirstOrThrow();
    expect(agg).toEqual({ n: 3, s: 3 * at + 3 });
  });

  it('refuses a second open ticket for one incident key, and takes one once the first is closed', async () => {
    const db = t.hub.store.db;
    const grid = await db.selectFrom('grid_nodes').select('id').executeTakeFirst();
    const gridId =
      grid?.id ??
      (
        await db
          .insertInto('grid_nodes')
          .values({
            id: 'g-t',
            parent_id: null,
            kind: 'district',
            exclusive_type: null,
            name: 'T',
            path: '/g-t/',
            created_at: 0,
            updated_at: 0,
          })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
    const ticket = (id: string, state: string) => ({
      id,
      category: 'test',
      source: 'manual',
      severity: 'minor',
      level: 1,
      state,
      title: 't',
      grid_node_id: gridId,
      incident_key: 'test:incident',
      parked: 0,
      extended: 0,
      supervised: 0,
      reminders: 0,
      rework_count: 0,
      recurring: 0,
      occurrences: 1,
      created_at: 1,
      updated_at: 1,
    });
    await db.insertInto('tickets').values(ticket('T-1', 'reported')).execute();
    await expect(db.insertInto('tickets').values(ticket('T-2', 'reported')).execute()).rejects.toThrow();
    // positive control: a closed one does not count
    await db.updateTable('tickets').set({ state: 'closed' }).where('id', '=', 'T-1').execute();
    await db.insertInto('tickets').values(ticket('T-2', 'reported')).execute();
    const open = await db
      .selectFrom('tickets')
      .select('id')
      .where('incident_key', '=', 'test:incident')
      .where('state', '!=', 'closed')
      .execute();
    expect(open).toEqual([{ id: 'T-2' }]);
  });
});
