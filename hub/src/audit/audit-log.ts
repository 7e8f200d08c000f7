import { createHash } from 'node:crypto';
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { AuditLogTable, AuditRow, Database } from '../store/tables.ts';

export interface AuditEntry {
  actor: string;
  action: string;
  entityType: string;
  entityId: string;
  data?: unknown;
}

/** The `prev_hash` of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

function entryHash(prevHash: string, at: string, e: AuditEntry, data: string): string {
  return createHash('sha256')
    .update(JSON.stringify([prevHash, at, e.actor, e.action, e.entityType, e.entityId, data]))
    .digest('hex');
}

/**
 * The time text a row's hash covers: the ISO rendering of its epoch ms, which reproduces exactly
 * what the hub hashed when it stored ISO text (toISOString both ways), or the stored text where
 * migration 0011 found it did not (`at_as_hashed`).
 */
export function hashedTime(row: Pick<AuditRow, 'at' | 'at_as_hashed'>): string {
  return row.at_as_hashed ?? new Date(row.at).toISOString();
}

/** Rows for `entries`, each chained to the one before it, the first to `prevHash`. */
export function chainEntries(
  prevHash: string,
  entries: readonly AuditEntry[],
  at = Date.now(),
): Insertable<AuditLogTable>[] {
  let prev = prevHash;
  const atText = new Date(at).toISOString();
  return entries.map((entry) => {
    const data = JSON.stringify(entry.data ?? null);
    const hash = entryHash(prev, atText, entry, data);
    const row = {
      at,
      actor: entry.actor,
      action: entry.action,
      entity_type: entry.entityType,
      entity_id: entry.entityId,
      data,
      prev_hash: prev,
      hash,
    };
    prev = hash;
    return row;
  });
}

/** Rows per INSERT: 8 columns each, well under SQLite's limit on bound parameters. */
const INSERT_ROWS = 500;

/**
 * Append to the hash-chained audit log inside the caller's transaction, so the changes and their
 * audit entries commit together. SQLite serialises writers, so the chain cannot fork. Many entries
 * (a bulk import's chunk) share one read of the chain's head and one time stamp.
 */
export async function appendAudit(
  trx: Transaction<Database> | Kysely<Database>,
  entry: AuditEntry | readonly AuditEntry[],
): Promise<void> {
  const entries = Array.isArray(entry) ? entry : [entry as AuditEntry];
  if (entries.length === 0) return;
  const last = await trx
    .selectFrom('audit_log')
    .select('hash')
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  const rows = chainEntries(last?.hash ?? GENESIS_HASH, entries);
  for (let i = 0; i < rows.length; i += INSERT_ROWS)
    await trx
      .insertInto('audit_log')
      .values(rows.slice(i, i + INSERT_ROWS))
      .execute();
}

/**
 * Walks the chain a page at a time: feed it rows in `seq` order; `broken` is the first sequence
 * number whose hash does not match, or null while the chain is intact.
 */
export class ChainVerifier {
  private prev = GENESIS_HASH;
  broken: number | null = null;
  entries = 0;

  /** Check the next rows (after a broken link, rows are only counted). */
  check(rows: readonly AuditRow[]): void {
    for (const row of rows) {
      this.entries++;
      if (this.broken !== null) continue;
      const expected = entryHash(
        this.prev,
        hashedTime(row),
        { actor: row.actor, action: row.action, entityType: row.entity_type, entityId: row.entity_id },
        row.data,
      );
      if (row.prev_hash !== this.prev || row.hash !== expected) this.broken = row.seq;
      this.prev = row.hash;
    }
  }
}

/** Walk the chain; returns the first sequence number whose hash does not match, or null if intact. */
export function firstBrokenLink(rows: readonly AuditRow[]): number | null {
  const v = new ChainVerifier();
  v.check(rows);
  return v.broken;
}
