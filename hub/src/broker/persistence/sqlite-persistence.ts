import { Readable } from 'node:stream';
import { copyPacket, QLOBBER, QlobberSub, QlobberTrue, restorePacket, type TrieSub } from './aedes-parts.ts';
import { type Batch, emptyBatch, SessionFile, type StoredPacket } from './session-file.ts';
import type {
  BrokerLike,
  OutEntry,
  SessionClient,
  SessionSub,
  SqlitePersistenceOptions,
} from './session-types.ts';

const key = (a: string, b: string | number) => `${a}\u0000${b}`;

/**
 * An aedes persistence (the aedes-persistence v11 contract, checked by its abstract test suite)
 * that keeps every session in memory, as aedes' own in-memory persistence does, and writes the
 * changes behind to an SQLite file every `flushMs`, coalesced: a QoS 1 message that is enqueued
 * for a connected persistent session and acknowledged before the next flush never reaches the disk.
 * What is on disk after a flush survives a killed process; a graceful stop flushes everything.
 */
export class SqlitePersistence {
  private file: SessionFile | undefined;
  private broker: BrokerLike | undefined;
  private timer: NodeJS.Timeout | undefined;
  private destroyed = false;
  /** false after a failed flush until the next one succeeds (shown in /ready) */
  healthy = true;

  private readonly retained = new Map<string, StoredPacket>();
  private readonly subscriptions = new Map<string, Map<string, Record<string, unknown>>>();
  private readonly trie = new QlobberSub(QLOBBER);
  private clientsCount = 0;
  private readonly outgoing = new Map<string, OutEntry[]>();
  private readonly incoming = new Map<string, Map<number, StoredPacket>>();
  private readonly wills = new Map<string, StoredPacket>();
  private seq = 1;

  private batch: Batch = emptyBatch();
  /** entries to insert or update at the next flush */
  private readonly dirty = new Set<OutEntry>();

  constructor(private readonly options: SqlitePersistenceOptions) {}

  // ---- lifecycle ----

  async setup(broker: BrokerLike): Promise<void> {
    this.broker = broker;
    if (this.file) return;
    this.file = new SessionFile(this.options.file);
    const loaded = this.file.load();
    for (const r of loaded.retained) this.retained.set(r.topic, r.packet);
    for (const s of loaded.subscriptions) this.addSub(s.clientId, s.topic, s.record);
    for (const o of loaded.outgoing) {
      const packet = o.packet.cmd === 'publish' || !o.packet.cmd ? restorePacket(o.packet) : o.packet;
      this.queue(o.clientId).push({ seq: o.seq, clientId: o.clientId, packet, persisted: true, at: 0 });
      this.seq = Math.max(this.seq, o.seq + 1);
    }
    for (const i of loaded.incoming) this.incomingOf(i.clientId).set(i.messageId, i.packet);
    for (const w of loaded.wills) this.wills.set(w.clientId, w.packet);
    this.timer = setInterval(() => this.flush(false), this.options.flushMs);
    this.timer.unref();
  }

  /**
   * Write pending changes (on the flush timer, and everything at destroy). A new queue entry is
   * written only once it is a full flush interval old: a connected session usually acknowledges it
   * sooner, even while the event loop is busy with the rules the same event set off.
   */
  flush(all = true): void {
    const file = this.file;
    if (!file) return;
    const b = this.batch;
    const written: OutEntry[] = [];
    const young = performance.now() - this.options.flushMs;
    for (const e of this.dirty) {
      if (e.persisted) b.outgoingUpdates.push({ seq: e.seq, packet: e.packet });
      else if (all || e.at <= young)
        b.outgoingInserts.push({ seq: e.seq, clientId: e.clientId, packet: e.packet });
      else continue;
      written.push(e);
    }
    const rows =
      b.retained.size +
      b.subscriptions.size +
      b.incoming.size +
      b.wills.size +
      b.outgoingDeletes.length +
      b.outgoingInserts.length +
      b.outgoingUpdates.length;
    if (rows === 0) return;
    const started = performance.now();
    try {
      file.write(b);
    } catch (err) {
      // Nothing is lost from memory: the same changes are tried again at the next flush.
      b.outgoingInserts.length = 0;
      b.outgoingUpdates.length = 0;
      this.healthy = false;
      this.options.observer?.failed(err);
      return;
    }
    for (const e of written) {
      e.persisted = true;
      this.dirty.delete(e);
    }
    this.batch = emptyBatch();
    this.healthy = true;
    this.options.observer?.flushed(rows, performance.now() - started);
  }

  async destroy(): Promise<void> {
    if (this.destroyed) throw new Error('destroyed called twice!');
    this.destroyed = true;
    clearInterval(this.timer);
    this.flush();
    this.file?.close();
    this.file = undefined;
  }

