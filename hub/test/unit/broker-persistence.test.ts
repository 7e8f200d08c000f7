/**
 * Proves the broker's SQLite session persistence: it passes aedes-persistence's own abstract test
 * suite (the v11 contract every aedes persistence must meet), keeps sessions across a graceful
 * close and — up to its last flush — across a process that dies without closing, writes nothing
 * for a QoS 1 message that is acknowledged before the next flush, bounds each session's queue
 * (oldest dropped, counted), and clears a refused message by its broker counter, not the first
 * unnumbered one. Real SQLite files in a temp directory; no socket.
 */
import assert from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { SqlitePersistence } from '../../src/broker/persistence/sqlite-persistence.ts';

const dir = mkdtempSync(join(tmpdir(), 'gridhub-broker-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const newFile = () => join(dir, `broker-${++n}.sqlite`);

interface NodeTestContext {
  plan(count: number): void;
  diagnostic(message: string): void;
  assert: Pick<typeof assert, 'equal' | 'deepEqual' | 'notEqual' | 'ok'>;
}

/** The abstract suite is written for node:test; each of its tests runs as a vitest test, plans checked. */
function nodeTest(name: string, fn: (t: NodeTestContext) => Promise<void>): void {
  it(name, async () => {
    let planned: number | undefined;
    let made = 0;
    const counted =
      <A extends unknown[]>(f: (...a: A) => void) =>
      (...a: A) => {
        made++;
        f(...a);
      };
    await fn({
      plan: (count) => {
        planned = count;
      },
      diagnostic: () => undefined,
      assert: {
        equal: counted(assert.equal),
        deepEqual: counted(assert.deepEqual),
        notEqual: counted(assert.notEqual),
        ok: counted(assert.ok),
      },
    });
    if (planned !== undefined) expect(made).toBe(planned);
  });
}

const require = createRequire(import.meta.url);
const abstractSuite = require('aedes-persistence/abstract.js') as (opts: {
  test: typeof nodeTest;
  persistence: () => SqlitePersistence;
  testAsync: boolean;
}) => void;

describe('aedes-persistence abstract suite against the SQLite persistence', () => {
  abstractSuite({
    test: nodeTest,
    persistence: () => new SqlitePersistence({ file: newFile(), flushMs: 5, queueLimit: 100_000 }),
    testAsync: true,
  });
});

const broker = { id: 'broker-a' };
const client = { id: 'p-leader-app' };
const publish = (counter: number, payload = `m${counter}`) => ({
  cmd: 'publish',
  topic: 'gh/v1/hub/person/p-leader/alert',
  payload: Buffer.from(payload),
  qos: 1,
  retain: false,
  dup: false,
  brokerId: broker.id,
  brokerCounter: counter,
});

async function open(file: string, options: { flushMs?: number; queueLimit?: number } = {}) {
  const dropped: string[] = [];
  const flushed: number[] = [];
  const p = new SqlitePersistence({
    file,
    flushMs: options.flushMs ?? 60_000,
    queueLimit: options.queueLimit ?? 1000,
    observer: {
      dropped: (id) => dropped.push(id),
      flushed: (rows) => flushed.push(rows),
      failed: (err) => {
        throw err;
      },
    },
  });
  await p.setup(broker);
  return { p, dropped, flushed };
}

async function drain(stream: Readable): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const x of stream) out.push(x as Record<string, unknown>);
  return out;
}

