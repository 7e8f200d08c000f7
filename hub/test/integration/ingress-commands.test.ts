/**
 * Issue 20: commands to NB-IoT devices that live behind CTWing and OneNET. The carriers' HTTP APIs
 * are external services; each is played here by a small HTTP server on loopback (allowed by the
 * test hub's outbound.allow) that checks the request the way the platform does — CTWing's
 * HMAC-SHA1 signature recomputed from its documented string, OneNET's api-key — and answers with
 * the platform's envelope. Proves what a property manager sees in the device's command log: the
 * command handed to the platform with the platform's id, then moved on by the platform's result
 * pushes (CTWing commandResponse, OneNET type 7) over the real push URLs; a platform that refuses
 * (a wrong secret) fails the command with its reason; a command the binary model cannot take over
 * a platform is refused at the API; an address outbound HTTP may not reach is refused at
 * registration; a result push for a command the hub never sent changes nothing; a platform that
 * answers 503 leaves the command queued until it takes it; the command API's secrets are never
 * returned or audited.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onenetBody } from '../../../device-sim/src/platforms.ts';
import type { CommandView } from '../../src/commands/command-schemas.ts';
import { loadExample } from '../helpers/community.ts';
import { type ApiClient, startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A carrier platform's API on loopback: records every call and answers with `answer(call)`. */
class FakePlatform {
  readonly calls: Call[] = [];
  private server: Server | undefined;
  constructor(private readonly answer: (c: Call) => { status: number; body: unknown }) {}
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const call = {
          method: req.method ?? '',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body: Buffer.concat(chunks),
        };
        this.calls.push(call);
        const a = this.answer(call);
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(a.body));
      });
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }
}

const APP_KEY = 'aepAppKey01';
const APP_SECRET = 'aepSecret-7Hq';
const MASTER_KEY = 'b30d2e85500f4e2496f126438e2318f2';
const PRODUCT = '15000001';
const ONENET_API_KEY = 'onenet-master-apikey=';

/** CTWing's check, as its API gateway documents it (written out here, not taken from the hub). */
function ctwingSigned(c: Call, secret: string): boolean {
  const text =
    `application:${c.headers.application}\ntimestamp:${c.headers.timestamp}\n` +
    `MasterKey:${c.headers.masterkey}\n${c.body.toString('utf8')}\n`;
  return createHmac('sha1', secret).update(text).digest('base64') === c.headers.signature;
}

let ctCount = 0;
/** answers 503 to this many calls (the platform is having a bad day) */
let ctwingDown = 0;
const ctwingApi = new FakePlatform((c) => {
  if (ctwingDown > 0) {
    ctwingDown--;
    return { status: 503, body: { code: 503, msg: 'Service Unavailable' } };
  }
  if (c.path !== '/aep_device_command/command' || c.method !== 'POST')
    return { status: 404, body: { code: 404, msg: 'no such API' } };
  if (c.headers.version !== '20190712225145' || c.headers.application !== APP_KEY)
    return { status: 200, body: { code: 1004, msg: 'bad application or version' } };
  if (!ctwingSigned(c, APP_SECRET))
    return { status: 200, body: { code: 1002, msg: '签名错误 signature mismatch' } };
  if (c.headers.masterkey !== MASTER_KEY) return { status: 200, body: { code: 1003, msg: 'MasterKey' } };
  ctCount++;
  return {
    status: 200,
    body: { code: 0, msg: 'ok', result: { commandId: `${7000 + ctCount}`, commandStatus: '指令已保存' } },
  };
});
let onCount = 0;
const onenetApi = new FakePlatform((c) => {
  if (c.path !== '/cmds' || c.method !== 'POST')
    return { status: 404, body: { errno: 404, error: 'not found' } };
  if (c.headers['api-key'] !== ONENET_API_KEY)
    return { status: 200, body: { errno: 2, error: 'invalid api-key' } };
  if (!c.query.get('device_id')) return { status: 200, body: { errno: 3, error: 'device_id required' } };
  onCount++;
  return {
    status: 200,
    body: { errno: 0, error: 'succ', data: { cmd_uuid: `f0e1d2c3-0000-4000-8000-00000000000${onCount}` } },
  };
});

