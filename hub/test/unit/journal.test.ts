/**
 * The ingest journal on a real SQLite file in its writer thread (no socket): group commits assign
 * ordered positions, an event id is recorded once, the spool keeps order and its bound, and all of it
 * survives closing and reopening — the properties the PUBACK promise rests on.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { Journal, type JournalEntry } from '../../src/ingest/journal.ts';
import { createLogger } from '../../src/logger.ts';
import { Metrics } from '../../src/metrics.ts';
import { StorageHealth } from '../../src/store/storage-health.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gridhub-journal-'));
  dirs.push(d);
  return d;
}

function journal(dataDir: string, spoolMaxPoints = 1000, legacy?: { storeFile: string; spoolFile: string }) {
  const metrics = new Metrics();
  const logger = createLogger('silent');
  return new Journal(
    { dataDir, spoolMaxPoints, maxBatch: 100, ...(legacy ? { legacy } : {}) },
    new StorageHealth(metrics, logger),
    metrics,
    logger,
  );
}

const entry = (deviceId: string, eventId: string | null, lines: string[] = []): JournalEntry => ({
  deviceId,
  eventId,
  kind: eventId ? 'event' : 'telemetry',
  body: JSON.stringify({ deviceId, eventId }),
  receivedAt: Date.now(),
  lines,
  rulesDone: false,
});

describe('ingest journal', () => {
  it('commits in groups with ordered positions, and records each event id once', async () => {
    const j = journal(dir());
    await j.start();
    const results = await Promise.all(
      Array.from({ length: 250 }, (_, i) => j.append(entry(`d${i % 5}`, `e${i}`))),
    );
    const seqs = results.map((r) => r.seq as number);
    expect(results.every((r) => !r.duplicate)).toBe(true);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(250);
    const again = await Promise.all([j.append(entry('d0', 'e0')), j.append(entry('d1', 'e0'))]);
    expect(again.map((r) => r.duplicate)).toEqual([true, false]);
    expect(await j.lastSeq()).toBe(Math.max(...seqs) + 1);
    await j.stop();
  });

  it('keeps the spool in order across a restart and drops the oldest beyond its bound', async () => {
    const d = dir();
    const j = journal(d, 5);
    await j.start();
    await j.append(entry('d', 'e1', ['a', 'b']));
    await j.spoolAppend(['c']);
    await j.stop();
    const k = journal(d, 5);
    await k.start();
    expect((await k.spoolPeek(10)).map((p) => p.line)).toEqual(['a', 'b', 'c']);
    await k.append(entry('d', 'e2', ['d', 'e', 'f', 'g']));
    const held = await k.spoolPeek(10);
    expect(held.map((p) => p.line)).toEqual(['c', 'd', 'e', 'f', 'g']);
    await k.spoolRemove(held.slice(0, 2).map((p) => p.id));
    expect((await k.spoolPeek(10)).map((p) => p.line)).toEqual(['e', 'f', 'g']);
    expect(await k.spoolSize()).toBe(3);
    await k.stop();
  });

  it('gives back what rules have not finished after a restart, and prunes only what every consumer took', async () => {
    const d = dir();
    const j = journal(d);
    await j.start();
    const r = await Promise.all([1, 2, 3, 4].map((i) => j.append(entry('d', `e${i}`))));
    const [s1, s2, s3, s4] = r.map((x) => x.seq as number) as [number, number, number, number];
    await j.rulesDone([s1, s3]);
    await j.stop();
    const k = journal(d);
    await k.start();
    expect((await k.pending(0, 10)).map((p) => p.seq)).toEqual([s2, s4]);
    expect((await k.since(s2, 10)).map((p) => p.seq)).toEqual([s3, s4]);
    // consumers took up to s3; s2 is not done, so only s1 and s3 may go
    await k.prune(s3, 0);
    expect((await k.since(0, 10)).map((p) => p.seq)).toEqual([s2, s4]);
    // the dedupe record outlives the inbox row
    expect((await k.append(entry('d', 'e1'))).duplicate).toBe(true);
    await k.stop();
  });

  it('imports an older install’s dedupe records and unsent spool points once', async () => {
    const d = dir();
    const storeFile = join(d, 'gridhub.sqlite');
    const spoolFile = join(d, 'timeseries-spool.sqlite');
    const store = new BetterSqlite3(storeFile);
    store.exec('CREATE TABLE device_events_seen (device_id TEXT, event_id TEXT, received_at INTEGER)');
    store.prepare('INSERT INTO device_events_seen VALUES (?, ?, ?)').run('d', 'old-1', Date.now());
    store.close();
    const spool = new BetterSqlite3(spoolFile);
    spool.exec('CREATE TABLE spool (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL)');
    spool.prepare('INSERT INTO spool (line) VALUES (?)').run('old-point');
    spool.close();
    const j = journal(d, 1000, { storeFile, spoolFile });
    await j.start();
    expect((await j.append(entry('d', 'old-1'))).duplicate).toBe(true);
    expect((await j.spoolPeek(10)).map((p) => p.line)).toEqual(['old-point']);
    await j.stop();
    const k = journal(d, 1000, { storeFile, spoolFile });
    await k.start();
    expect(await k.spoolSize()).toBe(1);
    await k.stop();
  });

  it('checkpoints the main store, the series file and the session file, which the event loop never syncs', async () => {
    const d = dir();
    const files = ['gridhub.sqlite', 'series.sqlite', 'broker.sqlite'].map((f) => join(d, f));
    // each written the way the event loop writes it: WAL, synchronous NORMAL, no automatic checkpoint
    const writers = files.map((f) => {
      const db = new BetterSqlite3(f);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('wal_autocheckpoint = 0');
      db.exec('CREATE TABLE t (n INTEGER)');
      const insert = db.prepare('INSERT INTO t (n) VALUES (?)');
      db.transaction(() => {
        for (let n = 0; n < 500; n++) insert.run(n);
      })();
      return db;
    });
    // The main file alone (without its WAL) holds a row only once a checkpoint copied it there.
    const inMainFile = (f: string) => {
      const copy = `${f}.copy`;
      copyFileSync(f, copy);
      const db = new BetterSqlite3(copy, { readonly: true });
      try {
        return (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 't'").get() as { n: number })
          .n;
      } finally {
        db.close();
        rmSync(copy, { force: true });
      }
    };
    expect(files.map(inMainFile)).toEqual([0, 0, 0]);
    const metrics = new Metrics();
    const logger = createLogger('silent');
    const j = new Journal(
      {
        dataDir: d,
        spoolMaxPoints: 1000,
        maxBatch: 100,
        storeFile: files[0],
        seriesFile: files[1],
        sessionFile: files[2],
      },
      new StorageHealth(metrics, logger),
      metrics,
      logger,
    );
    await j.start();
    expect(await j.checkpoint()).toBe(true);
    expect(files.map(inMainFile)).toEqual([1, 1, 1]);
    await j.stop();
    for (const w of writers) w.close();
  });
});
