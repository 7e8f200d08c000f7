/**
 * Route-level checks through fastify's inject() (issue 17): for each route family, request
 * validation (400 with the stable code and the problem's path), error codes (401, 403 by role and
 * by jurisdiction, 404, 409) and authorisation — every denial beside its positive control, the
 * legitimate call that works. No socket is opened: the hub is started with `{ listen: false }`.
 * What crosses a socket (MQTT, SSE, webhooks) stays in hub/test/integration.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TicketView } from '../../src/tickets/ticket-schemas.ts';
import { loadExample } from '../helpers/community.ts';
import { startInjectHub } from '../helpers/inject-hub.ts';
import type { ApiClient } from '../helpers/test-hub.ts';

type ErrorBody = { error: { code: string; message: string; details?: { problems?: { path: string }[] } } };

let env: Awaited<ReturnType<typeof startInjectHub>>;
let admin: ApiClient;
let people: Record<'p-grid-worker-1' | 'p-grid-worker-2' | 'p-installer' | 'p-street-duty', ApiClient>;

const code = (r: { body: unknown }) => (r.body as ErrorBody).error?.code;
const paths = (r: { body: unknown }) =>
  (r.body as ErrorBody).error?.details?.problems?.map((p) => p.path) ?? [];
/** What a validation error names: its problems' paths and its message (a missing field is named there). */
const names = (r: { body: unknown }) => `${paths(r).join(' ')} ${(r.body as ErrorBody).error?.message ?? ''}`;

beforeAll(async () => {
  env = await startInjectHub();
  admin = env.api;
  people = (await loadExample(admin, [
    'p-grid-worker-1',
    'p-grid-worker-2',
    'p-installer',
    'p-street-duty',
  ])) as unknown as typeof people;
}, 60_000);

afterAll(async () => {
  await env?.cleanup();
});

describe('authentication', () => {
  it('answers 401 without a token or with a wrong one, and serves the same route with a token', async () => {
    const anonymous = admin.as('');
    expect(code(await anonymous.get('/api/v1/tickets'))).toBe('GH_ERR_UNAUTHENTICATED');
    expect((await anonymous.get('/api/v1/tickets')).status).toBe(401);
    expect((await admin.as('ghk_not-a-token').get('/api/v1/tickets')).status).toBe(401);
    expect((await admin.get('/api/v1/tickets')).status).toBe(200);
  });
});

describe('tickets', () => {
  const manual = { title: '楼道堆物', site: 'site-b1', category: 'manual' };

  it('validates the body: a missing title and an unknown field are 400 with their paths', async () => {
    const worker = people['p-grid-worker-1'];
    const missing = await worker.post('/api/v1/tickets', { site: 'site-b1' });
    expect(missing.status).toBe(400);
    expect(code(missing)).toBe('GH_ERR_VALIDATION');
    expect(names(missing)).toContain('title');
    const extra = await worker.post('/api/v1/tickets', { ...manual, priority: 'high' });
    expect(extra.status).toBe(400);
    expect(code(extra)).toBe('GH_ERR_VALIDATION');
    const ok = await worker.post<TicketView>('/api/v1/tickets', manual);
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ title: '楼道堆物', siteId: 'site-b1', state: 'reported' });
  });

  it('keeps a grid worker to their grid: another grid’s site is 403, their own works', async () => {
    const other = await people['p-grid-worker-1'].post('/api/v1/tickets', { ...manual, site: 'site-b7' });
    expect(other.status).toBe(403);
    expect(code(other)).toBe('GH_ERR_FORBIDDEN_SCOPE');
    const own = await people['p-grid-worker-2'].post('/api/v1/tickets', { ...manual, site: 'site-b7' });
    expect(own.status).toBe(201);
    // and the first worker cannot read the second's ticket, while its owner can
    const id = (own.body as TicketView).id;
    expect(code(await people['p-grid-worker-1'].get(`/api/v1/tickets/${id}`))).toBe('GH_ERR_FORBIDDEN_SCOPE');
    expect((await people['p-grid-worker-2'].get(`/api/v1/tickets/${id}`)).status).toBe(200);
  });

  it('refuses a role without the permission (installer creates no ticket) and an unknown place', async () => {
    const installer = await people['p-installer'].post('/api/v1/tickets', manual);
    expect(installer.status).toBe(403);
    expect(code(installer)).toBe('GH_ERR_FORBIDDEN_ROLE');
    const nowhere = await admin.post('/api/v1/tickets', { ...manual, site: 'site-nowhere' });
    expect(nowhere.status).toBe(404);
    expect(code(nowhere)).toBe('GH_ERR_SITE_UNKNOWN');
  });

  it('answers 404 for an unknown ticket, 400 for an unknown action, 409 for a wrong transition', async () => {
    expect(code(await admin.get('/api/v1/tickets/T-none'))).toBe('GH_ERR_NOT_FOUND');
    const t = (await admin.post<TicketView>('/api/v1/tickets', manual)).body;
    const bad = await admin.post(`/api/v1/tickets/${t.id}/teleport`, {});
    expect(bad.status).toBe(400);
    expect(code(bad)).toBe('GH_ERR_VALIDATION');
    const wrong = await admin.post(`/api/v1/tickets/${t.id}/close`, {});
    expect(wrong.status).toBe(409);
    expect(code(wrong)).toBe('GH_ERR_INVALID_TRANSITION');
    const accept = await admin.post<TicketView>(`/api/v1/tickets/${t.id}/accept`, {});
    expect(accept.status).toBe(200);
    expect(accept.body.state).toBe('accepted');
    // rate needs a rating; a rating out of range is refused by the schema
    expect(code(await admin.post(`/api/v1/tickets/${t.id}/note`, { rating: 9 }))).toBe('GH_ERR_VALIDATION');
  });

  it('scopes statistics: another street’s grid node is 403, the worker’s own grid is answered', async () => {
    const foreign = await people['p-grid-worker-1'].get('/api/v1/stats/tickets?grid=g-xinghua-2');
    expect(foreign.status).toBe(403);
    expect(code(foreign)).toBe('GH_ERR_FORBIDDEN_SCOPE');
    expect((await people['p-grid-worker-1'].get('/api/v1/stats/tickets?grid=g-xinghua-1')).status).toBe(200);
  });
});

