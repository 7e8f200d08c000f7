/**
 * Issue 20: LoRaWAN devices behind a ChirpStack v4 network server. The hub connects as a client to
 * a real Mosquitto that stands in for the network server's broker (started by the test, with a
 * password file); the test publishes ChirpStack-format events on it and asserts what a user sees:
 * the leak ticket, the alert on the point leader's own MQTT topic, presence, the unmatched list,
 * and the connection state in /ready and the API through an outage and back.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chirpstackTopic, chirpstackUp, publishUplink } from '../../../device-sim/src/platforms.ts';
import type { CommandView } from '../../src/commands/command-schemas.ts';
import { loadExample } from '../helpers/community.ts';
import { connectStaff, tickets } from '../helpers/devices.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { type ApiClient, startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const APP = 'b1c3f2a0-5d6e-4f7a-8b9c-0d1e2f3a4b5c';
let t: TestHub;
let broker: Mosquitto;
let ns: MqttClient;
let leader: MqttClient;
let people: Record<'p-block-leader', ApiClient>;
let integration: string;
const alerts: string[] = [];

type View = { connection: { state: string; lastError: string | null } | null };
const state = async (id: string) =>
  (await t.api.get<View>(`/api/v1/integrations/${id}`)).body.connection?.state;

beforeAll(async () => {
  broker = new Mosquitto({ 'chirpstack-ns': 'ns-secret', gridhub: 'hub-secret' });
  await broker.start();
  t = await startTestHub({ overrides: { 'alerts.tickMs': 25, 'ingress.chirpstackReconnectMs': 200 } });
  people = await loadExample(t.api, ['p-block-leader']);
  const res = await t.api.post<{ integration: { id: string } }>('/api/v1/integrations', {
    kind: 'chirpstack',
    name: '园区LoRaWAN',
    models: ['riverlink-lora-leak'],
    chirpstack: { url: broker.url, applicationId: APP, username: 'gridhub' },
    chirpstackPassword: 'hub-secret',
  });
  expect(res.status).toBe(201);
  integration = res.body.integration.id;
  ns = await mqtt.connectAsync(broker.url, {
    username: 'chirpstack-ns',
    password: 'ns-secret',
    clientId: 'chirpstack',
  });
  leader = await connectStaff(t, 'p-block-leader', people['p-block-leader'].token as string);
  await leader.subscribeAsync('gh/v1/hub/person/p-block-leader/alert', { qos: 1 });
  leader.on('message', (_t, p) =>
    alerts.push((JSON.parse(p.toString()) as { alert: { deviceId: string } }).alert.deviceId),
  );
  await waitFor(async () => (await state(integration)) === 'connected', {
    what: 'the hub connected to ChirpStack',
  });
}, 60_000);
afterAll(async () => {
  await ns?.endAsync();
  await leader?.endAsync();
  await t?.cleanup();
  await broker?.stop();
});

describe('ChirpStack v4 MQTT integration', () => {
  it('a leak uplink (raw data) raises the leak ticket and the leader’s alert; a redelivery is a duplicate', async () => {
    const d = await t.api.post<{ device: { id: string } }>('/api/v1/devices', {
      model: 'riverlink-lora-leak',
      site: 'site-b1',
      devEui: '70B3D57ED0001A2B',
    });
    expect(d.status).toBe(201);
    const id = d.body.device.id;
    const up = chirpstackUp('70b3d57ed0001a2b', APP, {
      data: Buffer.from('020159', 'hex'),
      fCnt: 12,
      rssi: -91,
    });
    await ns.publishAsync(chirpstackTopic(APP, '70b3d57ed0001a2b', 'up'), JSON.stringify(up), { qos: 1 });
    const leak = await waitFor(
      async () => (await tickets(t.api, 'category=leak')).find((x) => x.deviceId === id),
      {
        what: 'leak ticket',
      },
    );
    await waitFor(() => alerts.includes(id), { what: 'alert on the leader’s topic' });
    // the broker redelivers the same event (same deduplicationId): recognised, nothing raised twice
    await ns.publishAsync(chirpstackTopic(APP, '70b3d57ed0001a2b', 'up'), JSON.stringify(up), { qos: 1 });
    const view = await waitFor(
      async () => {
        const v = await t.api.get<{ accepted: { topic: string; what: string; duplicate?: boolean }[] }>(
          `/api/v1/devices/${id}/commissioning`,
        );
        return v.body.accepted.length >= 2 ? v.body : undefined;
      },
      { what: 'the redelivery in the commissioning view' },
    );
    expect(view.accepted.slice(0, 2)).toEqual([
      expect.objectContaining({ topic: `ingress/${integration}`, what: 'leak', duplicate: true }),
      expect.objectContaining({ topic: `ingress/${integration}`, what: 'leak' }),
    ]);
    expect((await tickets(t.api, 'category=leak')).find((x) => x.id === leak.id)?.occurrences).toBe(1);
  });

  it('a codec’s `object` maps through the model’s JSON mapping; join marks the device online', async () => {
    const d = await t.api.post<{ device: { id: string } }>('/api/v1/devices', {
      model: 'riverlink-lora-leak',
      site: 'site-b2',
      devEui: '70b3d57ed0001a2c',
    });
    const id = d.body.device.id;
    await ns.publishAsync(
      chirpstackTopic(APP, '70b3d57ed0001a2c', 'join'),
      JSON.stringify({
        deduplicationId: 'join-1',
        time: new Date().toISOString(),
        deviceInfo: { devEui: '70b3d57ed0001a2c' },
        devAddr: '01020304',
      }),
      { qos: 1 },
    );
    await waitFor(async () => (await t.api.get<{ online: boolean }>(`/api/v1/devices/${id}`)).body.online, {
      what: 'online',
    });
    await publishUplink(ns, APP, '70b3d57ed0001a2c', { object: { alarm: 'leak' }, fCnt: 3 });
    await waitFor(async () => (await tickets(t.api, 'category=leak')).find((x) => x.deviceId === id), {
      what: 'leak ticket from object',
    });
  });

  it('an unknown devEui is counted and listed as unmatched', async () => {
    await publishUplink(ns, APP, '0011223344556677', { data: Buffer.from('015a0000', 'hex'), fCnt: 1 });
    const list = await waitFor(
      async () =>
        (await t.api.get<{ identity: string }[]>(`/api/v1/integrations/${integration}/unmatched`)).body.find(
          (u) => u.identity === '0011223344556677',
        ),
      { what: 'the unmatched entry' },
    );
    expect(list).toMatchObject({ identityKind: 'devEui', count: 1 });
  });

  it('a configure command is enqueued as a confirmed downlink on command/down; the ack event moves the log', async () => {
    const d = await t.api.post<{ device: { id: string } }>('/api/v1/devices', {
      model: 'riverlink-lora-leak',
      site: 'site-b2',
      devEui: '70b3d57ed0001a3f',
    });
    const id = d.body.device.id;
    const downlinks: { topic: string; item: Record<string, unknown> }[] = [];
    ns.on('message', (topic, p) => {
      if (topic.endsWith('/command/down'))
        downlinks.push({ topic, item: JSON.parse(p.toString()) as Record<string, unknown> });
    });
    await ns.subscribeAsync(`application/${APP}/device/+/command/down`, { qos: 1 });
    const send = async () => {
      const res = await people['p-block-leader'].post<CommandView>(`/api/v1/devices/${id}/commands`, {
        type: 'configure',
        settings: { heartbeatMinutes: 360 },
      });
      return res;
    };
    // a unit leader may not command devices (the property manager's and installer's job)
    expect((await send()).status).toBe(403);
    const res = await t.api.post<CommandView>(`/api/v1/devices/${id}/commands`, {
      type: 'configure',
      settings: { heartbeatMinutes: 360 },
    });
    expect(res.status).toBe(201);
    expect(res.body.via).toEqual({ integrationId: integration, platformCommandId: expect.any(String) });
    await waitFor(() => downlinks.length === 1, { what: 'the downlink on the network server’s broker' });
    const [down] = downlinks;
    expect(down?.topic).toBe(`application/${APP}/device/70b3d57ed0001a3f/command/down`);
    // the model has no command frame: the device profile's codec encodes the hub's command object
    expect(down?.item).toEqual({
      devEui: '70b3d57ed0001a3f',
      id: res.body.via?.platformCommandId,
      confirmed: true,
      fPort: 10,
      object: {
        type: 'configure',
        commandId: res.body.id,
        expiresAt: expect.any(Number),
        settings: { heartbeatMinutes: 360 },
      },
    });
    const ack = (queueItemId: string, acknowledged: boolean, n: number) =>
      ns.publishAsync(
        chirpstackTopic(APP, '70b3d57ed0001a3f', 'ack'),
        JSON.stringify({
          deduplicationId: `ack-${n}`,
          time: new Date().toISOString(),
          deviceInfo: { devEui: '70b3d57ed0001a3f', applicationId: APP },
          queueItemId,
          acknowledged,
          fCntDown: n,
        }),
        { qos: 1 },
      );
    // an ack for a queue item the hub did not enqueue changes nothing
    await ack('00000000-0000-4000-8000-000000000000', true, 1);
    await ack(down?.item.id as string, true, 2);
    const sent = await waitFor(
      async () =>
        (await t.api.get<CommandView[]>(`/api/v1/devices/${id}/commands`)).body.find(
          (c) => c.id === res.body.id && c.state === 'sent',
        ),
      { what: 'the command sent' },
    );
    expect(sent.sentAt).not.toBeNull();
    // a second one the device never acknowledges: ChirpStack's negative ack fails it
    const second = await t.api.post<CommandView>(`/api/v1/devices/${id}/commands`, {
      type: 'configure',
      settings: { heartbeatMinutes: 720 },
    });
    await waitFor(() => downlinks.length === 2, { what: 'the second downlink' });
    await ack(second.body.via?.platformCommandId as string, false, 3);
    const failed = await waitFor(
      async () =>
        (await t.api.get<CommandView[]>(`/api/v1/devices/${id}/commands`)).body.find(
          (c) => c.id === second.body.id && c.state === 'failed',
        ),
      { what: 'the command failed' },
    );
    expect(failed.result?.reason).toMatch(/did not acknowledge/);
    expect(downlinks).toHaveLength(2);
    await ns.unsubscribeAsync(`application/${APP}/device/+/command/down`);
  });

  it('shows a lost broker in /ready and the API, reconnects by itself and takes uplinks again', async () => {
    const ready = async () =>
      (await fetch(`${t.url}/ready`)).json() as Promise<{
        status: string;
        checks: Record<string, boolean>;
        problems?: { code: string }[];
      }>;
    expect((await ready()).checks.chirpstack).toBe(true);
    await ns.endAsync(true);
    await broker.stop();
    await waitFor(async () => (await state(integration)) === 'reconnecting', { what: 'reconnecting' });
    const down = await ready();
    // LoRaWAN devices are cut off, the rest of the hub is not: degraded, still 200
    expect(down.status).toBe('degraded');
    expect(down.checks.chirpstack).toBe(false);
    expect(down.problems?.map((p) => p.code)).toContain('GH_ERR_INGRESS_UPSTREAM_DOWN');
    await broker.start();
    await waitFor(async () => (await state(integration)) === 'connected', {
      what: 'reconnected',
      timeoutMs: 15_000,
    });
    expect((await ready()).status).toBe('ready');
    ns = await mqtt.connectAsync(broker.url, {
      username: 'chirpstack-ns',
      password: 'ns-secret',
      clientId: 'chirpstack',
    });
    const d = await t.api.post<{ device: { id: string } }>('/api/v1/devices', {
      model: 'riverlink-lora-leak',
      site: 'site-b3',
      devEui: '70b3d57ed0001a2d',
    });
    // the broker kept no session (persistence off): the hub subscribed again by itself
    await waitFor(
      async () => {
        await publishUplink(ns, APP, '70b3d57ed0001a2d', { data: Buffer.from('020159', 'hex'), fCnt: 40 });
        return (await tickets(t.api, 'category=leak')).find((x) => x.deviceId === d.body.device.id);
      },
      { what: 'an uplink after the outage', intervalMs: 300 },
    );
  });

  it('a wrong broker password shows as not connected, with the reason', async () => {
    const res = await t.api.post<{ integration: { id: string } }>('/api/v1/integrations', {
      kind: 'chirpstack',
      name: 'wrong password',
      models: ['riverlink-lora-leak'],
      chirpstack: { url: broker.url, applicationId: 'x', username: 'gridhub' },
      chirpstackPassword: 'not-it',
    });
    const id = res.body.integration.id;
    const v = await waitFor(
      async () => {
        const c = (await t.api.get<View>(`/api/v1/integrations/${id}`)).body.connection;
        return c?.lastError ? c : undefined;
      },
      { what: 'the refusal' },
    );
    expect(v.state).not.toBe('connected');
    expect(v.lastError).toMatch(/not authori[sz]ed|bad user name or password/i);
    // positive control: the first integration stays connected
    expect(await state(integration)).toBe('connected');
    expect((await t.api.request('DELETE', `/api/v1/integrations/${id}`)).status).toBe(204);
  });
});
