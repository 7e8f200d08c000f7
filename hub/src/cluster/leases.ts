import type { Db } from '../store/store.ts';

/**
 * A named lease in the store: one holder at a time, kept by renewing before it runs out, taken
 * over by another node once it has run out (the holder died or lost the store). One statement,
 * an upsert whose update only happens when the lease is the caller's own or expired, so two nodes
 * asking at once cannot both get it (the row is the arbiter on SQLite and PostgreSQL alike).
 */
export async function acquireLease(
  db: Db,
  name: string,
  holder: string,
  ttlMs: number,
  now = Date.now(),
): Promise<boolean> {
  const row = await db
    .insertInto('cluster_leases')
    .values({ name, holder, lease_until: now + ttlMs })
    .onConflict((oc) =>
      oc
        .column('name')
        .doUpdateSet({ holder, lease_until: now + ttlMs })
        .where((eb) =>
          eb.or([eb('cluster_leases.holder', '=', holder), eb('cluster_leases.lease_until', '<', now)]),
        ),
    )
    .returning('holder')
    .executeTakeFirst();
  return row?.holder === holder;
}

/** Give a lease up (on a clean stop), so another node need not wait for it to run out. */
export async function releaseLease(db: Db, name: string, holder: string): Promise<void> {
  await db.deleteFrom('cluster_leases').where('name', '=', name).where('holder', '=', holder).execute();
}

/** The holder of a lease that has not run out, if any. */
export async function leaseHolder(db: Db, name: string, now = Date.now()): Promise<string | undefined> {
  const row = await db
    .selectFrom('cluster_leases')
    .select('holder')
    .where('name', '=', name)
    .where('lease_until', '>=', now)
    .executeTakeFirst();
  return row?.holder;
}
