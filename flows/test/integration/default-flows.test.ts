import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLOWS_DIR } from '../../../hub/src/node-red/supervisor.ts';
import { loadExample } from '../../../hub/test/helpers/community.ts';
import {
  connectDevice,
  type Registered,
  registerDevice,
  tickets,
  topic,
} from '../../../hub/test/helpers/devices.ts';
import { HttpReceiver, type Received } from '../../../hub/test/helpers/http-receiver.ts';
import { type ApiClient, startTestHub, type TestHub, tempDirs } from '../../../hub/test/helpers/test-hub.ts';
import { waitFor } from '../../../hub/test/helpers/wait.ts';
import { lastShanghai } from '../helpers/time.ts';

// End to end: the real hub starts the real Node-RED (flows/settings.js, the default flows.json,
// the project's nodes) as its supervised child; devices speak MQTT; webhook receivers are real
// HTTP servers. Only the flow file is a temp copy, so the test never edits the repository's.

const PASSWORD = 'correct horse battery';
const tmp = tempDirs('gridhub-flows-');
const dataDir = tmp();
const flowFile = join(tmp(), 'flows.json');
const duty = new HttpReceiver();
const maintenance = new HttpReceiver();
const wecom = new HttpReceiver();
let t: TestHub;
let editor: string;
let adminToken: string;
let devices: Record<'leak' | 'elevator' | 'button', Registered>;
let seq = 0;

async function send(d: Registered, event: Record<string, unknown>): Promise<void> {
  const c = await connectDevice(t, d);
  await c.publishAsync(
    topic(d.id, 'event'),
    JSON.stringify({ eventId: `ev-${++seq}`, ts: Date.now(), ...event }),
    { qos: 1 },
  );
  await c.endAsync();
}

const notifications = (r: HttpReceiver) =>
  r.received
    .map((x: Received) => JSON.parse(x.body) as Record<string, unknown>)
    .filter((b) => b.type === 'gridhub.notify');

