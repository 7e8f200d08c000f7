import type BetterSqlite3 from 'better-sqlite3';

/**
 * The events table before 2026-12 had `code` in a WITHOUT ROWID primary key: SQLite refuses NULL
 * there, and INSERT OR IGNORE swallowed the refusal, so no event without a code (smoke.alarm,
 * tamper, battery.low …) was ever stored. Rebuilt as a rowid table keyed by the event id, keeping
 * what was stored.
 */
export function migrateEvents(db: BetterSqlite3.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version >= 1) return;
  db.transaction(() => {
    const old = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'events'").get();
    if (old) db.exec('ALTER TABLE events RENAME TO events_v0');
    db.exec(`CREATE TABLE events (device TEXT NOT NULL, ts INTEGER NOT NULL, type TEXT NOT NULL, code TEXT, event_id TEXT);
      CREATE UNIQUE INDEX events_device_event ON events (device, event_id) WHERE event_id IS NOT NULL;
      CREATE INDEX events_device_ts ON events (device, ts);`);
    if (old) {
      db.exec('INSERT INTO events (device, ts, type, code) SELECT device, ts, type, code FROM events_v0');
      db.exec('DROP TABLE events_v0');
    }
    db.pragma('user_version = 1');
  })();
}
