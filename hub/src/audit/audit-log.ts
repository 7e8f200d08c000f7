import { createHash } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { AuditRow, Database } from '../store/tables.ts';

export interface AuditEntry {
  actor: string;
  action: string;
  entityType: string;
  entityId: string;
  data?: unknown;
}

const GENESIS = '0'.repeat(64);

function entryHash(prevHash: string, at: string, e: AuditEntry, data: string): string {
  return createHash('sha256')
    .update(JSON.stringify([prevHash, at, e.actor, e.action, e.entityType, e.entityId, data]))
    .digest('hex');
}

/**
 * Append to the hash-chained audit log inside the caller's transaction, so the change and its
 * audit entry commit together. SQLite serialises writers, so the chain cannot fork.
 */
export async function appendAudit(
  trx: Transaction<Database> | Kysely<Database>,
  entry: AuditEntry,
): Promise<void> {
  const last = await trx
    .selectFrom('audit_log')
    .select('hash')
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  const prevHash = last?.hash ?? GENESIS;
  const at = new Date().toISOString();
  const data = JSON.stringify(entry.data ?? null);
  await trx
    .insertInto('audit_log')
    .values({
      at,
      actor: entry.actor,
      action: entry.action,
      entity_type: entry.entityType,
      entity_id: entry.entityId,
      data,
      prev_hash: prevHash,
      hash: entryHash(prevHash, at, entry, data),
    })
    .execute();
}

/** Walk the chain; returns the first sequence number whose hash does not match, or null if intact. */
export function firstBrokenLink(rows: readonly AuditRow[]): number | null {
  let prev = GENESIS;
  for (const row of rows) {
    const expected = entryHash(
      prev,
      row.at,
      { actor: row.actor, action: row.action, entityType: row.entity_type, entityId: row.entity_id },
      row.data,
    );
    if (row.prev_hash !== prev || row.hash !== expected) return row.seq;
    prev = row.hash;
  }
  return null;
}