describe('sessions on disk', () => {
  it('keeps subscriptions, queued messages, retained messages, wills and QoS 2 state across a graceful close', async () => {
    const file = newFile();
    const a = await open(file);
    await a.p.addSubscriptions(client, [{ topic: 'gh/v1/hub/person/p-leader/#', qos: 1 }]);
    const subs = await a.p.subscriptionsByTopic('gh/v1/hub/person/p-leader/alert');
    await a.p.outgoingEnqueueCombi(subs, publish(1));
    await a.p.outgoingEnqueueCombi(subs, publish(2));
    await a.p.outgoingUpdate(client, { ...publish(2), messageId: 7 });
    await a.p.storeRetained({ ...publish(3), retain: true, topic: 'gh/v1/hub/x' });
    await a.p.putWill({ id: 'sd-1' }, { topic: 'gh/v1/dev/sd-1/status', payload: Buffer.from('{}'), qos: 1 });
    await a.p.incomingStorePacket(client, { ...publish(4), qos: 2, messageId: 9 });
    await a.p.destroy();

    const b = await open(file);
    expect(await b.p.subscriptionsByClient(client)).toEqual([
      expect.objectContaining({ topic: 'gh/v1/hub/person/p-leader/#', qos: 1 }),
    ]);
    expect(
      (await b.p.subscriptionsByTopic('gh/v1/hub/person/p-leader/alert')).map((s) => s.clientId),
    ).toEqual([client.id]);
    const queued = await drain(b.p.outgoingStream(client));
    expect(queued.map((q) => [String(q.payload), q.messageId])).toEqual([
      ['m1', undefined],
      ['m2', 7],
    ]);
    expect((await drain(b.p.createRetainedStream('gh/v1/hub/#'))).map((r) => String(r.payload))).toEqual([
      'm3',
    ]);
    expect((await drain(b.p.streamWill({}))).map((w) => [w.clientId, w.brokerId])).toEqual([
      ['sd-1', 'broker-a'],
    ]);
    expect(String((await b.p.incomingGetPacket(client, { messageId: 9 })).payload)).toBe('m4');
    // Acknowledged after the restart: gone for good.
    expect(String((await b.p.outgoingClearMessageId(client, { messageId: 7 }))?.payload)).toBe('m2');
    await b.p.destroy();
    const c = await open(file);
    expect((await drain(c.p.outgoingStream(client))).map((q) => String(q.payload))).toEqual(['m1']);
    await c.p.destroy();
  });

  it('after a process dies without closing, holds what the last flush wrote and nothing later', async () => {
    const file = newFile();
    const a = await open(file);
    await a.p.addSubscriptions(client, [{ topic: 'gh/v1/hub/person/p-leader/alert', qos: 1 }]);
    await a.p.outgoingEnqueue({ clientId: client.id }, publish(1, 'flushed'));
    a.p.flush();
    await a.p.outgoingEnqueue({ clientId: client.id }, publish(2, 'lost'));
    // `a` is never destroyed: a second reader of the file sees what a restarted hub would.
    const b = await open(file);
    expect((await drain(b.p.outgoingStream(client))).map((q) => String(q.payload))).toEqual(['flushed']);
    expect(await b.p.subscriptionsByClient(client)).toHaveLength(1);
    await b.p.destroy();
    await a.p.destroy();
  });

  it('writes no outgoing row for a message acknowledged before the next flush', async () => {
    const file = newFile();
    const a = await open(file);
    await a.p.addSubscriptions(client, [{ topic: 'gh/v1/hub/#', qos: 1 }]);
    a.p.flush();
    for (let i = 1; i <= 500; i++) {
      await a.p.outgoingEnqueueCombi([{ clientId: client.id }], publish(i));
      await a.p.outgoingUpdate(client, { ...publish(i), messageId: i });
      await a.p.outgoingClearMessageId(client, { messageId: i });
    }
    // One still unacknowledged when the flush comes: exactly that one is written.
    await a.p.outgoingEnqueueCombi([{ clientId: client.id }], publish(501));
    a.p.flush();
    expect(a.flushed).toEqual([1, 1]);
    expect(a.p.fileCounts()?.outgoing).toBe(1);
    // Positive control: the written one really is on disk and readable by a restarted hub.
    const b = await open(file);
    expect((await drain(b.p.outgoingStream(client))).map((q) => String(q.payload))).toEqual(['m501']);
    await b.p.destroy();
    await a.p.destroy();
  });

  it('bounds a session’s queue: the oldest messages are dropped and counted', async () => {
    const a = await open(newFile(), { queueLimit: 3 });
    for (let i = 1; i <= 5; i++) await a.p.outgoingEnqueue({ clientId: client.id }, publish(i));
    await a.p.outgoingEnqueue({ clientId: 'other' }, publish(6));
    expect((await drain(a.p.outgoingStream(client))).map((q) => String(q.payload))).toEqual([
      'm3',
      'm4',
      'm5',
    ]);
    expect(a.dropped).toEqual([client.id, client.id]);
    expect(await drain(a.p.outgoingStream({ id: 'other' }))).toHaveLength(1);
    a.p.flush();
    expect(a.p.fileCounts()?.outgoing).toBe(4);
    await a.p.destroy();
  });

  it('clears a message refused before sending by its broker counter, not the first unnumbered one', async () => {
    const a = await open(newFile());
    await a.p.outgoingEnqueue({ clientId: client.id }, publish(1, 'for-me'));
    await a.p.outgoingEnqueue({ clientId: client.id }, publish(2, 'not-for-me'));
    const cleared = await a.p.outgoingClearMessageId(client, publish(2));
    expect(String(cleared?.payload)).toBe('not-for-me');
    expect((await drain(a.p.outgoingStream(client))).map((q) => String(q.payload))).toEqual(['for-me']);
    await a.p.destroy();
  });

  it('survives a full disk: the flush fails, is counted, nothing is lost from memory, and it catches up', async () => {
    const file = newFile();
    const failures: unknown[] = [];
    const p = new SqlitePersistence({
      file,
      flushMs: 60_000,
      queueLimit: 1000,
      observer: { dropped: () => undefined, flushed: () => undefined, failed: (err) => failures.push(err) },
    });
    await p.setup(broker);
    // SQLite's own "database or disk is full" (SQLITE_FULL), by capping the file's pages.
    const db = (p as unknown as { file: { db: { pragma(s: string): unknown } } }).file.db;
    db.pragma('max_page_count = 8');
    for (let i = 1; i <= 100; i++)
      await p.outgoingEnqueue({ clientId: client.id }, publish(i, 'x'.repeat(2000)));
    p.flush();
    expect(failures).toHaveLength(1);
    expect(String(failures[0])).toMatch(/full/i);
    expect(p.healthy).toBe(false);
    expect(await drain(p.outgoingStream(client))).toHaveLength(100);
    db.pragma('max_page_count = 100000');
    p.flush();
    expect(p.healthy).toBe(true);
    expect(p.fileCounts()?.outgoing).toBe(100);
    await p.destroy();
  });
});