  /** Rows in the file per table (operations and tests). */
  fileCounts(): ReturnType<SessionFile['counts']> | undefined {
    return this.file?.counts();
  }

  // ---- retained ----

  async storeRetained(pkt: StoredPacket & { topic: string }): Promise<void> {
    const packet = { ...pkt };
    const empty = packet.payload === undefined || packet.payload.length === 0;
    if (empty) this.retained.delete(packet.topic);
    else this.retained.set(packet.topic, packet);
    this.batch.retained.set(packet.topic, empty ? null : packet);
  }

  private *retainedMatching(patterns: string[]): Generator<StoredPacket> {
    for (const pattern of patterns) {
      const q = new QlobberTrue(QLOBBER);
      q.add(pattern);
      for (const [topic, packet] of this.retained) if (q.test(topic)) yield packet;
    }
  }

  createRetainedStream(pattern: string): Readable {
    return Readable.from(this.retainedMatching([pattern]));
  }

  createRetainedStreamCombi(patterns: string[]): Readable {
    return Readable.from(this.retainedMatching(patterns));
  }

  // ---- subscriptions ----

  private addSub(clientId: string, topic: string, record: Record<string, unknown>): void {
    let stored = this.subscriptions.get(clientId);
    if (!stored) {
      stored = new Map();
      this.subscriptions.set(clientId, stored);
      this.clientsCount++;
    }
    const previous = stored.get(topic);
    const qos = record.qos as number;
    if (qos > 0) {
      this.trie.add(topic, {
        clientId,
        topic,
        qos,
        rh: record.rh as number,
        rap: record.rap as boolean,
        nl: record.nl as boolean,
      });
    } else if ((previous?.qos as number) > 0) {
      this.trie.remove(topic, { clientId, topic });
    }
    stored.set(topic, record);
  }

  async addSubscriptions(client: SessionClient, subs: SessionSub[]): Promise<void> {
    for (const sub of subs) {
      const record: Record<string, unknown> = { qos: sub.qos, rh: sub.rh, rap: sub.rap, nl: sub.nl };
      if (sub.subscriptionIdentifier !== undefined)
        record.subscriptionIdentifier = sub.subscriptionIdentifier;
      this.addSub(client.id, sub.topic, record);
      this.batch.subscriptions.set(key(client.id, sub.topic), {
        clientId: client.id,
        topic: sub.topic,
        record,
      });
    }
  }

  async removeSubscriptions(client: SessionClient, topics: string[]): Promise<void> {
    const stored = this.subscriptions.get(client.id);
    if (!stored) return;
    for (const topic of topics) {
      const sub = stored.get(topic);
      if (sub === undefined) continue;
      if ((sub.qos as number) > 0) this.trie.remove(topic, { clientId: client.id, topic });
      stored.delete(topic);
      this.batch.subscriptions.set(key(client.id, topic), { clientId: client.id, topic, record: null });
    }
    if (stored.size === 0) {
      this.clientsCount--;
      this.subscriptions.delete(client.id);
    }
  }

  async subscriptionsByClient(client: SessionClient): Promise<SessionSub[]> {
    const stored = this.subscriptions.get(client.id);
    return stored ? [...stored].map(([topic, r]) => ({ topic, ...r }) as SessionSub) : [];
  }

  async countOffline(): Promise<{ subsCount: number; clientsCount: number }> {
    return { subsCount: this.trie.subscriptionsCount, clientsCount: this.clientsCount };
  }

  async subscriptionsByTopic(pattern: string): Promise<TrieSub[]> {
    return this.trie.match(pattern);
  }

  async cleanSubscriptions(client: SessionClient): Promise<void> {
    const stored = this.subscriptions.get(client.id);
    if (!stored) return;
    await this.removeSubscriptions(client, [...stored.keys()]);
  }

  getClientList(topic: string): Readable {
    const subscriptions = this.subscriptions;
    return Readable.from(
      (function* () {
        for (const [clientId, topics] of subscriptions) if (topics.has(topic)) yield clientId;
      })(),
    );
  }

  // ---- outgoing (QoS > 0 messages per session) ----

  private queue(clientId: string): OutEntry[] {
    let q = this.outgoing.get(clientId);
    if (!q) {
      q = [];
      this.outgoing.set(clientId, q);
    }
    return q;
  }

  private forget(entry: OutEntry): void {
    if (entry.persisted) this.batch.outgoingDeletes.push(entry.seq);
    else this.dirty.delete(entry);
  }