let t: TestHub;
let people: Record<'p-property' | 'p-installer', ApiClient>;
let ctwing: { id: string; url: string };
let onenet: { id: string; url: string };
const post = (url: string, body: string) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

const log = async (deviceId: string) =>
  (await t.api.get<CommandView[]>(`/api/v1/devices/${deviceId}/commands`)).body;
const inState = (deviceId: string, id: string, state: string) =>
  waitFor(
    async () => {
      const c = (await log(deviceId)).find((x) => x.id === id);
      return c?.state === state ? c : undefined;
    },
    { what: `command ${id} ${state}` },
  );

beforeAll(async () => {
  const ctUrl = await ctwingApi.start();
  const onUrl = await onenetApi.start();
  t = await startTestHub({ overrides: { 'ingress.commandRetryMs': 300 } });
  people = await loadExample(t.api, ['p-property', 'p-installer']);
  const ct = await t.api.post<{ integration: { id: string; commandsReady: boolean }; pushUrl: string }>(
    '/api/v1/integrations',
    {
      kind: 'ctwing',
      name: '电信AEP烟感',
      models: ['anxin-nb-smoke-bin'],
      commandApi: { url: ctUrl, appKey: APP_KEY, productId: PRODUCT },
      commandSecrets: { appSecret: APP_SECRET, masterKey: MASTER_KEY },
    },
  );
  expect(ct.status).toBe(201);
  expect(ct.body.integration.commandsReady).toBe(true);
  ctwing = { id: ct.body.integration.id, url: ct.body.pushUrl };
  const on = await t.api.post<{ integration: { id: string }; pushUrl: string }>('/api/v1/integrations', {
    kind: 'onenet',
    name: '移动OneNET烟感',
    models: ['anxin-nb-smoke-bin'],
    token: 'onenet-token-2',
    commandApi: { url: onUrl },
    commandSecrets: { apiKey: ONENET_API_KEY },
  });
  expect(on.status).toBe(201);
  onenet = { id: on.body.integration.id, url: on.body.pushUrl };
}, 60_000);
afterAll(async () => {
  await t?.cleanup();
  await ctwingApi.stop();
  await onenetApi.stop();
});

/** A detector that has reported through `integration` once (so its commands know their way). */
async function detector(platformDeviceId: string, report: () => Promise<Response>) {
  const d = await t.api.post<{ device: { id: string } }>('/api/v1/devices', {
    model: 'anxin-nb-smoke-bin',
    site: 'site-b1',
    platformDeviceId,
  });
  expect(d.status).toBe(201);
  expect((await report()).status).toBe(200);
  return d.body.device.id;
}

const ctwingHeartbeat = (deviceId: string, sn: number) =>
  JSON.stringify({
    messageType: 'dataReport',
    productId: PRODUCT,
    deviceId,
    upPacketSN: sn,
    timestamp: Date.now(),
    payload: { APPdata: Buffer.from('a5015700031 7fc4e0c00'.replace(/ /g, ''), 'hex').toString('base64') },
  });
const commandResponse = (deviceId: string, taskId: string, resultCode: string) =>
  JSON.stringify({
    messageType: 'commandResponse',
    productId: PRODUCT,
    deviceId,
    taskId,
    timestamp: Date.now(),
    result: { resultCode, resultDetail: '' },
  });

describe('command API secrets', () => {
  it('are never returned: not by the list, not by one integration, not in the audit log', async () => {
    const texts = [
      JSON.stringify((await t.api.get('/api/v1/integrations')).body),
      JSON.stringify((await t.api.get(`/api/v1/integrations/${ctwing.id}`)).body),
      JSON.stringify((await people['p-installer'].get(`/api/v1/integrations/${onenet.id}`)).body),
      JSON.stringify((await t.api.get('/api/v1/audit?limit=200')).body),
    ];
    for (const text of texts)
      for (const secret of [APP_SECRET, MASTER_KEY, ONENET_API_KEY]) expect(text).not.toContain(secret);
    // positive control: what is not secret is shown, and the list really has both integrations
    expect(texts[1]).toContain(APP_KEY);
    expect(texts[0]).toContain(onenet.id);
    expect(texts[3]).toContain('integration.create');
  });
});

