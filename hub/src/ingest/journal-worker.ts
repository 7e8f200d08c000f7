/**
 * The ingest journal's writer thread. It owns `journal.sqlite` (WAL, synchronous = FULL): the
 * dedupe record of every device event id, the inbox of accepted messages that rules and the local
 * series store have not yet taken, and the InfluxDB spool. One transaction per batch (group
 * commit): a batch is durable — fsync'd, so it survives a power cut, not only a process kill —
 * before the main thread sends the PUBACKs of its messages. Running here keeps the fsync and the
 * inserts off the event loop that serves alarms.
 *
 * Started through journal-worker-boot.mjs (TypeScript needs tsx's loader inside a worker).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import type { JournalEntry, JournalRequest, JournalResponse, JournalRow } from './journal-protocol.ts';

interface WorkerOptions {
  file: string;
  spoolMaxPoints: number;
  /** an older install's dedupe table and spool file, copied in once */
  legacy?: { storeFile: string; spoolFile: string };
  /**
   * The main store's file. Its connection on the event loop runs `synchronous = NORMAL` without
   * automatic checkpoints; this thread checkpoints it, which syncs its WAL, before it marks any
   * message's rules done — so what the rules wrote is on disk before the journal forgets it.
   */
  storeFile?: string;
  /**
   * Other SQLite files the event loop writes with `synchronous = NORMAL` and no automatic
   * checkpoints (the local series store, the broker's session file): this thread checkpoints them
   * about once a second, so no fsync ever runs on the event loop (a busy disk stalled it for
   * seconds), and the series file before the journal forgets what that store says it has taken.
   */
  seriesFile?: string;
  sessionFile?: string;
}

const options = workerData as WorkerOptions;
mkdirSync(dirname(options.file), { recursive: true });
const db = new BetterSqlite3(options.file);
db.pragma('journal_mode = WAL');
// FULL: a commit is on disk before the PUBACK that promises it (a power cut loses nothing acked).
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
db.exec(`
  CREATE TABLE IF NOT EXISTS seen (device_id TEXT NOT NULL, event_id TEXT NOT NULL, received_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, event_id)) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS seen_at ON seen (received_at);
  CREATE TABLE IF NOT EXISTS inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL,
    kind TEXT NOT NULL, body TEXT NOT NULL, received_at INTEGER NOT NULL, rules_done INTEGER NOT NULL DEFAULT 0);
  CREATE INDEX IF NOT EXISTS inbox_rules ON inbox (rules_done, seq);
  CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`);

const stmt = {
  seen: db.prepare<[string, string, number]>(
    'INSERT OR IGNORE INTO seen (device_id, event_id, received_at) VALUES (?, ?, ?)',
  ),
  inbox: db.prepare<[string, string, string, number, number]>(
    'INSERT INTO inbox (device_id, kind, body, received_at, rules_done) VALUES (?, ?, ?, ?, ?)',
  ),
  spool: db.prepare<[string]>('INSERT INTO spool (line) VALUES (?)'),
  rulesDone: db.prepare<[number]>('UPDATE inbox SET rules_done = 1 WHERE seq = ?'),
  pending: db.prepare<[number, number], JournalRow>(
    'SELECT seq, kind, body, rules_done AS rulesDone FROM inbox WHERE rules_done = 0 AND seq > ? ORDER BY seq LIMIT ?',
  ),
  since: db.prepare<[number, number], JournalRow>(
    'SELECT seq, kind, body, rules_done AS rulesDone FROM inbox WHERE seq > ? ORDER BY seq LIMIT ?',
  ),
  spoolPeek: db.prepare<[number], { id: number; line: string }>(
    'SELECT id, line FROM spool ORDER BY id LIMIT ?',
  ),
  spoolRemove: db.prepare<[number]>('DELETE FROM spool WHERE id = ?'),
  spoolDropOldest: db.prepare<[number]>(
    'DELETE FROM spool WHERE id IN (SELECT id FROM spool ORDER BY id LIMIT ?)',
  ),
  pruneInbox: db.prepare<[number, number]>(
    'DELETE FROM inbox WHERE seq IN (SELECT seq FROM inbox WHERE seq <= ? AND rules_done = 1 ORDER BY seq LIMIT ?)',
  ),
  pruneSeen: db.prepare<[number, number]>(
    'DELETE FROM seen WHERE (device_id, event_id) IN (SELECT device_id, event_id FROM seen WHERE received_at < ? LIMIT ?)',
  ),
  recentSeen: db.prepare<[number], [string, string]>(
    'SELECT device_id, event_id FROM seen ORDER BY received_at DESC LIMIT ?',
  ),
  lastSeq: db.prepare<[], { seq: number | null }>('SELECT max(seq) AS seq FROM inbox'),
};

// The spool's size is kept here rather than counted per append (count(*) over millions of rows).
let spoolSize = (db.prepare('SELECT count(*) AS n FROM spool').get() as { n: number }).n;

function boundSpool(): number {
  const over = spoolSize - options.spoolMaxPoints;
  if (over <= 0) return 0;
  const dropped = stmt.spoolDropOldest.run(over).changes;
  spoolSize -= dropped;
  return dropped;
}

/** One group commit: dedupe, inbox rows and spool lines of a batch, all or nothing. */
const appendBatch = db.transaction((entries: JournalEntry[]) => {
  const results: { seq: number | null; duplicate: boolean }[] = [];
  for (const e of entries) {
    if (e.eventId !== null && stmt.seen.run(e.deviceId, e.eventId, e.receivedAt).changes === 0) {
      results.push({ seq: null, duplicate: true });
      continue;
    }
    const seq = Number(
      stmt.inbox.run(e.deviceId, e.kind, e.body, e.receivedAt, e.rulesDone ? 1 : 0).lastInsertRowid,
    );
    for (const line of e.lines) stmt.spool.run(line);
    spoolSize += e.lines.length;
    results.push({ seq, duplicate: false });
  }
  return { results, dropped: boundSpool() };
});

