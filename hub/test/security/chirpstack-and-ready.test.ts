/**
 * Issue 14 follow-up, against real hubs and a real Mosquitto standing in for a ChirpStack network
 * server's broker:
 * - the broker URL an admin registers goes through the outbound address policy: by default no
 *   loopback, private, link-local or metadata address (GH_ERR_OUTBOUND_FORBIDDEN at create and at
 *   update, nothing stored); an allow-listed broker is registered and connected (positive control);
 * - `/ready`, which anyone may ask, says which check failed and its code, never the integration's
 *   name or its broker's address; an admin's bearer token gets the detail.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { type ApiClient, startTestHub, type TestHub, tempDirs } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const APP = 'a0b1c2d3-0000-4000-8000-000000000001';
const NAME = '内网LoRaWAN-机房3';
const newDir = tempDirs();
const broker = new Mosquitto({ gridhub: 'hub-secret' });
type ErrorBody = { error?: { code: string } };
type View = { id: string; chirpstack: { url: string } | null; connection: { state: string } | null };

const create = (api: ApiClient, url: string, name = NAME) =>
  api.post<{ integration: View } & ErrorBody>('/api/v1/integrations', {
    kind: 'chirpstack',
    name,
    models: ['riverlink-lora-leak'],
    chirpstack: { url, applicationId: APP, username: 'gridhub' },
    chirpstackPassword: 'hub-secret',
  });

beforeAll(async () => {
  await broker.start();
});
afterAll(async () => broker.stop());

describe('a ChirpStack broker address goes through the outbound policy', () => {
  let t: TestHub;
  afterAll(async () => t?.cleanup());

  it('by default refuses loopback, private, link-local and metadata brokers at create and update', async () => {
    t = await startTestHub({ dataDir: newDir(), overrides: { 'outbound.allow': [] } });
    const port = new URL(broker.url).port;
    for (const url of [
      broker.url,
      `mqtt://localhost:${port}`,
      'mqtt://169.254.169.254:1883',
      'mqtts://100.100.100.200:8883',
      'mqtt://10.0.0.5:1883',
      'mqtt://192.168.1.20:1883',
      `mqtt://[::1]:${port}`,
      `mqtt://[::ffff:127.0.0.1]:${port}`,
    ]) {
      const r = await create(t.api, url);
      expect(r.status, url).toBe(400);
      expect(r.body.error?.code, url).toBe('GH_ERR_OUTBOUND_FORBIDDEN');
    }
    expect((await t.api.get<View[]>('/api/v1/integrations')).body).toHaveLength(0);
    // An integration whose broker the hub cannot resolve yet is accepted (checked again at each
    // connect, after DNS); changing it to a metadata address is refused and leaves it as it was.
    const later = await create(t.api, 'mqtt://chirpstack.invalid:1883', 'later');
    expect(later.status).toBe(201);
    const id = later.body.integration.id;
    const moved = await t.api.put<ErrorBody>(`/api/v1/integrations/${id}`, {
      chirpstack: { url: 'mqtt://169.254.169.254:1883', applicationId: APP },
    });
    expect(moved.status).toBe(400);
    expect(moved.body.error?.code).toBe('GH_ERR_OUTBOUND_FORBIDDEN');
    expect((await t.api.get<View>(`/api/v1/integrations/${id}`)).body.chirpstack?.url).toBe(
      'mqtt://chirpstack.invalid:1883',
    );
  });
});

describe('with the broker allow-listed (outbound.allow: 127.0.0.1)', () => {
  let t: TestHub;
  let duty: ApiClient;
  let installer: ApiClient;
  let id: string;
  beforeAll(async () => {
    t = await startTestHub({ dataDir: newDir(), overrides: { 'ingress.chirpstackReconnectMs': 200 } });
    ({ 'p-street-duty': duty, 'p-installer': installer } = await loadExample(t.api, [
      'p-street-duty',
      'p-installer',
    ]));
  });
  afterAll(async () => t?.cleanup());

  it('registers and connects (positive control)', async () => {
    const r = await create(t.api, broker.url);
    expect(r.status).toBe(201);
    id = r.body.integration.id;
    await waitFor(
      async () =>
        (await t.api.get<View>(`/api/v1/integrations/${id}`)).body.connection?.state === 'connected',
      { what: 'connected to the allowed broker' },
    );
  });

  it('/ready names no integration and no host to anonymous callers; an admin sees the detail', async () => {
    await broker.stop();
    await waitFor(
      async () =>
        (await t.api.get<View>(`/api/v1/integrations/${id}`)).body.connection?.state !== 'connected',
      { what: 'the broker lost' },
    );
    const port = new URL(broker.url).port;
    const ask = async (token?: string) => {
      const res = await fetch(
        `${t.url}/ready`,
        token ? { headers: { authorization: `Bearer ${token}` } } : {},
      );
      return { status: res.status, text: await res.text() };
    };
    const anonymous = await ask();
    expect(anonymous.status).toBe(200); // degraded, not down: LoRaWAN devices are cut off, nothing else
    const body = JSON.parse(anonymous.text) as {
      status: string;
      checks: Record<string, boolean>;
      problems: { check: string; code: string; message?: string }[];
    };
    expect(body.status).toBe('degraded');
    expect(body.checks.chirpstack).toBe(false);
    expect(body.problems).toEqual([{ check: 'chirpstack', code: 'GH_ERR_INGRESS_UPSTREAM_DOWN' }]);
    for (const secret of [NAME, id, '127.0.0.1', port]) expect(anonymous.text).not.toContain(secret);
    // a bearer token that is not an admin's gets no more than anyone
    const asDuty = await ask(duty.token);
    expect(asDuty.text).not.toContain(id);
    // the admin gets the detail
    const asAdmin = JSON.parse((await ask(t.api.token)).text) as typeof body;
    expect(asAdmin.problems[0]?.message).toContain(id);
    // An installer reads the integrations (to register what they carry) but not where the hub
    // connects to: no broker URL, user name or connection error naming the host.
    const asInstaller = await installer.get<View[]>('/api/v1/integrations');
    expect(asInstaller.status).toBe(200);
    expect(asInstaller.body.map((i) => i.id)).toContain(id);
    expect(asInstaller.body.find((i) => i.id === id)?.chirpstack).toBeNull();
    for (const secret of ['127.0.0.1', `:${port}`, 'gridhub'])
      expect(JSON.stringify(asInstaller.body)).not.toContain(secret);
    const own = await t.api.get<View>(`/api/v1/integrations/${id}`);
    expect(own.body.chirpstack?.url).toBe(broker.url); // the admin sees it (positive control)
    await broker.start();
  });
});