async function editorToken(username: string, password: string): Promise<Response> {
  return fetch(`${editor}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_id: 'node-red-admin',
      grant_type: 'password',
      scope: '*',
      username,
      password,
    }),
  });
}

async function setPassword(api: ApiClient, person: string): Promise<void> {
  const res = await api.put(`/api/v1/people/${person}/password`, { password: PASSWORD });
  if (res.status !== 204)
    throw new Error(`password for ${person}: ${res.status} ${JSON.stringify(res.body)}`);
}

beforeAll(async () => {
  copyFileSync(join(FLOWS_DIR, 'flows.json'), flowFile);
  // First start: the community, passwords, webhook targets and devices, as an operator sets them up.
  const setup = await startTestHub({ dataDir });
  await loadExample(setup.api);
  for (const p of ['admin', 'p-street-duty', 'p-grid-worker-1']) await setPassword(setup.api, p);
  const target = async (name: string, kind: string, url: string) => {
    const r = await setup.api.post('/api/v1/webhooks', {
      name,
      kind,
      url,
      scope: { kind: 'grid', id: 'c-xinghua' },
      minSeverity: 'critical',
    });
    if (r.status !== 201) throw new Error(JSON.stringify(r.body));
  };
  await target('物业值班电话', 'generic', `${await duty.start()}/duty-phone`);
  await target('电梯维保公司', 'generic', `${await maintenance.start()}/rescue`);
  await target('物业企业微信群', 'wecom', `${await wecom.start()}/cgi-bin/webhook/send?key=test`);
  devices = {
    leak: await registerDevice(setup.api, 'generic-water-leak', 'site-b4-basement'),
    elevator: await registerDevice(setup.api, 'gbt24476-elevator', 'site-b1'),
    button: await registerDevice(setup.api, 'generic-panic-button', 'site-b1'),
  };
  await setup.stop();

  // Second start with Node-RED, acting as the street duty room's account.
  t = await startTestHub({
    dataDir,
    overrides: {
      'nodeRed.enabled': true,
      'nodeRed.port': 0,
      'nodeRed.flowUser': 'p-street-duty',
      'nodeRed.flowFile': flowFile,
      'nodeRed.restartDelayMs': 200,
    },
  });
  editor = await waitFor(() => t.hub.nodeRed?.whenReady(), { timeoutMs: 60_000, what: 'Node-RED listening' });
  const login = await editorToken('admin', PASSWORD);
  adminToken = ((await login.json()) as { access_token: string }).access_token;
  // The default flows are listening once their MQTT session has subscribed.
  await waitFor(
    () => {
      const subs = t.hub.broker.staffSubscriptions('p-street-duty');
      return subs.includes('gh/v1/hub/event/#') && subs.includes('gh/v1/hub/alert/#');
    },
    { timeoutMs: 30_000, what: 'the default flows subscribed' },
  );
}, 120_000);

afterAll(async () => {
  await t?.cleanup();
  await Promise.all([duty.stop(), maintenance.stop(), wecom.stop()]);
});

describe('Node-RED editor access', () => {
  it('refuses anonymous access and non-admin roles, and accepts a gridhub admin', async () => {
    expect((await fetch(`${editor}/flows`)).status).toBe(401);
    expect((await editorToken('admin', 'wrong password')).status).not.toBe(200);
    expect((await editorToken('p-grid-worker-1', PASSWORD)).status).not.toBe(200);
    expect(adminToken).toBeTruthy();
    const flows = await fetch(`${editor}/flows`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(flows.status).toBe(200);
    const ids = ((await flows.json()) as { id: string }[]).map((n) => n.id);
    expect(ids).toEqual(
      expect.arrayContaining(['ev-night-leak', 'al-entrapment', 'po-pump-test', 'in-weekly']),
    );
    // The editor is for admins only by default (nodeRed.streetDutyReadOnly admits street duty to
    // look; hub/test/security/node-red-editor.test.ts): deploying is running code as the hub.
    expect((await editorToken('p-street-duty', PASSWORD)).status).not.toBe(200);
  });
});

describe('default flows', () => {
  it('a night-time leak reaches the duty-phone webhook; a daytime one does not', async () => {
    await send(devices.leak, { type: 'leak', ts: lastShanghai(13) });
    await send(devices.leak, { type: 'leak', ts: lastShanghai(23), eventId: 'night-leak-1' });
    const got = await waitFor(() => notifications(duty)[0], {
      timeoutMs: 15_000,
      what: 'duty-phone webhook',
    });
    expect(got.title).toBe('【夜间漏水】site-b4-basement');
    expect(got.text).toContain(devices.leak.id);
    expect(got.data).toMatchObject({
      kind: 'night-leak',
      event: { deviceId: devices.leak.id, at: lastShanghai(23) },
    });
    expect(duty.received[0]?.url).toBe('/duty-phone');
    expect(notifications(duty)).toHaveLength(1);
  });

  it('an entrapment reaches the maintenance webhook with the rescue ticket link', async () => {
    await send(devices.elevator, { type: 'fault', code: '11' });
    const got = await waitFor(() => notifications(maintenance)[0], {
      timeoutMs: 15_000,
      what: 'maintenance webhook',
    });
    const data = got.data as { ticketId: string; ticketUrl: string };
    const rescue = (await tickets(t.api, '?category=elevator-rescue')).find(
      (x) => x.deviceId === devices.elevator.id,
    );
    expect(rescue).toBeTruthy();
    expect(data.ticketId).toBe(rescue?.id);
    expect(data.ticketUrl).toBe(`${t.url}/#/tickets/${rescue?.id}`);
    expect(got.text).toContain(data.ticketUrl);
  });

  it('the pump test raises the flood threshold and the hub restores it when the window ends', async () => {
    // The operator shortens the window from 2 h to 3 s in the editor and deploys.
    const auth = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    const current = (await (
      await fetch(`${editor}/flows`, { headers: { ...auth, 'node-red-api-version': 'v2' } })
    ).json()) as {
      rev: string;
      flows: Record<string, unknown>[];
    };
    const flows = current.flows.map((n) => (n.id === 'po-pump-test' ? { ...n, forMinutes: '0.05' } : n));
    const deploy = await fetch(`${editor}/flows`, {
      method: 'POST',
      headers: { ...auth, 'node-red-api-version': 'v2', 'node-red-deployment-type': 'full' },
      body: JSON.stringify({ rev: current.rev, flows }),
    });
    expect(deploy.status).toBe(200);
    await waitFor(() => t.hub.broker.staffSubscriptions('p-street-duty').includes('gh/v1/hub/event/#'), {
      timeoutMs: 20_000,
      what: 'flows resubscribed after the deploy',
    });

    const resolve = async () =>
      (
        await t.api.get<{ value: number; source: { kind: string } }>(
          '/api/v1/policies/water.level.alarmCm/resolve?site=site-b4-basement',
        )
      ).body;
    expect((await resolve()).value).toBe(25);
    const fired = await fetch(`${editor}/inject/in-pump-test`, { method: 'POST', headers: auth });
    expect(fired.status).toBe(200);
    const raised = await waitFor(async () => ((await resolve()).value === 60 ? resolve() : undefined), {
      what: 'threshold raised',
    });
    expect(raised.source.kind).toBe('site');
    const audit = await t.api.get<{ actor: string; action: string }[]>('/api/v1/audit?limit=50');
    expect(audit.body.some((e) => e.actor === 'person:p-street-duty' && e.action.startsWith('policy'))).toBe(
      true,
    );
    await waitFor(async () => (await resolve()).value === 25, {
      timeoutMs: 15_000,
      what: 'the hub restoring 25 cm',
    });
  });

  it('the weekly elevator summary goes to the property WeCom group as markdown', async () => {
    const auth = { authorization: `Bearer ${adminToken}` };
    expect((await fetch(`${editor}/inject/in-weekly`, { method: 'POST', headers: auth })).status).toBe(200);
    // The group also receives the hub's own critical alerts; the summary is the one titled 周报.
    const got = await waitFor(() => wecom.received.find((r) => r.body.includes('电梯健康周报')), {
      timeoutMs: 15_000,
      what: 'WeCom robot',
    });
    const body = JSON.parse(got.body) as { msgtype: string; markdown: { content: string } };
    expect(body.msgtype).toBe('markdown');
    expect(body.markdown.content).toContain('电梯健康周报（1 台）');
    expect(body.markdown.content).toContain(devices.elevator.id);
  });
});

describe('supervision', () => {
  it('restarts a crashed Node-RED, and with Node-RED stopped a panic press still raises its ticket and alert', async () => {
    const nr = t.hub.nodeRed;
    if (!nr?.pid) throw new Error('Node-RED is not running');
    const before = nr.starts;
    process.kill(nr.pid, 'SIGKILL');
    await waitFor(() => nr.starts > before, { timeoutMs: 10_000, what: 'a restart' });
    await waitFor(() => nr.whenReady(), { timeoutMs: 60_000, what: 'Node-RED back' });
    expect((await fetch(`${await nr.whenReady()}/flows`)).status).toBe(401);

    await nr.stop();
    expect(nr.pid).toBeUndefined();
    await send(devices.button, { type: 'press' });
    const ticket = await waitFor(
      async () => (await tickets(t.api)).find((x) => x.deviceId === devices.button.id),
      { what: 'panic ticket' },
    );
    const alerts = await t.api.get<{ items: { ticketId: string; cause: string }[] }>(
      '/api/v1/alerts?active=true',
    );
    expect(alerts.body.items.find((a) => a.cause === 'panic-press')?.ticketId).toBe(ticket.id);
    expect((await t.api.get('/ready')).status).toBe(200);
  });
});
