/**
 * Broker state shared by two nodes on one Redis and one PostgreSQL (issue 19): a device subscribed
 * on node B gets exactly the one command published on node A; a command queued while the device
 * slept (persistent session, QoS 1) reaches it when it reconnects to the other node, once; a client
 * id that connects on B takes the session over from A (A's connection ends, B's stays).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../helpers/cluster.ts';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, type Registered, registerDevice, topic } from '../helpers/devices.ts';
import type { TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

describe('broker state across nodes', () => {
  const cluster = new TestCluster();
  let a: TestHub;
  let b: TestHub;

  beforeAll(async () => {
    await cluster.start();
    a = await cluster.addNode('node-a');
    b = await cluster.addNode('node-b');
    await loadExample(a.api, []);
  });
  afterAll(() => cluster.cleanup());

  function collect(c: MqttClient): { topic: string; payload: string }[] {
    const got: { topic: string; payload: string }[] = [];
    c.on('message', (t, p) => got.push({ topic: t, payload: p.toString() }));
    return got;
  }

  async function device(): Promise<Registered> {
    return registerDevice(a.api, 'generic-panic-button', 'site-school-gate');
  }

  it('a device subscribed on B gets a command published on A, exactly once', async () => {
    const d = await device();
    const c = await connectDevice(b, d);
    const got = collect(c);
    await c.subscribeAsync(topic(d.id, 'cmd'), { qos: 1 });
    await a.hub.broker.publishCommand(d.id, { commandId: 'c-1', name: 'selfTest' });
    await waitFor(() => got.length === 1, { what: 'the command on B' });
    // a second, later command proves the channel stays open; still one copy each
    await a.hub.broker.publishCommand(d.id, { commandId: 'c-2', name: 'selfTest' });
    await waitFor(() => got.length === 2, { what: 'the second command on B' });
    await new Promise((r) => setTimeout(r, 300));
    expect(got.map((g) => JSON.parse(g.payload).commandId)).toEqual(['c-1', 'c-2']);
    await c.endAsync();
  });

  it('a command queued on A while the device slept reaches it on B when it reconnects, once', async () => {
    const d = await device();
    const first = await connectDevice(a, d, { clean: false });
    await first.subscribeAsync(topic(d.id, 'cmd'), { qos: 1 });
    await first.endAsync();
    await waitFor(() => (a.hub.broker.clients.byDevice.get(d.id)?.size ?? 0) === 0);
    await a.hub.broker.publishCommand(d.id, { commandId: 'sleep-1', name: 'selfTest' });
    // held in the shared session queue (Redis), readable from either node
    await waitFor(async () => (await b.hub.broker.sessionQueue(d.id)).length === 1, {
      what: 'the queued command seen from B',
    });
    const got: string[] = [];
    // handler first: the queued message may come right behind the CONNACK
    const again = mqtt.connect(`mqtt://127.0.0.1:${b.hub.broker.port}`, {
      clientId: d.id,
      username: d.id,
      password: d.secret,
      clean: false,
      reconnectPeriod: 0,
    });
    again.on('message', (_t, p) => got.push(JSON.parse(p.toString()).commandId));
    await waitFor(() => got.length === 1, { what: 'the queued command on B' });
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual(['sleep-1']);
    await again.endAsync();
  });

  it('a client id that connects on B takes the session over from A', async () => {
    const d = await device();
    const onA = await connectDevice(a, d);
    let aClosed = 0;
    onA.on('close', () => aClosed++);
    const onB = await connectDevice(b, d);
    await waitFor(() => aClosed > 0, { what: 'A’s connection closed by the takeover' });
    // positive control: the new connection on B is the live one and still works
    const got = collect(onB);
    await onB.subscribeAsync(topic(d.id, 'cmd'), { qos: 1 });
    await a.hub.broker.publishCommand(d.id, { commandId: 'after-takeover', name: 'selfTest' });
    await waitFor(() => got.length === 1, { what: 'a command on the new connection' });
    expect(onB.connected).toBe(true);
    expect(a.hub.broker.clients.byDevice.get(d.id)?.size ?? 0).toBe(0);
    expect(b.hub.broker.clients.byDevice.get(d.id)?.size).toBe(1);
    await onB.endAsync();
  });
});
