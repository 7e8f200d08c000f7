import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';

/** A packet as the broker hands it over: plain fields plus a payload (Buffer or string). */
export type StoredPacket = Record<string, unknown> & { payload?: Buffer | string };

interface Encoded {
  packet: string;
  payload: Buffer | string | null;
}

/** Packets are stored as JSON of their fields beside the raw payload (BLOB or TEXT, as given). */
export function encodePacket(packet: StoredPacket): Encoded {
  const { payload, ...fields } = packet;
  return { packet: JSON.stringify(fields), payload: payload ?? null };
}

export function decodePacket(row: Encoded): StoredPacket {
  const fields = JSON.parse(row.packet, (_k, v: unknown) =>
    v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && 'data' in v
      ? Buffer.from((v as { data: number[] }).data)
      : v,
  ) as StoredPacket;
  if (row.payload !== null) fields.payload = row.payload;
  return fields;
}

/** A batch with nothing in it (the next flush's, after one was taken). */
export function emptyBatch(): Batch {
  return {
    retained: new Map(),
    subscriptions: new Map(),
    incoming: new Map(),
    wills: new Map(),
    outgoingDeletes: [],
    outgoingInserts: [],
    outgoingUpdates: [],
  };
}

export interface Loaded {
  retained: { topic: string; packet: StoredPacket }[];
  subscriptions: { clientId: string; topic: string; record: Record<string, unknown> }[];
  outgoing: { seq: number; clientId: string; packet: StoredPacket }[];
  incoming: { clientId: string; messageId: number; packet: StoredPacket }[];
  wills: { clientId: string; packet: StoredPacket }[];
}