describe('commands through CTWing (AEP CreateCommand)', () => {
  it('a silence goes to the platform signed, with the frame; commandResponse moves the log to sent and done', async () => {
    const id = await detector('ct-dev-0001', () => post(ctwing.url, ctwingHeartbeat('ct-dev-0001', 1)));
    const before = ctwingApi.calls.length;
    const res = await people['p-property'].post<CommandView>(`/api/v1/devices/${id}/commands`, {
      type: 'silence',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      state: 'queued',
      via: { integrationId: ctwing.id, platformCommandId: '7001' },
    });
    expect(ctwingApi.calls.length).toBe(before + 1);
    const call = ctwingApi.calls.at(-1) as Call;
    expect(ctwingSigned(call, APP_SECRET)).toBe(true);
    const body = JSON.parse(call.body.toString()) as Record<string, unknown>;
    expect(body).toMatchObject({
      deviceId: 'ct-dev-0001',
      productId: 15000001,
      operator: 'gridhub',
      level: 1,
      content: { dataType: 2, payload: 'a51001' },
    });
    // the silence's TTL (15 min), in seconds
    expect(body.ttl).toBeGreaterThan(880);
    expect(body.ttl).toBeLessThanOrEqual(900);

    // CTWing reports the platform's progress: SENT (still at the platform) changes nothing
    expect((await post(ctwing.url, commandResponse('ct-dev-0001', '7001', 'SENT'))).status).toBe(200);
    expect((await post(ctwing.url, commandResponse('ct-dev-0001', '7001', 'DELIVERED'))).status).toBe(200);
    const sent = await inState(id, res.body.id, 'sent');
    expect(sent.sentAt).not.toBeNull();
    expect((await post(ctwing.url, commandResponse('ct-dev-0001', '7001', 'SUCCESSFUL'))).status).toBe(200);
    const done = await inState(id, res.body.id, 'done');
    expect(done.result).toMatchObject({ status: 'done' });
    // a push naming a command the hub never sent (another task id) changes nothing
    const other = await people['p-property'].post<CommandView>(`/api/v1/devices/${id}/commands`, {
      type: 'selftest',
    });
    expect(other.body.via?.platformCommandId).toBe('7002');
    expect((await post(ctwing.url, commandResponse('ct-dev-0001', '9999', 'FAILED'))).status).toBe(200);
    expect((await log(id)).find((c) => c.id === other.body.id)?.state).toBe('queued');
    // the device's own self-test report finishes it (the platform holds it for the device)
    const selftestOk = JSON.stringify({
      messageType: 'dataReport',
      deviceId: 'ct-dev-0001',
      upPacketSN: 2,
      timestamp: Date.now(),
      payload: { APPdata: Buffer.from('a50208 08ffff'.replace(/ /g, ''), 'hex').toString('base64') },
    });
    expect((await post(ctwing.url, selftestOk)).status).toBe(200);
    expect((await inState(id, other.body.id, 'done')).result).toMatchObject({ selftest: 'ok' });
  });

  it('a command the binary model cannot take over a platform is refused at the API; one it can goes out', async () => {
    const id = await detector('ct-dev-0002', () => post(ctwing.url, ctwingHeartbeat('ct-dev-0002', 1)));
    const before = ctwingApi.calls.length;
    const refused = await people['p-property'].post<{ error: { code: string; message: string } }>(
      `/api/v1/devices/${id}/commands`,
      { type: 'configure', settings: { heartbeatMinutes: 720 } },
    );
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('GH_ERR_COMMAND_UNSUPPORTED');
    expect(refused.body.error.message).toContain('over ctwing');
    expect(ctwingApi.calls.length).toBe(before);
    const ok = await people['p-property'].post<CommandView>(`/api/v1/devices/${id}/commands`, {
      type: 'selftest',
    });
    expect(ok.status).toBe(201);
    expect(JSON.parse((ctwingApi.calls.at(-1) as Call).body.toString()).content).toEqual({
      dataType: 2,
      payload: 'a51002',
    });
  });

  it('a wrong App Secret: the platform refuses and the command fails with its reason; the right one works again', async () => {
    const id = await detector('ct-dev-0003', () => post(ctwing.url, ctwingHeartbeat('ct-dev-0003', 1)));
    expect(
      (await t.api.put(`/api/v1/integrations/${ctwing.id}`, { commandSecrets: { appSecret: 'not-it' } }))
        .status,
    ).toBe(200);
    const bad = await people['p-property'].post<CommandView>(`/api/v1/devices/${id}/commands`, {
      type: 'silence',
    });
    expect(bad.status).toBe(201);
    expect(bad.body.state).toBe('failed');
    expect(bad.body.result?.reason).toMatch(/CTWing did not take the command: HTTP 200, code 1002/);
    expect(
      (await t.api.put(`/api/v1/integrations/${ctwing.id}`, { commandSecrets: { appSecret: APP_SECRET } }))
        .status,
    ).toBe(200);
    const good = await people['p-property'].post<CommandView>(`/api/v1/devices/${id}/commands`, {
      type: 'silence',
    });
    expect(good.body).toMatchObject({ state: 'queued', via: { integrationId: ctwing.id } });
    expect(good.body.via?.platformCommandId).toMatch(/^70\d\d$/);
  });

  it('the platform is down: the command stays queued, is offered again and goes out when it is back', async () => {
    const id = await detector('ct-dev-0004', () => post(ctwing.url, ctwingHeartbeat('ct-dev-0004', 1)));
    const before = ctwingApi.calls.length;
    ctwingDown = 2;
    const res = await people['p-property'].post<CommandView>(`/api/v1/devices/${id}/commands`, {
      type: 'selftest',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      state: 'queued',
      via: { integrationId: ctwing.id, platformCommandId: null },
    });
    const taken = await waitFor(
      async () => (await log(id)).find((c) => c.id === res.body.id && c.via?.platformCommandId),
      { what: 'the platform took the command', timeoutMs: 15_000 },
    );
    expect(taken.state).toBe('queued');
    // two refused calls and the one that worked, each with the same command
    const mine = ctwingApi.calls.slice(before);
    expect(mine).toHaveLength(3);
    // (the same command; only its ttl shrinks as its expiry comes closer)
    const same = mine.map((c) => {
      const { ttl: _, ...rest } = JSON.parse(c.body.toString()) as Record<string, unknown>;
      return JSON.stringify(rest);
    });
    expect(new Set(same).size).toBe(1);
    expect(JSON.parse((mine[2] as Call).body.toString())).toMatchObject({ deviceId: 'ct-dev-0004' });
    // and it is not offered again once taken
    const calls = ctwingApi.calls.length;
    await post(ctwing.url, ctwingHeartbeat('ct-dev-0004', 2));
    await waitFor(async () => (await log(id)).length === 1, { what: 'log read' });
    expect(ctwingApi.calls.length).toBe(calls);
  });

  it('a command API address outbound HTTP may not reach is refused at registration', async () => {
    const res = await t.api.put<{ error: { code: string } }>(`/api/v1/integrations/${ctwing.id}`, {
      commandApi: { url: 'http://169.254.169.254', appKey: APP_KEY, productId: PRODUCT },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('GH_ERR_OUTBOUND_FORBIDDEN');
    // positive control: the integration still has its working address
    const view = await t.api.get<{ commandApi: { url: string } }>(`/api/v1/integrations/${ctwing.id}`);
    expect(view.body.commandApi.url).toMatch(/^http:\/\/127\.0\.0\.1:/);
  });
});

describe('which integration carries a command', () => {
  it('two integrations carry the model: refused until the device reports; then through the one it used', async () => {
    const second = await t.api.post<{ integration: { id: string; commandsReady: boolean }; pushUrl: string }>(
      '/api/v1/integrations',
      {
        id: 'ctwing-no-api',
        kind: 'ctwing',
        name: '电信AEP（未配置命令接口）',
        models: ['anxin-nb-smoke-bin'],
      },
    );
    expect(second.body.integration.commandsReady).toBe(false);
    const d = await t.api.post<{ device: { id: string } }>('/api/v1/devices', {
      model: 'anxin-nb-smoke-bin',
      site: 'site-b2',
      platformDeviceId: 'ct-dev-0009',
    });
    const id = d.body.device.id;
    const before = ctwingApi.calls.length;
    const command = () =>
      people['p-property'].post<CommandView & { error: { code: string; message: string } }>(
        `/api/v1/devices/${id}/commands`,
        { type: 'silence' },
      );
    const unsure = await command();
    expect(unsure.status).toBe(422);
    expect(unsure.body.error.message).toMatch(/all carry model 'anxin-nb-smoke-bin'/);
    // it reports through the integration without a command API: its commands cannot go out there
    expect((await post(second.body.pushUrl, ctwingHeartbeat('ct-dev-0009', 1))).status).toBe(200);
    const noApi = await command();
    expect(noApi.status).toBe(422);
    expect(noApi.body.error.message).toContain("integration 'ctwing-no-api' (ctwing) has no command API set");
    // it reports through the first one: the command goes there
    expect((await post(ctwing.url, ctwingHeartbeat('ct-dev-0009', 2))).status).toBe(200);
    const ok = await command();
    expect(ok.status).toBe(201);
    expect(ok.body.via?.integrationId).toBe(ctwing.id);
    expect(ctwingApi.calls.length).toBe(before + 1);
    expect((await t.api.request('DELETE', '/api/v1/integrations/ctwing-no-api')).status).toBe(204);
  });
});

describe('commands through OneNET (/cmds)', () => {
  it('a self-test goes to /cmds with the api-key and the frame; the type 7 result push closes it', async () => {
    const id = await detector('520003001', () =>
      post(
        onenet.url,
        onenetBody('onenet-token-2', { type: 2, dev_id: 520003001, status: 1, at: Date.now() }),
      ),
    );
    const res = await people['p-property'].post<CommandView>(`/api/v1/devices/${id}/commands`, {
      type: 'selftest',
    });
    expect(res.status).toBe(201);
    const call = onenetApi.calls.at(-1) as Call;
    expect(onenetApi.calls).toHaveLength(1);
    expect(call.query.get('device_id')).toBe('520003001');
    expect(call.query.get('qos')).toBe('1');
    expect(Number(call.query.get('timeout'))).toBeGreaterThan(24 * 3600);
    expect(call.body.toString('hex')).toBe('a51002');
    const uuid = res.body.via?.platformCommandId as string;
    expect(uuid).toBe('f0e1d2c3-0000-4000-8000-000000000001');
    // cmd_type 1: the device answered (acknowledged); 2: it confirmed carrying it out
    const result = (cmdType: number) =>
      onenetBody('onenet-token-2', {
        type: 7,
        dev_id: 520003001,
        cmd_id: uuid,
        cmd_type: cmdType,
        at: Date.now() + cmdType,
      });
    expect((await post(onenet.url, result(1))).status).toBe(200);
    await inState(id, res.body.id, 'acknowledged');
    expect((await post(onenet.url, result(2))).status).toBe(200);
    await inState(id, res.body.id, 'done');
    // an unsigned result push is refused and changes nothing
    const second = await people['p-property'].post<CommandView>(`/api/v1/devices/${id}/commands`, {
      type: 'silence',
    });
    const forged = JSON.stringify({
      msg: {
        type: 7,
        dev_id: 520003001,
        cmd_id: second.body.via?.platformCommandId,
        cmd_type: 2,
        at: Date.now(),
      },
    });
    expect((await post(onenet.url, forged)).status).toBe(401);
    expect((await log(id)).find((c) => c.id === second.body.id)?.state).toBe('queued');
  });
});
