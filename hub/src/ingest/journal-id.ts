import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The identity of the ingest journal in `dataDir` (`journal.id`, made once): positions in it that
 * are kept outside the node — the local series store's `journalSeq:<id>` in a PostgreSQL database
 * several nodes share — name the journal they belong to. It goes with journal.sqlite: a node
 * started on a fresh data directory is a new journal.
 */
export function journalId(dataDir: string): string {
  const file = join(dataDir, 'journal.id');
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f]{16,64}$/.test(id)) return id;
  }
  const id = randomBytes(8).toString('hex');
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}