const appendSpool = db.transaction((lines: string[]) => {
  for (const line of lines) stmt.spool.run(line);
  spoolSize += lines.length;
  return boundSpool();
});

const markRulesDone = db.transaction((seqs: number[]) => {
  for (const s of seqs) stmt.rulesDone.run(s);
});

const removeSpool = db.transaction((ids: number[]) => {
  for (const id of ids) spoolSize -= stmt.spoolRemove.run(id).changes;
});

/** Copy an older install's dedupe records and unsent spool points in, once. */
function importLegacy(): void {
  const legacy = options.legacy;
  if (!legacy) return;
  const done = db.prepare("SELECT value FROM meta WHERE key = 'legacyImported'").get();
  if (done) return;
  const attach = (file: string, name: string, body: () => void) => {
    // ATTACH would create a missing file (a PostgreSQL-backed hub has no gridhub.sqlite)
    if (!existsSync(file)) return;
    try {
      db.prepare(`ATTACH DATABASE ? AS ${name}`).run(file);
    } catch {
      return; // no such file: nothing to import
    }
    try {
      body();
    } catch {
      // an older layout without the table: nothing to import
    } finally {
      db.exec(`DETACH DATABASE ${name}`);
    }
  };
  attach(legacy.storeFile, 'legacy_store', () =>
    db.exec(
      'INSERT OR IGNORE INTO seen (device_id, event_id, received_at) SELECT device_id, event_id, received_at FROM legacy_store.device_events_seen',
    ),
  );
  attach(legacy.spoolFile, 'legacy_spool', () =>
    db.exec('INSERT INTO spool (line) SELECT line FROM legacy_spool.spool ORDER BY id'),
  );
  spoolSize = (db.prepare('SELECT count(*) AS n FROM spool').get() as { n: number }).n;
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('legacyImported', '1')").run();
}

const connections = new Map<string, BetterSqlite3.Database>();

/**
 * Checkpoint one of the event loop's files (PASSIVE: never waits for its writers). A checkpoint
 * with anything to copy syncs the WAL first, so every transaction committed before it is durable.
 * False when another checkpoint held the lock (nothing is then known to be synced; the caller
 * tries again).
 */
function syncFile(file: string | undefined): boolean {
  if (!file || !existsSync(file)) return true;
  let conn = connections.get(file);
  if (!conn) {
    conn = new BetterSqlite3(file);
    conn.pragma('synchronous = NORMAL');
    conn.pragma('busy_timeout = 1000');
    connections.set(file, conn);
  }
  const [row] = conn.pragma('wal_checkpoint(PASSIVE)') as { busy: number }[];
  return row?.busy === 0;
}

const syncStore = (): boolean => syncFile(options.storeFile);

let lastOthersSync = 0;
/** The series and session files, at most once a second (each checkpoint is an fsync). */
function syncOthers(force = false): boolean {
  if (!force && Date.now() - lastOthersSync < 1000) return true;
  lastOthersSync = Date.now();
  const series = syncFile(options.seriesFile);
  syncFile(options.sessionFile);
  return series;
}

function handle(req: JournalRequest): unknown {
  switch (req.op) {
    case 'append':
      return appendBatch(req.entries);
    case 'spoolAppend':
      return appendSpool(req.lines);
    case 'rulesDone':
      // The rules' writes first: a message is done only once what they wrote survives a power cut.
      if (!syncStore()) return false;
      markRulesDone(req.seqs);
      syncOthers();
      return true;
    case 'checkpoint':
      syncOthers();
      return syncStore();
    case 'pending':
      return stmt.pending.all(req.afterSeq, req.limit);
    case 'since':
      return stmt.since.all(req.afterSeq, req.limit);
    case 'spoolPeek':
      return stmt.spoolPeek.all(req.limit);
    case 'spoolRemove':
      removeSpool(req.ids);
      return null;
    case 'spoolSize':
      return spoolSize;
    case 'recentSeen':
      return stmt.recentSeen.raw().all(req.limit).reverse();
    case 'lastSeq':
      return stmt.lastSeq.get()?.seq ?? 0;
    case 'prune': {
      // Small steps, so a large backlog never holds the write lock (and the batches behind it) long.
      let inbox = 0;
      let seen = 0;
      // The series store's writes first: it has taken up to consumedUpTo only once that is synced.
      for (let n = syncOthers(true) ? req.limit : 0; n === req.limit; ) {
        n = stmt.pruneInbox.run(req.consumedUpTo, req.limit).changes;
        inbox += n;
      }
      for (let n = req.limit; n === req.limit; ) {
        n = stmt.pruneSeen.run(req.seenBefore, req.limit).changes;
        seen += n;
      }
      return { inbox, seen };
    }
    case 'probe':
      // A tiny durable write: does the disk take writes again?
      db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('probe', ?)").run(String(Date.now()));
      return null;
    case 'close':
      syncStore();
      syncOthers(true);
      for (const conn of connections.values()) conn.close();
      db.close();
      return null;
  }
}

importLegacy();
const port = parentPort;
if (!port) throw new Error('journal-worker must run as a worker thread');
port.on('message', (req: JournalRequest) => {
  let res: JournalResponse;
  try {
    res = { id: req.id, ok: true, value: handle(req) };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    res = { id: req.id, ok: false, error: { code: e.code ?? 'UNKNOWN', message: e.message ?? String(err) } };
  }
  port.postMessage(res);
  if (req.op === 'close') port.close();
});
port.postMessage({ id: 0, ok: true, value: 'ready' } satisfies JournalResponse);
