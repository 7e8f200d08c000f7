/**
 * Presence across nodes (issue 19): a device that moves from node A to node B stays online although
 * A, where its old connection was taken over, publishes its will late; A's silence deadline never
 * marks offline a device that now talks to B; and when the device really goes (its will on B, or
 * its silence on B), exactly one offline is raised in the whole cluster.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PresenceChange } from '../../src/contract/device-event.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { loadExample } from '../helpers/community.ts';
import { type Registered, registerDevice, topic } from '../helpers/devices.ts';
import type { TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

// A panic button is offline after 13 h of silence; scaled to 3 s here, swept every 100 ms.
const DEADLINE_MS = 3000;
const PRESENCE = { 'presence.timeScale': DEADLINE_MS / (13 * 3600_000), 'presence.sweepMs': 100 };

describe('presence across nodes', () => {
  const cluster = new TestCluster();
  let a: TestHub;
  let b: TestHub;
  const changes: (PresenceChange & { node: string })[] = [];

  beforeAll(async () => {
    await cluster.start();
    a = await cluster.addNode('node-a', PRESENCE);
    b = await cluster.addNode('node-b', PRESENCE);
    await loadExample(a.api, []);
    for (const [node, t] of [
      ['a', a],
      ['b', b],
    ] as const)
      t.hub.bus.on('device.presence', (c) => {
        changes.push({ ...c, node });
      });
  });
  afterAll(() => cluster.cleanup());

  const offlines = (id: string) => changes.filter((c) => c.deviceId === id && !c.online);
  const withWill = (d: Registered) => ({
    will: {
      topic: topic(d.id, 'status'),
      payload: Buffer.from('{"state":"offline"}'),
      qos: 1 as const,
      retain: false,
    },
  });
  const connect = (t: TestHub, d: Registered, extra: mqtt.IClientOptions = {}): Promise<MqttClient> =>
    mqtt.connectAsync(`mqtt://127.0.0.1:${t.hub.broker.port}`, {
      clientId: d.id,
      username: d.id,
      password: d.secret,
      reconnectPeriod: 0,
      ...extra,
    });
  const onlineIn = async (t: TestHub, id: string) =>
    (await t.api.get<{ online: boolean }>(`/api/v1/devices/${id}`)).body.online;

  it('moved A → B with a late will on A: stays online; its will on B is one offline', async () => {
    const d = await registerDevice(a.api, 'generic-panic-button', 'site-school-gate');
    await connect(a, d, withWill(d));
    await waitFor(() => a.hub.presence.state(d.id)?.online, { what: 'online on A' });
    // takeover: A closes its connection and publishes the will, after B's CONNACK
    const onB = await connect(b, d, withWill(d));
    await waitFor(() => (a.hub.broker.clients.byDevice.get(d.id)?.size ?? 0) === 0, { what: 'A let go' });
    // A decided that the will is not its to act on: it forgets the device instead of ending it
    await waitFor(() => a.hub.presence.state(d.id) === undefined, { what: 'A forgot the device' });
    await a.hub.presence.flush();
    await b.hub.presence.flush();
    expect(offlines(d.id)).toHaveLength(0);
    expect(b.hub.presence.state(d.id)?.online).toBe(true);
    expect(await onlineIn(a, d.id)).toBe(true);
    expect(await onlineIn(b, d.id)).toBe(true);

    // positive control: the connection on B breaks without DISCONNECT, its will counts, once
    onB.stream.destroy();
    await waitFor(() => offlines(d.id).length === 1, { what: 'one offline' });
    await waitFor(async () => (await onlineIn(a, d.id)) === false, { what: 'offline in the store' });
    await new Promise((r) => setTimeout(r, 500));
    expect(offlines(d.id).map((c) => [c.node, c.reason])).toEqual([['b', 'will']]);
  });

  it('A’s silence deadline never ends a device talking to B; its silence on B ends it once', async () => {
    const d = await registerDevice(a.api, 'generic-panic-button', 'site-school-gate');
    const onA = await connect(a, d);
    await waitFor(() => a.hub.presence.state(d.id)?.online, { what: 'online on A' });
    await onA.endAsync(); // a clean DISCONNECT: no will; A keeps its silence deadline
    const onB = await connect(b, d);
    const keepAlive = setInterval(
      () =>
        void onB.publishAsync(topic(d.id, 'status'), '{"state":"online"}', { qos: 1 }).catch(() => undefined),
      300,
    );
    // A's deadline passes while B hears from the device: A forgets it, says nothing
    await waitFor(() => a.hub.presence.state(d.id) === undefined, {
      timeoutMs: DEADLINE_MS * 3,
      what: 'A’s deadline passed and refused',
    });
    expect(offlines(d.id)).toHaveLength(0);
    expect(b.hub.presence.state(d.id)?.online).toBe(true);
    // positive control: silent on B too, it goes offline once, on B
    clearInterval(keepAlive);
    await waitFor(() => offlines(d.id).length === 1, { timeoutMs: DEADLINE_MS * 3, what: 'one offline' });
    await new Promise((r) => setTimeout(r, 500));
    expect(offlines(d.id).map((c) => [c.node, c.reason])).toEqual([['b', 'deadline']]);
    await onB.endAsync();
  });
});
