/**
 * Issue 14 items 3 and 4 and issue 15 item 7 on a real hub over MQTT/TCP and SSE: a client id is
 * bound to the identity that authenticated (nobody can kick a panic button off with someone else's
 * valid credentials; an empty id needs a clean session, MQTT-3.1.3-8), an unregistered device is
 * counted as such, and live sessions end when what they were granted ends — a revoked token, a
 * signed-out session, a deactivated person, changed jurisdiction, a moved device, whose next press
 * then pages its new unit. Each denial has its positive control beside it.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertView } from '../../src/alerts/alert-schemas.ts';
import type { DeviceEvent } from '../../src/contract/device-event.ts';
import { loadExample } from '../helpers/community.ts';
import {
  connectDevice,
  connectError,
  connectStaff,
  metrics,
  metricValue,
  type Registered,
  registerDevice,
  staffClientId,
  topic,
} from '../helpers/devices.ts';
import { type ApiClient, startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';
import { openSse, rawConnect, watch } from './helpers.ts';

let t: TestHub;
let url: string;
let people: Record<'p-grid-worker-1' | 'p-block-leader' | 'p-school-principal', ApiClient>;
const events: DeviceEvent[] = [];
let seq = 0;

const errors = async (code: string) => metricValue(await metrics(t), 'gridhub_errors_total', { code });

async function press(c: MqttClient, d: Registered): Promise<string> {
  const eventId = `press-${++seq}`;
  await c.publishAsync(topic(d.id, 'event'), JSON.stringify({ eventId, type: 'press' }), { qos: 1 });
  return eventId;
}

async function issueToken(personId: string): Promise<{ id: string; token: string }> {
  const r = await t.api.post<{ id: string; token: string }>(`/api/v1/people/${personId}/tokens`, {
    label: `t-${++seq}`,
  });
  expect(r.status).toBe(201);
  return r.body;
}

beforeAll(async () => {
  t = await startTestHub({ overrides: { 'alerts.tickMs': 25 } });
  url = `mqtt://127.0.0.1:${t.hub.broker.port}`;
  people = await loadExample(t.api, ['p-grid-worker-1', 'p-block-leader', 'p-school-principal']);
  t.hub.bus.on('device.event', (e) => {
    events.push(e);
  });
});
afterAll(async () => t.cleanup());

describe('client ids are bound to the credentials', () => {
  it('a CONNECT with a live device’s client id and other valid credentials is refused; the victim stays on', async () => {
    const victim = await registerDevice(t.api, 'generic-panic-button', 'site-b1');
    const other = await registerDevice(t.api, 'generic-panic-button', 'site-b2');
    const victimClient = await connectDevice(t, victim);
    const v = watch(victimClient);
    const before = await errors('GH_ERR_MQTT_CLIENT_ID_MISMATCH');

    const attempts = [
      { clientId: victim.id, username: other.id, password: other.secret },
      {
        clientId: victim.id,
        username: 'p-grid-worker-1',
        password: people['p-grid-worker-1'].token as string,
      },
    ];
    for (let i = 0; i < 3; i++) for (const a of attempts) expect((await connectError(url, a)).code).toBe(2); // identifier rejected

    expect(await errors('GH_ERR_MQTT_CLIENT_ID_MISMATCH')).toBe(before + 6);
    expect(v.closed()).toBe(false);
    // Positive control: the victim's own session still carries its press.
    const eventId = await press(victimClient, victim);
    await waitFor(() => events.find((e) => e.deviceId === victim.id && e.event.eventId === eventId), {
      what: 'the victim’s press',
    });
    // The device itself may take over its own stale session (MQTT-3.1.4-2), as after a power cut.
    const again = await connectDevice(t, victim);
    await waitFor(() => v.closed(), { what: 'the stale session replaced' });
    expect(again.connected).toBe(true);
    await again.endAsync();
    victimClient.end(true);
  });

  it('a staff client id is the person id or `<person id>:<suffix>`; look-alike ids are refused', async () => {
    const token = people['p-grid-worker-1'].token as string;
    for (const clientId of ['p-grid-worker-1', 'p-grid-worker-1:phone', staffClientId('p-grid-worker-1')])
      expect(
        (await connectError(url, { clientId, username: 'p-grid-worker-1', password: token })).message,
      ).toBe('connected');
    // `p-grid-worker-10`'s or a device's ids are not this person's to use
    for (const clientId of ['p-grid-worker-10', 'p-grid-worker-1-phone', 'mqttjs_1234', 'pb-anything'])
      expect((await connectError(url, { clientId, username: 'p-grid-worker-1', password: token })).code).toBe(
        2,
      );
  });

  it('MQTT-3.1.3-8: an empty client id with cleanSession=0 gets CONNACK 0x02 and a close; with cleanSession=1 it is admitted', async () => {
    const d = await registerDevice(t.api, 'generic-nb-smoke', 'site-b1');
    const before = await errors('GH_ERR_MQTT_CLIENT_ID_EMPTY');
    const refused = await rawConnect(t.hub.broker.port, {
      clientId: '',
      username: d.id,
      password: d.secret,
      clean: false,
    });
    expect(refused).toEqual({ returnCode: 2, closedByServer: true });
    expect(await errors('GH_ERR_MQTT_CLIENT_ID_EMPTY')).toBe(before + 1);
    // Positive control: the same device, empty id, clean session: the server assigns an id.
    const admitted = await connectError(url, {
      clientId: '',
      clean: true,
      username: d.id,
      password: d.secret,
    });
    expect(admitted.message).toBe('connected');
  });

  it('an unregistered device gets the same CONNACK as a wrong secret, but is counted as GH_ERR_DEVICE_UNKNOWN', async () => {
    const d = await registerDevice(t.api, 'generic-nb-smoke', 'site-b1');
    const unknown = await errors('GH_ERR_DEVICE_UNKNOWN');
    const bad = await errors('GH_ERR_MQTT_BAD_CREDENTIALS');
    const ghost = await connectError(url, { clientId: 'sd-ghost', username: 'sd-ghost', password: d.secret });
    const wrong = await connectError(url, { clientId: d.id, username: d.id, password: `${d.secret}x` });
    expect(ghost.code).toBe(4);
    expect(wrong.code).toBe(4);
    expect(await errors('GH_ERR_DEVICE_UNKNOWN')).toBe(unknown + 1);
    expect(await errors('GH_ERR_MQTT_BAD_CREDENTIALS')).toBe(bad + 1);
  });
});

describe('sessions end when their grant ends', () => {
  it('revoking a token closes its MQTT session and SSE stream at once; the person’s other token keeps its own', async () => {
    const a = await issueToken('p-grid-worker-1');
    const b = await issueToken('p-grid-worker-1');
    const mqttA = watch(await connectStaff(t, 'p-grid-worker-1', a.token));
    const clientB = await connectStaff(t, 'p-grid-worker-1', b.token);
    const mqttB = watch(clientB);
    await clientB.subscribeAsync('gh/v1/hub/event/#', { qos: 1 });
    const sseA = await openSse(`${t.url}/api/v1/alerts/stream`, { authorization: `Bearer ${a.token}` });
    const sseB = await openSse(`${t.url}/api/v1/alerts/stream`, { authorization: `Bearer ${b.token}` });

    const revoked = await t.api.request('DELETE', `/api/v1/people/p-grid-worker-1/tokens/${a.id}`);
    expect(revoked.status).toBe(204);
    await waitFor(() => mqttA.closed() && sseA.ended(), { what: 'token A’s sessions ended' });
    expect(
      (
        await connectError(url, {
          clientId: 'p-grid-worker-1',
          username: 'p-grid-worker-1',
          password: a.token,
        })
      ).code,
    ).toBe(4);

    // Positive control: token B's sessions live on and still deliver.
    expect(mqttB.closed()).toBe(false);
    expect(sseB.ended()).toBe(false);
    const d = await registerDevice(t.api, 'generic-panic-button', 'site-b1');
    const dc = await connectDevice(t, d);
    await press(dc, d);
    await waitFor(() => mqttB.messages.some((m) => (m.body as DeviceEvent).deviceId === d.id), {
      what: 'an event on token B’s session',
    });
    await dc.endAsync();
    await clientB.endAsync();
    await sseB.close();
  });

  it('changing a person’s jurisdiction, or deactivating them, closes their sessions; they return with the new grant', async () => {
    const { token } = await issueToken('p-grid-worker-2');
    const first = watch(await connectStaff(t, 'p-grid-worker-2', token));
    const sse = await openSse(`${t.url}/api/v1/alerts/stream`, { authorization: `Bearer ${token}` });
    const untouched = watch(
      await connectStaff(t, 'p-grid-worker-1', people['p-grid-worker-1'].token as string),
    );

    const moved = await t.api.put('/api/v1/people/p-grid-worker-2', {
      name: '钱网格员',
      roles: ['grid-staff'],
      scope: { gridNode: 'g-xinghua-1' },
    });
    expect(moved.status).toBe(200);
    await waitFor(() => first.closed() && sse.ended(), { what: 'sessions under the old grant ended' });
    expect(untouched.closed()).toBe(false); // someone else's sessions are not touched

    // Back with the new grant: grid 1's events arrive now.
    const backClient = await connectStaff(t, 'p-grid-worker-2', token);
    const back = watch(backClient);
    await backClient.subscribeAsync('gh/v1/hub/event/#', { qos: 1 });
    const d = await registerDevice(t.api, 'generic-panic-button', 'site-b1');
    const dc = await connectDevice(t, d);
    await press(dc, d);
    await waitFor(() => back.messages.some((m) => (m.body as DeviceEvent).deviceId === d.id), {
      what: 'grid 1’s event under the new grant',
    });
    await dc.endAsync();

    const off = await t.api.put('/api/v1/people/p-grid-worker-2', {
      name: '钱网格员',
      roles: ['grid-staff'],
      scope: { gridNode: 'g-xinghua-1' },
      active: false,
    });
    expect(off.status).toBe(200);
    await waitFor(() => back.closed(), { what: 'the deactivated person’s session ended' });
    expect(
      (await connectError(url, { clientId: 'p-grid-worker-2', username: 'p-grid-worker-2', password: token }))
        .code,
    ).toBe(4);
    expect((await t.api.as(token).get('/api/v1/me')).status).toBe(401);
    expect(untouched.closed()).toBe(false);
  });

  it('signing out ends that console session’s SSE stream; the same person’s bearer stream stays', async () => {
    expect(
      (await t.api.put('/api/v1/people/admin/password', { password: 'correct horse battery' })).status,
    ).toBe(204);
    const login = await fetch(`${t.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'correct horse battery' }),
    });
    const { csrf } = (await login.json()) as { csrf: string };
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const console = await openSse(`${t.url}/api/v1/alerts/stream`, { cookie });
    const bearer = await openSse(`${t.url}/api/v1/alerts/stream`, { authorization: `Bearer ${t.api.token}` });
    const out = await fetch(`${t.url}/api/v1/auth/logout`, {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(out.status).toBe(204);
    await waitFor(() => console.ended(), { what: 'the signed-out stream ended' });
    expect(bearer.ended()).toBe(false);
    await bearer.close();
  });

  it('moving a device closes its session; its next press pages the new site’s unit, not the old one', async () => {
    // Leader apps of the old unit (eu-block-1, site-b3) and of the new one (eu-school-1).
    const apps: Record<string, { client: MqttClient; got: AlertView[] }> = {};
    for (const id of ['p-block-leader', 'p-school-principal'] as const) {
      const client = await connectStaff(t, id, people[id].token as string);
      await client.subscribeAsync(`gh/v1/hub/person/${id}/alert`, { qos: 1 });
      const got: AlertView[] = [];
      client.on('message', (_topic, payload) =>
        got.push((JSON.parse(payload.toString()) as { alert: AlertView }).alert),
      );
      apps[id] = { client, got };
    }
    const d = await registerDevice(t.api, 'generic-panic-button', 'site-b3');
    const mine = (id: string) => apps[id]?.got.filter((a) => a.deviceId === d.id) ?? [];
    const c1 = await connectDevice(t, d);
    const s1 = watch(c1);
    // Positive control: where it is installed now, a press pages block 1-3's leader.
    await press(c1, d);
    const old = await waitFor(() => mine('p-block-leader')[0], { what: 'the old unit paged' });
    expect(old.emergencyUnitId).toBe('eu-block-1');
    expect((await t.api.post(`/api/v1/alerts/${old.id}/resolve`, { reason: 'drill' })).status).toBe(200);

    const moved = await t.api.post(`/api/v1/devices/${d.id}/move`, { site: 'site-school-gate' });
    expect(moved.status).toBe(200);
    await waitFor(() => s1.closed(), { what: 'the session closed by the move' });

    const c2 = await connectDevice(t, d);
    await press(c2, d);
    const paged = await waitFor(() => mine('p-school-principal')[0], { what: 'the new unit paged' });
    expect(paged).toMatchObject({ emergencyUnitId: 'eu-school-1', siteId: 'site-school-gate' });
    expect(paged.chain[0]).toBe('p-school-principal');
    expect(paged.chain).not.toContain('p-block-leader');
    expect(mine('p-block-leader')).toHaveLength(1); // only the press before the move
    expect(mine('p-school-principal')).toHaveLength(1);
    await c2.endAsync();
    for (const a of Object.values(apps)) await a.client.endAsync();
  });

  it('an import that moves a site to another grid disconnects the devices there too', async () => {
    const d = await registerDevice(t.api, 'generic-nb-smoke', 'site-b2');
    const s = watch(await connectDevice(t, d));
    const other = await registerDevice(t.api, 'generic-nb-smoke', 'site-b4');
    const stays = watch(await connectDevice(t, other));
    const res = await t.api.put('/api/v1/sites/site-b2', {
      gridNode: 'mg-xinghua-1-b',
      name: '杏花社区2号楼',
      kind: 'residential',
      building: '2',
      address: '杏花路1号',
    });
    expect(res.status).toBe(200);
    await waitFor(() => s.closed(), { what: 'the moved site’s device disconnected' });
    expect(stays.closed()).toBe(false);
  });
});
