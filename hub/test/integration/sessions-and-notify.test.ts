import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, registerDevice, topic } from '../helpers/devices.ts';
import { type ApiClient, startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

// Console sign-in (scrypt passwords, HttpOnly session cookie, CSRF token) and the notify API's
// roles and jurisdiction, over real HTTP.

let t: TestHub;
let people: Record<'p-grid-worker-1' | 'p-property' | 'p-street-duty', ApiClient>;
const PASSWORD = 'a long enough password';

async function login(username: string, password: string) {
  const res = await fetch(`${t.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const body = (await res.json()) as { csrf?: string; me?: { personId: string }; error?: { code: string } };
  return { status: res.status, body, cookie: res.headers.get('set-cookie') ?? '' };
}

beforeAll(async () => {
  t = await startTestHub();
  people = await loadExample(t.api, ['p-grid-worker-1', 'p-property', 'p-street-duty']);
  expect((await t.api.put('/api/v1/people/p-grid-worker-1/password', { password: PASSWORD })).status).toBe(
    204,
  );
});
afterAll(() => t.cleanup());

describe('sign-in', () => {
  it('keeps only a scrypt hash and refuses wrong or unknown users with the same code', async () => {
    const row = t.hub.store.db
      .selectFrom('people')
      .select('password_hash')
      .where('id', '=', 'p-grid-worker-1')
      .executeTakeFirstOrThrow();
    expect((await row).password_hash).toMatch(/^scrypt\$/);
    expect((await row).password_hash).not.toContain(PASSWORD);
    const wrong = await login('p-grid-worker-1', 'not the password');
    const unknown = await login('nobody', 'not the password');
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(wrong.body.error?.code).toBe('GH_ERR_LOGIN_FAILED');
    expect(unknown.body.error?.code).toBe('GH_ERR_LOGIN_FAILED');
  });

  it('sets an HttpOnly SameSite cookie; changes need the CSRF token; logout ends the session', async () => {
    const ok = await login('p-grid-worker-1', PASSWORD);
    expect(ok.status).toBe(200);
    expect(ok.cookie).toMatch(/gh_session=[^;]+;.*HttpOnly/i);
    expect(ok.cookie).toMatch(/SameSite=Strict/i);
    expect(ok.cookie).not.toMatch(/Secure/i); // plain HTTP here; Secure behind TLS
    const cookie = ok.cookie.split(';')[0] as string;
    const me = await fetch(`${t.url}/api/v1/me`, { headers: { cookie } });
    expect(((await me.json()) as { personId: string }).personId).toBe('p-grid-worker-1');

    const ticket = { title: '楼道堆物', site: 'site-b1' };
    const noCsrf = await fetch(`${t.url}/api/v1/tickets`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify(ticket),
    });
    expect(noCsrf.status).toBe(403);
    expect(((await noCsrf.json()) as { error: { code: string } }).error.code).toBe('GH_ERR_CSRF');
    const withCsrf = await fetch(`${t.url}/api/v1/tickets`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': ok.body.csrf as string },
      body: JSON.stringify(ticket),
    });
    expect(withCsrf.status).toBe(201);
    // The ticket says what this person may do with it now (role and state), for the console's buttons.
    const created = (await withCsrf.json()) as { id: string };
    const detail = await fetch(`${t.url}/api/v1/tickets/${created.id}`, { headers: { cookie } });
    const allowed = ((await detail.json()) as { allowedActions: string[] }).allowedActions;
    expect(allowed).toEqual(expect.arrayContaining(['accept', 'reject', 'escalate', 'note']));
    expect(allowed).not.toContain('close');
    expect(allowed).not.toContain('supervise');
    const asProperty = await people['p-property'].get<{ allowedActions: string[] }>(
      `/api/v1/tickets/${created.id}`,
    );
    expect(asProperty.body.allowedActions).toEqual(['escalate', 'note']);
    const session = await fetch(`${t.url}/api/v1/auth/session`, { headers: { cookie } });
    expect(((await session.json()) as { csrf: string }).csrf).toBe(ok.body.csrf);

    const out = await fetch(`${t.url}/api/v1/auth/logout`, {
      method: 'POST',
      headers: { cookie, 'x-csrf-token': ok.body.csrf as string },
    });
    expect(out.status).toBe(204);
    expect((await fetch(`${t.url}/api/v1/me`, { headers: { cookie } })).status).toBe(401);
  });

  it('locks a user name after repeated failures from one address', async () => {
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 6; i++) codes.push((await login('p-street-duty', `guess ${i}`)).body.error?.code);
    expect(codes.slice(0, 5)).toEqual(Array(5).fill('GH_ERR_LOGIN_FAILED'));
    expect(codes[5]).toBe('GH_ERR_LOGIN_LOCKED');
  });

  it('lets people change their own password with the current one, and only admins set others’', async () => {
    const worker = people['p-grid-worker-1'];
    const other = await worker.put('/api/v1/people/p-property/password', { password: 'x'.repeat(12) });
    expect(other.status).toBe(403);
    const noCurrent = await worker.put('/api/v1/people/p-grid-worker-1/password', {
      password: 'new password 123',
    });
    expect(noCurrent.status).toBe(401);
    const changed = await worker.put('/api/v1/people/p-grid-worker-1/password', {
      password: 'new password 123',
      currentPassword: PASSWORD,
    });
    expect(changed.status).toBe(204);
    expect((await login('p-grid-worker-1', PASSWORD)).status).toBe(401);
    expect((await login('p-grid-worker-1', 'new password 123')).status).toBe(200);
  });
});

describe('notify', () => {
  it('checks role and jurisdiction of the target', async () => {
    const grid2 = await t.api.post<{ id: string }>('/api/v1/webhooks', {
      name: 'grid 2 robot',
      kind: 'wecom',
      url: 'http://127.0.0.1:9/never',
      scope: { kind: 'grid', id: 'g-xinghua-2' },
    });
    expect(grid2.status).toBe(201);
    const msg = { to: { kind: 'webhook', target: 'grid 2 robot' }, title: 't', text: 'x' };
    const worker = await people['p-grid-worker-1'].post<{ error: { code: string } }>('/api/v1/notify', msg);
    expect(worker.body.error.code).toBe('GH_ERR_FORBIDDEN_SCOPE');
    const property = await people['p-property'].post<{ error: { code: string } }>('/api/v1/notify', msg);
    expect(property.body.error.code).toBe('GH_ERR_FORBIDDEN_ROLE');
    const duty = await people['p-street-duty'].post<{ id: string }>('/api/v1/notify', msg);
    expect(duty.status).toBe(202);
    const outside = await people['p-grid-worker-1'].post<{ error: { code: string } }>('/api/v1/notify', {
      to: { kind: 'person', id: 'p-grid-leader-2' },
      title: 't',
      text: 'x',
    });
    expect(outside.body.error.code).toBe('GH_ERR_FORBIDDEN_SCOPE');
    const audit = await t.api.get<{ action: string; entityId: string }[]>('/api/v1/audit?action=notify.send');
    expect(audit.body.map((e) => e.entityId)).toContain(duty.body.id);
  });
});

describe('what the console reads', () => {
  it('device lists carry the latest battery; the grid summary counts only the caller’s places', async () => {
    const b1 = await registerDevice(t.api, 'generic-panic-button', 'site-b1');
    await registerDevice(t.api, 'generic-panic-button', 'site-b3'); // not the property manager's
    const c = await connectDevice(t, b1);
    await c.publishAsync(topic(b1.id, 'telemetry'), JSON.stringify({ battery: 87 }), { qos: 1 });
    await c.endAsync();
    const listed = await waitFor(
      async () =>
        (
          await t.api.get<{ items: { id: string; battery: number | null }[] }>('/api/v1/devices?site=site-b1')
        ).body.items.find((d) => d.id === b1.id && d.battery !== null),
      { what: 'battery in the list' },
    );
    expect(listed.battery).toBe(87);

    type Row = { id: string; devices: number; offline: number; openTickets: number[] };
    // The summary reads presence from the store, which trails the live state by up to one flush
    // (250 ms after a change): write it now rather than race the timer.
    await t.hub.presence.flush();
    const admin = await t.api.get<Row[]>('/api/v1/grid/summary');
    const mgA = admin.body.find((r) => r.id === 'mg-xinghua-1-a');
    expect(mgA?.devices).toBe(2);
    expect(mgA?.offline).toBe(1); // b3 never connected
    expect(mgA?.openTickets.reduce((a, n) => a + n, 0)).toBeGreaterThanOrEqual(1); // the 楼道堆物 ticket
    const property = await people['p-property'].get<Row[]>('/api/v1/grid/summary');
    expect(property.body.find((r) => r.id === 'mg-xinghua-1-a')?.devices).toBe(1);
  });
});
