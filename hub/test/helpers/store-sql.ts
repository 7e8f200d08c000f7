/**
 * Raw SQL against a test hub's store on either dialect, for tests that look inside the store (row
 * counts) or inject a fault there. Placeholders are written `?` (SQLite's); on PostgreSQL they
 * become $1, $2 ….
 */
import { CompiledQuery } from 'kysely';
import type { Store } from '../../src/store/store.ts';

function compile(store: Store, text: string, params: unknown[]): CompiledQuery {
  let n = 0;
  const dialectText = store.dialect === 'postgres' ? text.replace(/\?/g, () => `$${++n}`) : text;
  return CompiledQuery.raw(dialectText, params);
}

export async function storeRows<R>(store: Store, text: string, ...params: unknown[]): Promise<R[]> {
  return (await store.db.executeQuery<R>(compile(store, text, params))).rows;
}

/** The `n` of a `SELECT count(*) AS n …`. */
export async function storeCount(store: Store, text: string, ...params: unknown[]): Promise<number> {
  const [row] = await storeRows<{ n: number }>(store, text, ...params);
  return Number(row?.n ?? 0);
}

/** A trigger that refuses inserts into `table` of the row whose `id` is `id`: a real write fault. */
export async function injectInsertFault(
  store: Store,
  table: string,
  id: string,
): Promise<() => Promise<void>> {
  if (store.dialect === 'postgres') {
    await storeRows(
      store,
      `CREATE FUNCTION inject_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
         IF NEW.id = '${id}' THEN RAISE EXCEPTION 'injected write fault'; END IF; RETURN NEW; END $$`,
    );
    await storeRows(
      store,
      `CREATE TRIGGER inject_fault BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION inject_fault()`,
    );
    return async () => {
      await storeRows(store, `DROP TRIGGER inject_fault ON ${table}`);
      await storeRows(store, 'DROP FUNCTION inject_fault()');
    };
  }
  await storeRows(
    store,
    `CREATE TRIGGER inject_fault BEFORE INSERT ON ${table} WHEN NEW.id = '${id}'
       BEGIN SELECT RAISE(ABORT, 'injected write fault'); END`,
  );
  return async () => {
    await storeRows(store, 'DROP TRIGGER inject_fault');
  };
}
