import { sql, type Transaction } from 'kysely';
import type { IdentityField } from '../devices/identities.ts';
import type { Store } from '../store/store.ts';
import type { Database, IntegrationRow, IntegrationUnmatchedRow } from '../store/tables.ts';

/** The SQL of integrations and their unmatched identities (STYLE.md §8: the repository owns it). */
export class IntegrationStore {
  constructor(private readonly store: Store) {}

  all(): Promise<IntegrationRow[]> {
    return this.store.db.selectFrom('integrations').selectAll().orderBy('id').execute();
  }

  get(id: string): Promise<IntegrationRow | undefined> {
    return this.store.db.selectFrom('integrations').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async insert(trx: Transaction<Database>, row: IntegrationRow): Promise<void> {
    await trx.insertInto('integrations').values(row).execute();
  }

  async update(trx: Transaction<Database>, id: string, set: Partial<IntegrationRow>): Promise<void> {
    await trx.updateTable('integrations').set(set).where('id', '=', id).execute();
  }

  async remove(trx: Transaction<Database>, id: string): Promise<void> {
    await trx.deleteFrom('integration_unmatched').where('integration_id', '=', id).execute();
    await trx.deleteFrom('integrations').where('id', '=', id).execute();
  }

  /**
   * Count a message for an identity nobody registered: one upsert, on the push path; a store that
   * refuses it must not refuse the push, so the caller catches.
   */
  async noteUnmatched(
    integrationId: string,
    field: IdentityField,
    identity: string,
    excerpt: string,
  ): Promise<void> {
    const now = Date.now();
    await this.store.db
      .insertInto('integration_unmatched')
      .values({
        integration_id: integrationId,
        identity,
        identity_kind: field,
        first_at: now,
        last_at: now,
        count: 1,
        excerpt,
      })
      .onConflict((oc) =>
        oc.columns(['integration_id', 'identity']).doUpdateSet({
          last_at: (eb) => eb.ref('excluded.last_at'),
          count: sql<number>`integration_unmatched.count + 1`,
          excerpt: (eb) => eb.ref('excluded.excerpt'),
        }),
      )
      .execute();
  }

  unmatched(integrationId: string, limit = 500): Promise<IntegrationUnmatchedRow[]> {
    return this.store.db
      .selectFrom('integration_unmatched')
      .selectAll()
      .where('integration_id', '=', integrationId)
      .orderBy('last_at', 'desc')
      .limit(limit)
      .execute();
  }

  oneUnmatched(integrationId: string, identity: string): Promise<IntegrationUnmatchedRow | undefined> {
    return this.store.db
      .selectFrom('integration_unmatched')
      .selectAll()
      .where('integration_id', '=', integrationId)
      .where('identity', '=', identity)
      .executeTakeFirst();
  }

  async dropUnmatched(integrationId: string, identity: string): Promise<number> {
    const r = await this.store.db
      .deleteFrom('integration_unmatched')
      .where('integration_id', '=', integrationId)
      .where('identity', '=', identity)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Entries that a registration has since made known (registered elsewhere, e.g. by CSV). */
  async dropRegistered(): Promise<void> {
    await sql`DELETE FROM integration_unmatched WHERE EXISTS (SELECT 1 FROM devices d WHERE
           (identity_kind = 'imei' AND d.imei = identity) OR
           (identity_kind = 'platformDeviceId' AND d.platform_device_id = identity) OR
           (identity_kind = 'devEui' AND d.dev_eui = identity))`.execute(this.store.db);
  }

  close(): void {}
}
