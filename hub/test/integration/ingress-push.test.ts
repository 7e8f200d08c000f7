/**
 * Issue 20: NB-IoT devices that report through OneNET and CTWing. Each test sends the platforms'
 * documented HTTP requests to a real hub over HTTP (verification GET, signed / unsigned / replayed /
 * malformed / oversized POSTs, retries of the same message, unknown devices) and asserts what a user
 * sees: the ticket, the alert on the point leader's own MQTT topic, the presence change, the
 * refusal code, the unmatched list — with the legitimate push beside every denial.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ctwingDataReport,
  ctwingOnlineOffline,
  onenetBody,
  onenetDataPoint,
  onenetSignature,
  onenetStatus,
} from '../../../device-sim/src/platforms.ts';
import { loadExample } from '../helpers/community.ts';
import { connectStaff, metrics, metricValue, tickets } from '../helpers/devices.ts';
import { type ApiClient, startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

let t: TestHub;
let people: Record<'p-block-leader' | 'p-installer', ApiClient>;
let leader: MqttClient;
const alerts: { cause: string; deviceId: string }[] = [];
let onenet: { id: string; token: string; url: string };
let ctwing: { id: string; url: string };

const post = (url: string, body: string, type = 'application/json') =>
  fetch(url, { method: 'POST', headers: { 'content-type': type }, body });
const json = async (res: Response) => ({
  status: res.status,
  body: (await res.json()) as Record<string, unknown>,
});
const b64 = (hex: string) => Buffer.from(hex.replace(/ /g, ''), 'hex').toString('base64');

beforeAll(async () => {
  t = await startTestHub({ overrides: { 'alerts.tickMs': 25, 'ingress.maxPushBytes': 4096 } });
  people = await loadExample(t.api, ['p-block-leader', 'p-installer']);
  const on = await t.api.post<{ integration: { id: string }; token: string; pushUrl: string }>(
    '/api/v1/integrations',
    {
      kind: 'onenet',
      name: '移动OneNET烟感',
      models: ['anxin-nb-smoke-bin', 'generic-nb-smoke'],
      token: 'onenet-token-1',
    },
  );
  expect(on.status).toBe(201);
  onenet = { id: on.body.integration.id, token: on.body.token, url: on.body.pushUrl };
  const ct = await t.api.post<{ integration: { id: string }; token: string; pushUrl: string }>(
    '/api/v1/integrations',
    { kind: 'ctwing', name: '电信AEP烟感', models: ['anxin-nb-smoke-bin'] },
  );
  expect(ct.status).toBe(201);
  ctwing = { id: ct.body.integration.id, url: ct.body.pushUrl };
  expect(ctwing.url).toContain('?token=ghi_');
  leader = await connectStaff(t, 'p-block-leader', people['p-block-leader'].token as string);
  await leader.subscribeAsync('gh/v1/hub/person/p-block-leader/alert', { qos: 1 });
  leader.on('message', (_topic, payload) => {
    const a = (JSON.parse(payload.toString()) as { alert: { cause: string; deviceId: string } }).alert;
    alerts.push({ cause: a.cause, deviceId: a.deviceId });
  });
}, 60_000);
afterAll(async () => {
  await leader?.endAsync();
  await t?.cleanup();
});

describe('integrations as data', () => {
  it('never returns a secret on read; the push token was shown once', async () => {
    const list = await t.api.get<Record<string, unknown>[]>('/api/v1/integrations');
    expect(list.status).toBe(200);
    const text = JSON.stringify(list.body);
    expect(text).not.toContain('onenet-token-1');
    expect(text).not.toContain(new URL(ctwing.url).searchParams.get('token') as string);
    expect(list.body.map((i) => i.hasSecret)).toEqual([true, true]);
    // only admins register integrations; installers may read (to act on unmatched devices)
    const denied = await people['p-installer'].post('/api/v1/integrations', {
      kind: 'onenet',
      name: 'x',
      models: ['generic-nb-smoke'],
    });
    expect(denied.status).toBe(403);
    expect((denied.body as { error: { code: string } }).error.code).toBe('GH_ERR_FORBIDDEN_ROLE');
    expect((await people['p-installer'].get('/api/v1/integrations')).status).toBe(200);
  });
});

describe('OneNET HTTP push', () => {
  it('answers the URL verification with msg only when the signature fits the token', async () => {
    const msg = 'verify-7h3k';
    const nonce = 'aZ09bY18';
    const good = `${onenet.url}?msg=${msg}&nonce=${nonce}&signature=${encodeURIComponent(onenetSignature('onenet-token-1', nonce, msg))}`;
    const counts = async () =>
      JSON.stringify((await t.api.get<{ counts: unknown }>(`/api/v1/integrations/${onenet.id}`)).body.counts);
    const before = await counts();
    const ok = await fetch(good);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe(msg);
    // The same verification again (same nonce) is answered again and changes nothing: OneNET
    // re-verifies a URL, and the GET only echoes msg (docs/decisions.md: replay protection is for pushes).
    const again = await fetch(good);
    expect(again.status).toBe(200);
    expect(await again.text()).toBe(msg);
    expect(await counts()).toBe(before);
    const bad = await fetch(
      `${onenet.url}?msg=${msg}&nonce=${nonce}&signature=${encodeURIComponent(onenetSignature('wrong', nonce, msg))}`,
    );
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe(
      'GH_ERR_INGRESS_UNAUTHENTICATED',
    );
  });

  it('a signed binary smoke alarm becomes a fire ticket and the leader’s alert; its retries are duplicates', async () => {
    const d = await t.api.post<{ device: { id: string } }>('/api/v1/devices', {
      model: 'anxin-nb-smoke-bin',
      site: 'site-b2',
      platformDeviceId: '520001001',
      imei: '861234567890123',
    });
    expect(d.status).toBe(201);
    const id = d.body.device.id;
    const at = Date.now();
    // A5 02 01 07 00 2D: event frame, smoke.alarm, sequence 7, 0.45 dB/m (hex, as OneNET gives opaque values)
    const body = onenetBody(
      'onenet-token-1',
      onenetDataPoint('520001001', '3200_0_5750', 'a502010700 2d'.replace(/ /g, ''), at),
    );
    const first = await json(await post(onenet.url, body));
    expect(first).toEqual({ status: 200, body: { ok: true, accepted: 1, duplicates: 0, refused: [] } });
    // OneNET retries until it gets a 200: the same body twice more, and the same message re-signed
    expect((await json(await post(onenet.url, body))).body.duplicates).toBe(1);
    const resigned = onenetBody(
      'onenet-token-1',
      onenetDataPoint('520001001', '3200_0_5750', 'a50201070 02d'.replace(/ /g, ''), at),
      'fresh123',
    );
    expect((await json(await post(onenet.url, resigned))).body).toMatchObject({ accepted: 0, duplicates: 1 });
    const fire = await waitFor(
      async () => (await tickets(t.api, 'category=fire')).find((x) => x.deviceId === id),
      {
        what: 'fire ticket',
      },
    );
    expect(fire.occurrences).toBe(1);
    await waitFor(() => alerts.find((a) => a.deviceId === id), { what: 'alert on the leader’s topic' });
    const view = await t.api.get<{ accepted: { topic: string; what: string }[] }>(
      `/api/v1/devices/${id}/commissioning`,
    );
    expect(view.body.accepted[0]).toMatchObject({ topic: `ingress/${onenet.id}`, what: 'smoke.alarm' });
    // the identical retries are answered from the recent-push memory; the re-signed one went to ingest
    const alarms = view.body.accepted.filter((r) => r.what === 'smoke.alarm');
    expect(alarms.map((r) => (r as { duplicate?: boolean }).duplicate ?? false)).toEqual([true, false]);
  });

  it('online/offline messages (type 2) change presence; heartbeats are telemetry', async () => {
    const d = await t.api.post<{ device: { id: string } }>('/api/v1/devices', {
      model: 'anxin-nb-smoke-bin',
      site: 'site-b1',
      platformDeviceId: '520001002',
    });
    const id = d.body.device.id;
    const online = await post(onenet.url, onenetBody('onenet-token-1', onenetStatus('520001002', true)));
    expect(online.status).toBe(200);
    await waitFor(async () => (await t.api.get<{ online: boolean }>(`/api/v1/devices/${id}`)).body.online, {
      what: 'online',
    });
    // heartbeat A5 01 57 0003 17 FC4E 0C 00, batched with the offline notice in one push (an array)
    const batch = onenetBody('onenet-token-1', [
      onenetDataPoint('520001002', '3200_0_5750', 'a5015700031 7fc4e0c00'.replace(/ /g, '')),
      onenetStatus('520001002', false, Date.now() + 1),
    ]);
    expect((await json(await post(onenet.url, batch))).body).toMatchObject({ accepted: 2 });
    await waitFor(async () => !(await t.api.get<{ online: boolean }>(`/api/v1/devices/${id}`)).body.online, {
      what: 'offline',
    });
    await waitFor(
      async () =>
        JSON.stringify((await t.api.get(`/api/v1/series?device=${id}&field=rsrp&step=1`)).body).includes(
          '-94.6',
        ),
      { what: 'the decoded rsrp in the series' },
    );
  });

  it('refuses unsigned, wrongly signed, malformed, oversized and replayed pushes with stable codes', async () => {
    const msg = onenetDataPoint('520001001', '3200_0_5750', 'a502010800 2d'.replace(/ /g, ''));
    const code = async (res: Response) => [
      res.status,
      ((await res.json()) as { error: { code: string } }).error.code,
    ];
    expect(await code(await post(onenet.url, JSON.stringify({ msg })))).toEqual([
      401,
      'GH_ERR_INGRESS_UNAUTHENTICATED',
    ]);
    expect(await code(await post(onenet.url, onenetBody('not-the-token', msg)))).toEqual([
      401,
      'GH_ERR_INGRESS_UNAUTHENTICATED',
    ]);
    expect(await code(await post(onenet.url, '{"msg": {"type": 1,'))).toEqual([
      400,
      'GH_ERR_INGRESS_MALFORMED',
    ]);
    expect(await code(await post(onenet.url, onenetBody('onenet-token-1', { type: 1 })))).toEqual([
      400,
      'GH_ERR_INGRESS_MALFORMED',
    ]);
    const big = onenetBody('onenet-token-1', { ...msg, pad: 'x'.repeat(5000) });
    expect(await code(await post(onenet.url, big))).toEqual([413, 'GH_ERR_PAYLOAD_TOO_LARGE']);
    const old = onenetDataPoint(
      '520001001',
      '3200_0_5750',
      'a502010900 2d'.replace(/ /g, ''),
      Date.now() - 8 * 86_400_000,
    );
    expect(await code(await post(onenet.url, onenetBody('onenet-token-1', old)))).toEqual([
      409,
      'GH_ERR_INGRESS_REPLAYED',
    ]);
    // another integration's URL, or one that does not exist
    expect(
      await code(
        await post(`${t.url}/api/v1/ingress/${ctwing.id}/onenet`, onenetBody('onenet-token-1', msg)),
      ),
    ).toEqual([404, 'GH_ERR_INTEGRATION_UNKNOWN']);
    // none of them reached the rules: still the one fire ticket of the first test
    expect((await tickets(t.api, 'category=fire')).filter((x) => x.occurrences > 1)).toHaveLength(0);
    // positive control: the same message signed with the token is accepted
    expect((await json(await post(onenet.url, onenetBody('onenet-token-1', msg)))).status).toBe(200);
  });

  it('an unknown device is refused, counted, listed as unmatched and registrable from there', async () => {
    const push = onenetBody('onenet-token-1', {
      ...onenetDataPoint('520009999', '3200_0_5750', 'a502010100ff'),
      imei: '869999000011112',
    });
    const res = await json(await post(onenet.url, push));
    expect(res.status).toBe(200); // a retry cannot fix it: the platform must not retry forever
    expect(res.body).toMatchObject({
      ok: false,
      accepted: 0,
      refused: [{ code: 'GH_ERR_INGRESS_IDENTITY_UNKNOWN', identity: '869999000011112' }],
    });
    expect(
      metricValue(await metrics(t), 'gridhub_ingress_messages_total', {
        outcome: 'GH_ERR_INGRESS_IDENTITY_UNKNOWN',
      }),
    ).toBe(1);
    const list = await people['p-installer'].get<{ identity: string; identityKind: string; count: number }[]>(
      `/api/v1/integrations/${onenet.id}/unmatched`,
    );
    expect(list.body).toEqual([
      expect.objectContaining({ identity: '869999000011112', identityKind: 'imei', count: 1 }),
    ]);
    // the installer registers it from the list; a unit leader may not, and a model the
    // integration does not carry is refused
    const leaderTry = await people['p-block-leader'].post(
      `/api/v1/integrations/${onenet.id}/unmatched/869999000011112/register`,
      { model: 'anxin-nb-smoke-bin', site: 'site-b1' },
    );
    expect(leaderTry.status).toBe(403);
    const wrongModel = await people['p-installer'].post(
      `/api/v1/integrations/${onenet.id}/unmatched/869999000011112/register`,
      { model: 'generic-water-leak', site: 'site-b1' },
    );
    expect((wrongModel.body as { error: { code: string } }).error.code).toBe(
      'GH_ERR_INGRESS_MODEL_NOT_CARRIED',
    );
    const reg = await people['p-installer'].post<{ device: { id: string; imei: string } }>(
      `/api/v1/integrations/${onenet.id}/unmatched/869999000011112/register`,
      { model: 'anxin-nb-smoke-bin', site: 'site-b1' },
    );
    expect(reg.status).toBe(201);
    expect(reg.body.device.imei).toBe('869999000011112');
    expect(
      (await people['p-installer'].get<unknown[]>(`/api/v1/integrations/${onenet.id}/unmatched`)).body,
    ).toEqual([]);
    // the platform's next message for it is accepted
    const again = onenetBody('onenet-token-1', {
      ...onenetDataPoint('520009999', '3200_0_5750', 'a5015a00011600000000', Date.now()),
      imei: '869999000011112',
    });
    expect((await json(await post(onenet.url, again))).body).toMatchObject({ ok: true, accepted: 1 });
  });
});

describe('CTWing subscription push', () => {
  it('dataReport with Base64 APPdata raises the alarm; an unauthenticated push is refused', async () => {
    const d = await t.api.post<{ device: { id: string } }>('/api/v1/devices', {
      model: 'anxin-nb-smoke-bin',
      site: 'site-b3',
      platformDeviceId: 'a1b2c3d4e5f60718',
      imei: '861234567890777',
    });
    const id = d.body.device.id;
    const report = JSON.stringify(
      ctwingDataReport(
        { deviceId: 'a1b2c3d4e5f60718', imei: '861234567890777' },
        { APPdata: b64('a5 02 01 01 00 20') },
        41,
      ),
    );
    const noToken = ctwing.url.split('?')[0] as string;
    const refused = await post(noToken, report);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'GH_ERR_INGRESS_UNAUTHENTICATED',
    );
    const wrong = await post(`${noToken}?token=ghi_wrong`, report);
    expect(wrong.status).toBe(401);
    expect((await tickets(t.api, 'category=fire')).some((x) => x.deviceId === id)).toBe(false);
    const ok = await json(await post(ctwing.url, report));
    expect(ok).toEqual({ status: 200, body: { ok: true, accepted: 1, duplicates: 0, refused: [] } });
    // CTWing retries up to three times: each retry is a duplicate, one ticket
    for (let i = 0; i < 3; i++) expect((await json(await post(ctwing.url, report))).body.duplicates).toBe(1);
    const fire = await waitFor(
      async () => (await tickets(t.api, 'category=fire')).find((x) => x.deviceId === id),
      { what: 'fire ticket' },
    );
    expect(fire.occurrences).toBe(1);
    await waitFor(() => alerts.find((a) => a.deviceId === id), { what: 'alert on the leader’s topic' });
  });

  it('deviceOnlineOfflineReport changes presence; an undecodable frame is refused with its code', async () => {
    const d = await t.api.post<{ device: { id: string } }>('/api/v1/devices', {
      model: 'anxin-nb-smoke-bin',
      site: 'site-b3',
      platformDeviceId: 'ffee0011',
    });
    const id = d.body.device.id;
    expect(
      (await post(ctwing.url, JSON.stringify(ctwingOnlineOffline({ deviceId: 'ffee0011' }, true)))).status,
    ).toBe(200);
    await waitFor(async () => (await t.api.get<{ online: boolean }>(`/api/v1/devices/${id}`)).body.online, {
      what: 'online',
    });
    expect(
      (await post(ctwing.url, JSON.stringify(ctwingOnlineOffline({ deviceId: 'ffee0011' }, false)))).status,
    ).toBe(200);
    await waitFor(async () => !(await t.api.get<{ online: boolean }>(`/api/v1/devices/${id}`)).body.online, {
      what: 'offline',
    });
    // an unknown event code 0x7f: refused, shown to the installer, never guessed
    const bad = await json(
      await post(
        ctwing.url,
        JSON.stringify(ctwingDataReport({ deviceId: 'ffee0011' }, { APPdata: b64('a5 02 7f 01 ff ff') }, 3)),
      ),
    );
    expect(bad.body).toMatchObject({ ok: false, refused: [{ code: 'GH_ERR_INGRESS_DECODE' }] });
    const view = await t.api.get<{ rejected: { code: string; topic: string }[] }>(
      `/api/v1/devices/${id}/commissioning`,
    );
    expect(view.body.rejected[0]).toMatchObject({
      code: 'GH_ERR_INGRESS_DECODE',
      topic: `ingress/${ctwing.id}`,
    });
    // a model the integration does not carry
    const other = await t.api.post<{ device: { id: string } }>('/api/v1/devices', {
      model: 'generic-nb-smoke',
      site: 'site-b3',
      platformDeviceId: 'ffee0012',
    });
    expect(other.status).toBe(201);
    const notCarried = await json(
      await post(
        ctwing.url,
        JSON.stringify(ctwingDataReport({ deviceId: 'ffee0012' }, { smokeDensity: 0.1 }, 1)),
      ),
    );
    expect(notCarried.body).toMatchObject({ refused: [{ code: 'GH_ERR_INGRESS_MODEL_NOT_CARRIED' }] });
  });

  it('device added / removed messages: listed as unmatched, then dropped; a registered device keeps its record', async () => {
    const lifecycle = (messageType: string, deviceId: string, imei: string) =>
      JSON.stringify({
        messageType,
        tenantId: '2000000001',
        productId: '15000001',
        deviceId,
        IMEI: imei,
        timestamp: Date.now(),
      });
    const unmatched = async () =>
      (
        await people['p-installer'].get<{ identity: string }[]>(`/api/v1/integrations/${ctwing.id}/unmatched`)
      ).body.map((u) => u.identity);
    expect(
      (await json(await post(ctwing.url, lifecycle('deviceAdded', 'ct-new-01', '861111222233334')))).body,
    ).toMatchObject({ ok: true, refused: [] });
    expect(await unmatched()).toContain('861111222233334');
    // a type that only looks like one (the old loose match took it for an addition) is ignored
    expect(
      (await post(ctwing.url, lifecycle('deviceAdditionalInfo', 'ct-new-02', '861111222233335'))).status,
    ).toBe(200);
    expect(await unmatched()).not.toContain('861111222233335');
    // removed from the platform before anyone registered it: nothing left to register
    expect((await post(ctwing.url, lifecycle('deviceDeleted', 'ct-new-01', '861111222233334'))).status).toBe(
      200,
    );
    expect(await unmatched()).not.toContain('861111222233334');
    // a registered device removed on the platform stays registered; its installer sees why it went quiet
    const d = await t.api.post<{ device: { id: string } }>('/api/v1/devices', {
      model: 'anxin-nb-smoke-bin',
      site: 'site-b3',
      platformDeviceId: 'ct-kept-01',
    });
    expect((await post(ctwing.url, lifecycle('deviceAdded', 'ct-kept-01', '861111222233336'))).status).toBe(
      200,
    );
    expect(await unmatched()).not.toContain('861111222233336');
    expect((await post(ctwing.url, lifecycle('deviceDeleted', 'ct-kept-01', '861111222233336'))).status).toBe(
      200,
    );
    const view = await t.api.get<{ accepted: { what: string; topic: string }[] }>(
      `/api/v1/devices/${d.body.device.id}/commissioning`,
    );
    expect(view.body.accepted.slice(0, 2).map((r) => r.what)).toEqual([
      'removed from the platform',
      'added on the platform',
    ]);
    const device = await t.api.get<{ status: string }>(`/api/v1/devices/${d.body.device.id}`);
    expect(device.status).toBe(200);
    expect(device.body.status).not.toBe('decommissioned');
  });
});
