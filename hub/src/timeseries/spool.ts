import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';

/**
 * A durable, bounded, ordered queue of line-protocol points on disk (its own SQLite file, so bursts
 * of writes never contend with the main store). Points stay until the server confirms them; beyond
 * `maxPoints` the oldest are dropped, and the count of dropped points is returned to be reported.
 */
export class Spool {
  private db: BetterSqlite3.Database | undefined;

  constructor(
    private readonly file: string,
    private readonly maxPoints: number,
  ) {}

  open(): void {
    mkdirSync(join(this.file, '..'), { recursive: true });
    const db = new BetterSqlite3(this.file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL)');
    this.db = db;
  }

  close(): void {
    this.db?.close();
    this.db = undefined;
  }

  private get handle(): BetterSqlite3.Database {
    if (!this.db) throw new Error('spool is not open');
    return this.db;
  }

  /** Append points; returns how many of the oldest had to be dropped to stay within the bound. */
  append(lines: readonly string[]): number {
    const db = this.handle;
    const insert = db.prepare('INSERT INTO spool (line) VALUES (?)');
    let dropped = 0;
    db.transaction(() => {
      for (const l of lines) insert.run(l);
      const over = this.size() - this.maxPoints;
      if (over > 0) {
        dropped = db
          .prepare('DELETE FROM spool WHERE id IN (SELECT id FROM spool ORDER BY id LIMIT ?)')
          .run(over).changes;
      }
    })();
    return dropped;
  }

  /** The oldest points, in order. */
  peek(limit: number): { id: number; line: string }[] {
    return this.handle
      .prepare<[number], { id: number; line: string }>('SELECT id, line FROM spool ORDER BY id LIMIT ?')
      .all(limit);
  }

  remove(ids: readonly number[]): void {
    if (ids.length === 0) return;
    const del = this.handle.prepare('DELETE FROM spool WHERE id = ?');
    this.handle.transaction(() => {
      for (const id of ids) del.run(id);
    })();
  }

  size(): number {
    return (this.handle.prepare('SELECT count(*) AS n FROM spool').get() as { n: number }).n;
  }
}