/** One flush: every change since the last, already coalesced (null = delete). */
export interface Batch {
  retained: Map<string, StoredPacket | null>;
  subscriptions: Map<string, { clientId: string; topic: string; record: Record<string, unknown> | null }>;
  incoming: Map<string, { clientId: string; messageId: number; packet: StoredPacket | null }>;
  wills: Map<string, StoredPacket | null>;
  outgoingDeletes: number[];
  outgoingInserts: { seq: number; clientId: string; packet: StoredPacket }[];
  outgoingUpdates: { seq: number; packet: StoredPacket }[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS retained (topic TEXT PRIMARY KEY, packet TEXT NOT NULL, payload BLOB) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subscriptions (
  client_id TEXT NOT NULL, topic TEXT NOT NULL, record TEXT NOT NULL, PRIMARY KEY (client_id, topic)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outgoing (
  seq INTEGER PRIMARY KEY, client_id TEXT NOT NULL, packet TEXT NOT NULL, payload BLOB
);
CREATE INDEX IF NOT EXISTS outgoing_client ON outgoing (client_id, seq);
CREATE TABLE IF NOT EXISTS incoming (
  client_id TEXT NOT NULL, message_id INTEGER NOT NULL, packet TEXT NOT NULL, payload BLOB,
  PRIMARY KEY (client_id, message_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS wills (client_id TEXT PRIMARY KEY, packet TEXT NOT NULL, payload BLOB) WITHOUT ROWID;
`;

/**
 * The broker's own SQLite file (`data/broker.sqlite`, WAL): separate from the main store so that
 * session writes never wait behind a ticket transaction, and so that a cluster can swap the whole
 * broker persistence without touching the hub's tables. Reads happen once, at start; afterwards it
 * only receives coalesced batches.
 */
export class SessionFile {
  private readonly db: BetterSqlite3.Database;
  private readonly apply: (batch: Batch) => void;

  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.db = new BetterSqlite3(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL: a committed batch survives a killed process (not necessarily a power loss).
    this.db.pragma('synchronous = NORMAL');
    // No automatic checkpoints: one is an fsync on the event loop; the journal's thread checkpoints
    // this file about once a second (ingest/journal-worker.ts).
    this.db.pragma('wal_autocheckpoint = 0');
    this.db.exec(SCHEMA);
    const s = {
      retainedPut: this.db.prepare(
        'INSERT OR REPLACE INTO retained (topic, packet, payload) VALUES (?, ?, ?)',
      ),
      retainedDel: this.db.prepare('DELETE FROM retained WHERE topic = ?'),
      subPut: this.db.prepare(
        'INSERT OR REPLACE INTO subscriptions (client_id, topic, record) VALUES (?, ?, ?)',
      ),
      subDel: this.db.prepare('DELETE FROM subscriptions WHERE client_id = ? AND topic = ?'),
      inPut: this.db.prepare(
        'INSERT OR REPLACE INTO incoming (client_id, message_id, packet, payload) VALUES (?, ?, ?, ?)',
      ),
      inDel: this.db.prepare('DELETE FROM incoming WHERE client_id = ? AND message_id = ?'),
      willPut: this.db.prepare('INSERT OR REPLACE INTO wills (client_id, packet, payload) VALUES (?, ?, ?)'),
      willDel: this.db.prepare('DELETE FROM wills WHERE client_id = ?'),
      outIns: this.db.prepare('INSERT INTO outgoing (seq, client_id, packet, payload) VALUES (?, ?, ?, ?)'),
      outUpd: this.db.prepare('UPDATE outgoing SET packet = ?, payload = ? WHERE seq = ?'),
      outDel: this.db.prepare('DELETE FROM outgoing WHERE seq = ?'),
    };
    this.apply = this.db.transaction((b: Batch) => {
      for (const [topic, p] of b.retained) {
        if (p) {
          const e = encodePacket(p);
          s.retainedPut.run(topic, e.packet, e.payload);
        } else s.retainedDel.run(topic);
      }
      for (const { clientId, topic, record } of b.subscriptions.values()) {
        if (record) s.subPut.run(clientId, topic, JSON.stringify(record));
        else s.subDel.run(clientId, topic);
      }
      for (const { clientId, messageId, packet } of b.incoming.values()) {
        if (packet) {
          const e = encodePacket(packet);
          s.inPut.run(clientId, messageId, e.packet, e.payload);
        } else s.inDel.run(clientId, messageId);
      }
      for (const [clientId, p] of b.wills) {
        if (p) {
          const e = encodePacket(p);
          s.willPut.run(clientId, e.packet, e.payload);
        } else s.willDel.run(clientId);
      }
      for (const seq of b.outgoingDeletes) s.outDel.run(seq);
      for (const { seq, clientId, packet } of b.outgoingInserts) {
        const e = encodePacket(packet);
        s.outIns.run(seq, clientId, e.packet, e.payload);
      }
      for (const { seq, packet } of b.outgoingUpdates) {
        const e = encodePacket(packet);
        s.outUpd.run(e.packet, e.payload, seq);
      }
    });
  }

  load(): Loaded {
    type Row = { packet: string; payload: Buffer | string | null };
    return {
      retained: this.db
        .prepare<[], Row & { topic: string }>('SELECT topic, packet, payload FROM retained')
        .all()
        .map((r) => ({ topic: r.topic, packet: decodePacket(r) })),
      subscriptions: this.db
        .prepare<[], { client_id: string; topic: string; record: string }>(
          'SELECT client_id, topic, record FROM subscriptions',
        )
        .all()
        .map((r) => ({
          clientId: r.client_id,
          topic: r.topic,
          record: JSON.parse(r.record) as Record<string, unknown>,
        })),
      outgoing: this.db
        .prepare<[], Row & { seq: number; client_id: string }>(
          'SELECT seq, client_id, packet, payload FROM outgoing ORDER BY seq',
        )
        .all()
        .map((r) => ({ seq: r.seq, clientId: r.client_id, packet: decodePacket(r) })),
      incoming: this.db
        .prepare<[], Row & { client_id: string; message_id: number }>(
          'SELECT client_id, message_id, packet, payload FROM incoming',
        )
        .all()
        .map((r) => ({ clientId: r.client_id, messageId: r.message_id, packet: decodePacket(r) })),
      wills: this.db
        .prepare<[], Row & { client_id: string }>('SELECT client_id, packet, payload FROM wills')
        .all()
        .map((r) => ({ clientId: r.client_id, packet: decodePacket(r) })),
    };
  }

  write(batch: Batch): void {
    this.apply(batch);
  }

  /** Rows per table, for tests and operations. */
  counts(): Record<'retained' | 'subscriptions' | 'outgoing' | 'incoming' | 'wills', number> {
    const n = (t: string) =>
      (this.db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number } | undefined)?.n ?? 0;
    return {
      retained: n('retained'),
      subscriptions: n('subscriptions'),
      outgoing: n('outgoing'),
      incoming: n('incoming'),
      wills: n('wills'),
    };
  }

  close(): void {
    this.db.close();
  }
}
