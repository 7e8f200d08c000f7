/**
 * Issue 14 items 5–9 against one real hub with two streets (the example's 东园街道 and 北苑街道):
 * street B's people cannot list, delete or use street A's webhook targets, read street A's audit
 * entries or anyone's sign-in addresses, bind a device to street A's emergency unit, or resolve
 * policies at street A's places; staff messages carry only their schema's fields (no secret
 * hashes); a staff client can publish only acks of alerts it may see and nothing it publishes
 * reaches another client; sign-in lockout also counts one user name across many addresses, briefly
 * and never locking people out of addresses they used before; deep nesting is refused with a code.
 * A positive control stands beside each denial.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/auth/credentials.ts';
import { DeviceEventMessageSchema, PresenceChangeSchema } from '../../src/contract/device-event.ts';
import { loadTwoStreets } from '../helpers/community.ts';
import { connectDevice, connectStaff, registerDevice, topic } from '../helpers/devices.ts';
import { type ApiClient, startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';
import { watch } from './helpers.ts';

const PEOPLE = [
  'p-street-duty',
  'p-installer',
  'p-grid-worker-1',
  'p-block-leader',
  'p-by-duty',
  'p-by-installer',
  'p-by-worker',
] as const;
let t: TestHub;
let p: Record<(typeof PEOPLE)[number], ApiClient>;
let aHook: string;

const webhook = (api: ApiClient, name: string, scopeId: string) =>
  api.post<{ id: string }>('/api/v1/webhooks', {
    name,
    kind: 'generic',
    url: `http://127.0.0.1:9/${name}`,
    scope: { kind: 'grid', id: scopeId },
    minSeverity: 'critical',
  });

beforeAll(async () => {
  t = await startTestHub({ overrides: { 'auth.loginUserLockSeconds': 2, 'alerts.tickMs': 25 } });
  p = await loadTwoStreets(t.api, PEOPLE);
  const a = await webhook(p['p-street-duty'], '值班群', 's-dongyuan');
  expect(a.status).toBe(201);
  aHook = a.body.id;
});
afterAll(async () => t.cleanup());

describe('scope of every route (issue 14 item 5)', () => {
  it('street B’s duty neither lists nor deletes nor uses street A’s webhook targets; its own it may', async () => {
    const listed = await p['p-by-duty'].get<{ id: string }[]>('/api/v1/webhooks');
    expect(listed.status).toBe(200);
    expect(listed.body.map((w) => w.id)).not.toContain(aHook);
    const del = await p['p-by-duty'].request('DELETE', `/api/v1/webhooks/${aHook}`);
    expect(del.status).toBe(403);
    expect((await t.api.get<{ id: string }[]>('/api/v1/webhooks')).body.map((w) => w.id)).toContain(aHook);
    // The same name in street B is street B's own target; notify picks that one, not street A's.
    const own = await webhook(p['p-by-duty'], '值班群', 's-beiyuan');
    expect(own.status).toBe(201);
    const sent = await p['p-by-duty'].post<{ to: { id: string } }>('/api/v1/notify', {
      to: { kind: 'webhook', target: '值班群' },
      title: 't',
      text: 't',
    });
    expect(sent.status).toBe(202);
    expect(sent.body.to.id).toBe(own.body.id);
    expect((await p['p-by-duty'].get<{ id: string }[]>('/api/v1/webhooks')).body.map((w) => w.id)).toEqual([
      own.body.id,
    ]);
    expect((await p['p-by-duty'].request('DELETE', `/api/v1/webhooks/${own.body.id}`)).status).toBe(204);
  });

  it('the audit log shows street B only its own subtree and own actions; sign-in addresses only to admins', async () => {
    const a = await registerDevice(p['p-installer'], 'generic-nb-smoke', 'site-b1');
    const b = await registerDevice(p['p-by-installer'], 'generic-nb-smoke', 'site-by1');
    for (const who of ['p-street-duty', 'p-by-duty'])
      expect(
        (await t.api.put(`/api/v1/people/${who}/password`, { password: 'correct horse battery' })).status,
      ).toBe(204);
    const signIn = await fetch(`${t.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'p-street-duty', password: 'correct horse battery' }),
    });
    expect(signIn.status).toBe(200);

    type Entry = { entityId: string; action: string; actor: string; data: Record<string, unknown> | null };
    const byDuty = (await p['p-by-duty'].get<Entry[]>('/api/v1/audit?limit=1000')).body;
    const ids = byDuty.map((e) => e.entityId);
    expect(ids).toContain(b.id); // positive control: its own street's registration
    expect(ids).not.toContain(a.id);
    expect(ids).not.toContain('site-b1');
    expect(ids).not.toContain('p-street-duty');
    expect(ids).not.toContain(aHook);
    const byAdmin = (await t.api.get<Entry[]>('/api/v1/audit?limit=1000')).body;
    expect(byAdmin.map((e) => e.entityId)).toContain(a.id);
    const login = byAdmin.find((e) => e.action === 'session.login' && e.entityId === 'p-street-duty');
    expect(login?.data?.from).toBe('127.0.0.1');
    // Street A's duty sees its own sign-in, without the address.
    const own = (await p['p-street-duty'].get<Entry[]>('/api/v1/audit?action=session.login')).body;
    expect(own.find((e) => e.entityId === 'p-street-duty')?.data).not.toHaveProperty('from');
  });

  it('registration binds only to a unit inside the installer’s scope and consistent with the site', async () => {
    const foreign = await p['p-by-installer'].post<{ error: { code: string } }>('/api/v1/devices', {
      model: 'generic-panic-button',
      site: 'site-by1',
      emergencyUnit: 'eu-block-1',
    });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe('GH_ERR_FORBIDDEN_SCOPE');
    // In scope but unrelated to the site (grid 2's building, block 1-3's unit): refused as well.
    const unrelated = await p['p-installer'].post<{ error: { code: string } }>('/api/v1/devices', {
      model: 'generic-panic-button',
      site: 'site-b7',
      emergencyUnit: 'eu-block-1',
    });
    expect(unrelated.status).toBe(400);
    expect(unrelated.body.error.code).toBe('GH_ERR_VALIDATION');
    // Positive controls: the site's own unit, and the default.
    const own = await registerDevice(p['p-by-installer'], 'generic-panic-button', 'site-by1', {
      emergencyUnit: 'eu-by-1',
    });
    expect(own.device.emergencyUnitId).toBe('eu-by-1');
    expect(
      (await registerDevice(p['p-installer'], 'generic-panic-button', 'site-b2')).device.emergencyUnitId,
    ).toBe('eu-block-1');
  });

  it('policies resolve only at places in the caller’s jurisdiction', async () => {
    const key = '/api/v1/policies/water.level.alarmCm/resolve';
    expect((await p['p-by-duty'].get(`${key}?site=site-b4-basement`)).status).toBe(403);
    expect((await p['p-by-worker'].get(`${key}?grid=g-xinghua-1`)).status).toBe(403);
    const own = await p['p-by-duty'].get<{ value: number }>(`${key}?site=site-by1`);
    expect(own.status).toBe(200);
    expect(own.body.value).toBe(25);
  });
});

describe('staff MQTT (issue 14 items 6 and 7)', () => {
  it('presence and event messages carry exactly their schema’s fields: no secret hash, no internal status', async () => {
    const watcher = await connectStaff(t, 'p-grid-worker-1', p['p-grid-worker-1'].token as string);
    const w = watch(watcher);
    await watcher.subscribeAsync(['gh/v1/hub/presence/#', 'gh/v1/hub/event/#'], { qos: 1 });
    const d = await registerDevice(t.api, 'generic-panic-button', 'site-b1');
    const dc = await connectDevice(t, d);
    await dc.publishAsync(
      topic(d.id, 'event'),
      JSON.stringify({ eventId: 'e1', type: 'press', extra: 'x' }),
      {
        qos: 1,
      },
    );
    const presence = await waitFor(
      () => w.messages.find((m) => m.topic.startsWith('gh/v1/hub/presence/') && m.topic.endsWith(d.id)),
      { what: 'the presence message' },
    );
    const event = await waitFor(() => w.messages.find((m) => m.topic.startsWith('gh/v1/hub/event/')), {
      what: 'the event message',
    });
    expect(presence.body).toMatchObject({ deviceId: d.id, online: true, reason: 'connect' });
    expect(Object.keys(presence.body as object).sort()).toEqual(
      Object.keys(PresenceChangeSchema.properties).sort(),
    );
    expect(Object.keys(event.body as object).sort()).toEqual(
      Object.keys(DeviceEventMessageSchema.properties).sort(),
    );
    const hash = sha256Hex(d.secret);
    for (const m of w.messages) {
      expect(JSON.stringify(m.body)).not.toContain(hash);
      expect(m.body).not.toHaveProperty('secretHash');
      expect(m.body).not.toHaveProperty('status');
    }
    await dc.endAsync();
    await watcher.endAsync();
  });

  it('a staff publish is never forwarded; an ack for an alert one may not see closes the connection; a real ack works', async () => {
    const listenerClient = await connectStaff(t, 'p-street-duty', p['p-street-duty'].token as string);
    const listener = watch(listenerClient);
    await listenerClient.subscribeAsync('gh/v1/hub/#', { qos: 1 });
    // The attack: the ack topic's alert-id level read as a grid node.
    const attacker = await connectStaff(t, 'p-grid-worker-1', p['p-grid-worker-1'].token as string);
    const a = watch(attacker);
    attacker.publish('gh/v1/hub/ack/g-xinghua-1', JSON.stringify({ forged: 'alert for everyone' }), {
      qos: 1,
    });
    await waitFor(() => a.closed(), { what: 'the forged ack refused' });

    // Positive control: the block leader acknowledges a real alert of their unit over MQTT.
    const d = await registerDevice(t.api, 'generic-panic-button', 'site-b2');
    const dc = await connectDevice(t, d);
    await dc.publishAsync(topic(d.id, 'event'), JSON.stringify({ eventId: 'p1', type: 'press' }), { qos: 1 });
    const alert = await waitFor(
      async () =>
        (
          await t.api.get<{ items: { id: string; deviceId: string }[] }>('/api/v1/alerts?active=true')
        ).body.items.find((x) => x.deviceId === d.id),
      { what: 'the alert' },
    );
    // … but street B's people may not acknowledge it: connection closed, alert still raised.
    const outsider = await connectStaff(t, 'p-by-worker', p['p-by-worker'].token as string);
    const o = watch(outsider);
    outsider.publish(`gh/v1/hub/ack/${alert.id}`, '{}', { qos: 1 });
    await waitFor(() => o.closed(), { what: 'the outsider’s ack refused' });
    const leader = await connectStaff(t, 'p-block-leader', p['p-block-leader'].token as string);
    await leader.publishAsync(`gh/v1/hub/ack/${alert.id}`, '{}', { qos: 1 });
    const acked = await waitFor(
      async () => {
        const x = (
          await t.api.get<{ alert: { state: string; ackedBy: string; ackChannel: string } }>(
            `/api/v1/alerts/${alert.id}`,
          )
        ).body.alert;
        return x.state === 'acknowledged' ? x : undefined;
      },
      { what: 'the MQTT ack' },
    );
    expect(acked).toMatchObject({ ackedBy: 'person:p-block-leader', ackChannel: 'mqtt' });
    // The listener got the hub's own alert changes, and not one message on an ack topic.
    await waitFor(
      () =>
        listener.messages.some(
          (m) =>
            m.topic.startsWith('gh/v1/hub/alert/') &&
            (m.body as { action: string }).action === 'acknowledged',
        ),
      { what: 'the hub’s acknowledged change' },
    );
    expect(listener.messages.filter((m) => m.topic.startsWith('gh/v1/hub/ack/'))).toEqual([]);
    for (const c of [dc, leader, listenerClient]) await c.endAsync();
  });
});

function loginFrom(
  localAddress: string,
  username: string,
  password: string,
): Promise<{ status: number; code?: string }> {
  const { hostname, port } = new URL(t.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port,
        path: '/api/v1/auth/login',
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            code: (JSON.parse(body) as { error?: { code: string } }).error?.code,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ username, password }));
  });
}

describe('sign-in lockout (issue 14 item 8)', () => {
  it('locks a user name guessed from 20 addresses — briefly, and not from an address the person used before', async () => {
    const PASSWORD = 'a long secret phrase';
    for (const who of ['p-secretary', 'p-grid-leader-1'])
      expect((await t.api.put(`/api/v1/people/${who}/password`, { password: PASSWORD })).status).toBe(204);
    expect((await loginFrom('127.0.0.1', 'p-secretary', PASSWORD)).status).toBe(200); // the person's own PC
    for (let i = 0; i < 20; i++) {
      const r = await loginFrom(`127.0.0.${10 + i}`, 'p-secretary', `guess-${i}`);
      expect(r.code).toBe('GH_ERR_LOGIN_FAILED'); // one guess per address: no per-address lock
    }
    expect(await loginFrom('127.0.0.99', 'p-secretary', PASSWORD)).toEqual({
      status: 429,
      code: 'GH_ERR_LOGIN_LOCKED',
    });
    // Positive controls: the person's own address, and other people, are not locked out.
    expect((await loginFrom('127.0.0.1', 'p-secretary', PASSWORD)).status).toBe(200);
    expect((await loginFrom('127.0.0.99', 'p-grid-leader-1', PASSWORD)).status).toBe(200);
    // The lock ends by itself (here after 2 s) and guesses during it did not extend it.
    expect((await loginFrom('127.0.0.98', 'p-secretary', 'guess-during-lock')).status).toBe(429);
    await waitFor(async () => (await loginFrom('127.0.0.99', 'p-secretary', PASSWORD)).status === 200, {
      timeoutMs: 5000,
      intervalMs: 200,
      what: 'the lock to end',
    });
  });
});

describe('sign-in lockout under parallel guesses (red team)', () => {
  it('locks one address after 5 failures even when 60 guesses arrive at once; the real password then waits', async () => {
    const PASSWORD = 'another long secret phrase';
    expect((await t.api.put('/api/v1/people/p-grid-leader-2/password', { password: PASSWORD })).status).toBe(
      204,
    );
    const guesses = Array.from({ length: 60 }, (_, i) =>
      loginFrom('127.0.3.1', 'p-grid-leader-2', i === 57 ? PASSWORD : `guess-${i}`),
    );
    const results = await Promise.all(guesses);
    const failed = results.filter((r) => r.code === 'GH_ERR_LOGIN_FAILED').length;
    const locked = results.filter((r) => r.code === 'GH_ERR_LOGIN_LOCKED').length;
    expect(failed).toBeLessThanOrEqual(5);
    expect(locked).toBe(60 - failed);
    expect(results[57]?.status).toBe(429); // the real password, inside the burst, does not get in
    // Positive control: from another address the person still signs in.
    expect((await loginFrom('127.0.3.2', 'p-grid-leader-2', PASSWORD)).status).toBe(200);
  });
});

describe('nesting (issue 14 item 9)', () => {
  it('refuses a deeply nested body with GH_ERR_NESTING_TOO_DEEP and keeps serving; a shallow one is sent', async () => {
    let deep = '1';
    for (let i = 0; i < 20_000; i++) deep = `{"a":${deep}}`;
    const body = `{"to":{"kind":"person","id":"p-grid-worker-1"},"title":"t","text":"t","data":${deep}}`;
    const res = await p['p-street-duty'].post<{ error: { code: string } }>('/api/v1/notify', body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('GH_ERR_NESTING_TOO_DEEP');
    // YAML is refused before it is parsed (its parser recurses): flow, block and compact forms, deep
    // enough to have ended the process once (red team: 50,000 levels ran it out of memory).
    for (const yaml of [
      `${'- '.repeat(200)}x\n`,
      `${'- '.repeat(50_000)}x\n`,
      `a: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`,
      Array.from({ length: 300 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n'),
    ]) {
      const y = await t.api.post<{ error: { code: string } }>(
        '/api/v1/grid/import',
        yaml,
        'application/yaml',
      );
      expect(y.status).toBe(400);
      expect(y.body.error.code).toBe('GH_ERR_NESTING_TOO_DEEP');
    }
    // Positive control: ordinary nesting goes through.
    const ok = await p['p-street-duty'].post('/api/v1/notify', {
      to: { kind: 'person', id: 'p-grid-worker-1' },
      title: 't',
      text: 't',
      data: { a: { b: { c: [1, { d: 2 }] } } },
    });
    expect(ok.status).toBe(202);
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  });
});