  private enqueue(clientId: string, packet: StoredPacket): void {
    const q = this.queue(clientId);
    const entry: OutEntry = {
      seq: this.seq++,
      clientId,
      packet: copyPacket(packet),
      persisted: false,
      at: performance.now(),
    };
    q.push(entry);
    this.dirty.add(entry);
    // A session whose client never returns must not grow without bound (mosquitto's
    // max_queued_messages); the oldest message goes first and is counted.
    while (q.length > this.options.queueLimit) {
      this.forget(q.shift() as OutEntry);
      this.options.observer?.dropped(clientId);
    }
  }

  async outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void> {
    this.enqueue(sub.clientId, packet);
  }

  async outgoingEnqueueCombi(subs: { clientId: string }[], packet: StoredPacket): Promise<void> {
    for (const sub of subs) this.enqueue(sub.clientId, packet);
  }

  async outgoingUpdate(client: SessionClient, packet: StoredPacket): Promise<void> {
    const q = this.queue(client.id);
    for (const e of q) {
      const p = e.packet;
      if (p.brokerId === packet.brokerId) {
        if (p.brokerCounter === packet.brokerCounter) {
          p.messageId = packet.messageId;
          this.dirty.add(e);
          return;
        }
        // message ids wrap at 65535; brokerCounter tells two packets with one id apart
      } else if (p.messageId === packet.messageId) {
        e.packet = packet;
        this.dirty.add(e);
        return;
      }
    }
    throw new Error('no such packet');
  }

  async outgoingClearMessageId(
    client: SessionClient,
    packet: StoredPacket | number,
  ): Promise<StoredPacket | undefined> {
    const q = this.outgoing.get(client.id);
    if (!q || typeof packet !== 'object') return undefined;
    // A packet aedes drops before sending (refused by authorizeForward) has no message id yet;
    // find it by its broker counter rather than clearing the first unnumbered entry.
    const byCounter = packet.messageId === undefined && packet.brokerId !== undefined;
    const i = q.findIndex((e) =>
      byCounter
        ? e.packet.brokerId === packet.brokerId && e.packet.brokerCounter === packet.brokerCounter
        : e.packet.messageId === packet.messageId,
    );
    if (i < 0) return undefined;
    const [entry] = q.splice(i, 1) as [OutEntry];
    this.forget(entry);
    return entry.packet;
  }

  outgoingStream(client: SessionClient): Readable {
    return Readable.from((this.outgoing.get(client.id) ?? []).map((e) => e.packet));
  }

  // ---- incoming (QoS 2) ----

  private incomingOf(clientId: string): Map<number, StoredPacket> {
    let m = this.incoming.get(clientId);
    if (!m) {
      m = new Map();
      this.incoming.set(clientId, m);
    }
    return m;
  }

  async incomingStorePacket(client: SessionClient, packet: StoredPacket): Promise<void> {
    const messageId = packet.messageId as number;
    const stored = copyPacket(packet);
    stored.messageId = messageId;
    this.incomingOf(client.id).set(messageId, stored);
    this.batch.incoming.set(key(client.id, messageId), { clientId: client.id, messageId, packet: stored });
  }

  async incomingGetPacket(client: SessionClient, packet: { messageId?: unknown }): Promise<StoredPacket> {
    const stored = this.incoming.get(client.id)?.get(packet.messageId as number);
    if (!stored) throw new Error('no such packet');
    return stored;
  }

  async incomingDelPacket(client: SessionClient, packet: { messageId?: unknown }): Promise<void> {
    const messageId = packet.messageId as number;
    const m = this.incoming.get(client.id);
    if (!m?.has(messageId)) throw new Error('no such packet');
    m.delete(messageId);
    this.batch.incoming.set(key(client.id, messageId), { clientId: client.id, messageId, packet: null });
  }

  async cleanIncoming(client: SessionClient): Promise<void> {
    const m = this.incoming.get(client.id);
    if (!m) return;
    for (const messageId of m.keys())
      this.batch.incoming.set(key(client.id, messageId), { clientId: client.id, messageId, packet: null });
    this.incoming.delete(client.id);
  }

  // ---- wills ----

  async putWill(client: SessionClient, packet: StoredPacket): Promise<void> {
    packet.brokerId = this.broker?.id;
    packet.clientId = client.id;
    this.wills.set(client.id, packet);
    this.batch.wills.set(client.id, packet);
  }

  async getWill(client: SessionClient): Promise<StoredPacket | undefined> {
    return this.wills.get(client.id);
  }

  async delWill(client: SessionClient): Promise<StoredPacket | undefined> {
    const will = this.wills.get(client.id);
    this.wills.delete(client.id);
    if (will) this.batch.wills.set(client.id, null);
    return will;
  }

  streamWill(brokers: Record<string, unknown> = {}): Readable {
    return Readable.from([...this.wills.values()].filter((w) => !brokers[w.brokerId as string]));
  }
}