describe('devices', () => {
  it('validates a registration and scopes it to the installer’s street', async () => {
    const installer = people['p-installer'];
    const noModel = await installer.post('/api/v1/devices', { site: 'site-b1' });
    expect(noModel.status).toBe(400);
    expect(names(noModel)).toContain('model');
    const unknownModel = await installer.post('/api/v1/devices', { model: 'no-such-model', site: 'site-b1' });
    expect(code(unknownModel)).toBe('GH_ERR_MODEL_UNKNOWN');
    const worker = await people['p-grid-worker-1'].post('/api/v1/devices', {
      model: 'generic-nb-smoke',
      site: 'site-b1',
    });
    expect(worker.status).toBe(403);
    expect(code(worker)).toBe('GH_ERR_FORBIDDEN_ROLE');
    const ok = await installer.post<{ device: { id: string }; secret: string }>('/api/v1/devices', {
      model: 'generic-nb-smoke',
      site: 'site-b1',
    });
    expect(ok.status).toBe(201);
    expect(ok.body.secret.length).toBeGreaterThan(20);
    expect(code(await admin.get('/api/v1/devices/sd-none'))).toBe('GH_ERR_DEVICE_UNKNOWN');
  });

  it('serves the models with their presence timing in seconds', async () => {
    const models =
      await people['p-installer'].get<{ id: string; offlineAfterSeconds: number }[]>(
        '/api/v1/device-models/',
      );
    expect(models.status).toBe(200);
    expect(models.body.find((m) => m.id === 'generic-nb-smoke')?.offlineAfterSeconds).toBe(25 * 3600);
  });
});

describe('policies', () => {
  it('refuses an unknown key, a wrong value and a global change by street duty; admits theirs', async () => {
    const duty = people['p-street-duty'];
    const unknown = await admin.put('/api/v1/policies/no.such.key', {
      scope: { kind: 'global', id: '*' },
      value: 1,
    });
    expect(unknown.status).toBe(404);
    const wrong = await admin.put('/api/v1/policies/alert.maxRenotify', {
      scope: { kind: 'global', id: '*' },
      value: 'x',
    });
    expect(wrong.status).toBe(400);
    expect(code(wrong)).toBe('GH_ERR_VALIDATION');
    const global = await duty.put('/api/v1/policies/alert.maxRenotify', {
      scope: { kind: 'global', id: '*' },
      value: 5,
    });
    expect(global.status).toBe(403);
    expect(code(global)).toBe('GH_ERR_FORBIDDEN_SCOPE');
    const own = await duty.put<{ value: number }>('/api/v1/policies/alert.maxRenotify', {
      scope: { kind: 'site', id: 'site-b1' },
      value: 5,
    });
    expect(own.status).toBe(200);
    expect(own.body.value).toBe(5);
  });
});

describe('alerts and webhooks', () => {
  it('answers 404 for an unknown alert and refuses alerts to an installer', async () => {
    expect(code(await admin.get('/api/v1/alerts/A-none'))).toBe('GH_ERR_NOT_FOUND');
    expect(code(await people['p-installer'].get('/api/v1/alerts'))).toBe('GH_ERR_FORBIDDEN_ROLE');
    expect((await people['p-grid-worker-1'].get('/api/v1/alerts')).status).toBe(200);
  });

  it('validates a webhook target and keeps it to those who may register one', async () => {
    const body = {
      name: '值班群',
      kind: 'wecom',
      url: 'https://qyapi.example/cgi-bin/webhook/send?key=k',
      scope: { kind: 'grid', id: 's-dongyuan' },
    };
    const badUrl = await admin.post('/api/v1/webhooks', { ...body, url: 'ftp://x' });
    expect(badUrl.status).toBe(400);
    expect(paths(badUrl).join(' ')).toContain('url');
    const worker = await people['p-grid-worker-1'].post('/api/v1/webhooks', body);
    expect(code(worker)).toBe('GH_ERR_FORBIDDEN_ROLE');
    const ok = await people['p-street-duty'].post<{ id: string; url: string }>('/api/v1/webhooks', body);
    expect(ok.status).toBe(201);
    expect(ok.body.url).not.toContain('key=k');
  });
});

describe('bodies', () => {
  it('refuses JSON nested too deep before parsing it, and takes the same body flat', async () => {
    let deep = '0';
    for (let i = 0; i < 200; i++) deep = `[${deep}]`;
    const r = await admin.request('POST', '/api/v1/tickets', `{"title":${deep}}`);
    expect(r.status).toBe(400);
    expect(code(r)).toBe('GH_ERR_NESTING_TOO_DEEP');
    expect((await admin.post('/api/v1/tickets', { title: 'flat', site: 'site-b1' })).status).toBe(201);
  });
});
