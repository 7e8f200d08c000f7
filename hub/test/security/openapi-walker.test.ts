/**
 * Issue 14, "how it is checked": every route of the served OpenAPI document (`/docs/json`, so a new
 * route is walked the day it is added) is called with no token and as four people who must not
 * reach street A's things — an installer of another street, a grid worker of another grid, street
 * duty of another street and a property manager of other sites — with path, query and body aimed at
 * street A (a device, ticket, alert, webhook, notification, policy and token there). Each answer
 * must be 401 (no token) / 403 / 404, or a successful read that contains nothing of street A. The
 * positive control: the admin's same request is understood (no 400/401/403/404) and the admin's
 * reads do show street A's things, so the leak detector can fire.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ctwingDataReport, onenetBody, onenetDataPoint } from '../../../device-sim/src/platforms.ts';
import type { CommunityFile } from '../../src/grid/community-schema.ts';
import { exampleCommunity, loadTwoStreets } from '../helpers/community.ts';
import { connectDevice, ELEVATOR_IDLE, registerDevice, topic } from '../helpers/devices.ts';
import { type ApiClient, startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

interface Schema {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  minimum?: number;
  minItems?: number;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
}
interface Parameter {
  in: 'path' | 'query';
  name: string;
  required?: boolean;
  schema: Schema;
}
interface Operation {
  method: string;
  path: string;
  public: boolean;
  parameters: Parameter[];
  body?: Schema;
}
interface Answer {
  status: number;
  text: string;
}

const PERSONAS = {
  'installer of another street': 'p-by-installer',
  'grid worker of another grid': 'p-grid-worker-2',
  'street duty of another street': 'p-by-duty',
  'property manager of other sites': 'p-property',
} as const;
/** Persons of another street must not even see street A's grid model. */
const OTHER_STREET = new Set(['p-by-installer', 'p-by-duty']);

let t: TestHub;
let people: Record<(typeof PERSONAS)[keyof typeof PERSONAS], ApiClient>;
let ops: Operation[];
/** street A's things, created by the admin; the walker aims every request at them */
const A = {
  button: 'atk-a-button',
  lift: 'atk-a-lift',
  ticket: '',
  alert: '',
  webhook: '',
  notification: '',
  token: '',
  command: '',
};
/** a OneNET and a CTWing integration (hub-wide, not street A's), and two unmatched identities */
const I = {
  onenet: '',
  ctwing: '',
  ctwingToken: '',
  register: '861111111111111',
  dismiss: '862222222222222',
};
let markers: string[];

beforeAll(async () => {
  t = await startTestHub({ overrides: { 'alerts.tickMs': 25 } });
  people = await loadTwoStreets(t.api, Object.values(PERSONAS));
  const button = await registerDevice(t.api, 'generic-panic-button', 'site-b3', { id: A.button });
  const lift = await registerDevice(t.api, 'gbt24476-elevator', 'site-b3', { id: A.lift });
  const c = await connectDevice(t, button);
  await c.publishAsync(topic(A.button, 'event'), JSON.stringify({ eventId: 'walk-1', type: 'press' }), {
    qos: 1,
  });
  await c.publishAsync(topic(A.button, 'telemetry'), JSON.stringify({ battery: 87 }), { qos: 1 });
  await c.endAsync();
  const l = await connectDevice(t, lift);
  await l.publishAsync(topic(A.lift, 'telemetry'), JSON.stringify({ ...ELEVATOR_IDLE, ts: Date.now() }), {
    qos: 1,
  });
  await l.endAsync();
  const alert = await waitFor(
    async () =>
      (
        await t.api.get<{ items: { id: string; ticketId: string | null; deviceId: string }[] }>(
          '/api/v1/alerts',
        )
      ).body.items.find((a) => a.deviceId === A.button && a.ticketId),
    { what: 'street A’s alert and ticket' },
  );
  A.alert = alert.id;
  A.ticket = alert.ticketId as string;
  const hook = await t.api.post<{ id: string }>('/api/v1/webhooks', {
    name: 'atk-a-robot',
    kind: 'generic',
    url: 'http://127.0.0.1:9/atk-a-robot',
    scope: { kind: 'grid', id: 'g-xinghua-1' },
    minSeverity: 'critical',
  });
  A.webhook = hook.body.id;
  A.notification = (
    await t.api.post<{ id: string }>('/api/v1/notify', {
      to: { kind: 'webhook', target: A.webhook },
      title: 'atk-a-notice',
      text: 'atk-a-notice',
    })
  ).body.id;
  expect(
    (
      await t.api.put('/api/v1/policies/water.level.alarmCm', {
        scope: { kind: 'site', id: 'site-b3' },
        value: 31,
      })
    ).status,
  ).toBe(200);
  A.token = (
    await t.api.post<{ id: string }>('/api/v1/people/p-grid-worker-1/tokens', { label: 'atk-a-token' })
  ).body.id;
  const command = await t.api.post<{ id: string }>(`/api/v1/devices/${A.button}/commands`, {
    type: 'selftest',
  });
  expect(command.status).toBe(201);
  A.command = command.body.id;
  expect(
    (await t.api.post(`/api/v1/elevators/${A.lift}/maintenance-visits`, { notes: 'atk-a-visit' })).status,
  ).toBe(204);
  markers = ['atk-a-', A.ticket, A.alert, A.webhook, A.notification, A.token];
  const on = await t.api.post<{ integration: { id: string } }>('/api/v1/integrations', {
    id: 'walk-onenet',
    kind: 'onenet',
    name: 'walker OneNET',
    models: ['generic-panic-button'],
    token: 'walker-onenet-token',
  });
  I.onenet = on.body.integration.id;
  const ct = await t.api.post<{ integration: { id: string }; token: string }>('/api/v1/integrations', {
    id: 'walk-ctwing',
    kind: 'ctwing',
    name: 'walker CTWing',
    models: ['generic-panic-button'],
  });
  I.ctwing = ct.body.integration.id;
  I.ctwingToken = ct.body.token;
  for (const imei of [I.register, I.dismiss]) {
    const push = onenetBody('walker-onenet-token', {
      ...onenetDataPoint('9000', 'press', { type: 'press' }),
      imei,
    });
    const res = await fetch(`${t.url}/api/v1/ingress/${I.onenet}/onenet`, {
      method: 'POST',
      body: push,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
  }

  const doc = (await (await fetch(`${t.url}/docs/json`)).json()) as {
    paths: Record<
      string,
      Record<
        string,
        {
          security?: unknown[];
          parameters?: Parameter[];
          requestBody?: { content: Record<string, { schema: Schema }> };
        }
      >
    >;
  };
  ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      // no security, or optional security ({} among the alternatives): a visitor may call it
      public:
        (Array.isArray(op.security) &&
          (op.security.length === 0 || op.security.some((s) => Object.keys(s as object).length === 0))) ||
        path === '/api/v1/auth/login',
      parameters: op.parameters ?? [],
      ...(op.requestBody ? { body: Object.values(op.requestBody.content)[0]?.schema } : {}),
    })),
  );
}, 60_000);
afterAll(async () => t?.cleanup());

// ---- building requests aimed at street A ----

/** `{id}` by the collection before it; a route without an entry here fails loudly (add it). */
function idFor(path: string, param: string): string {
  if (param === 'tokenId') return A.token;
  if (param === 'key') return 'water.level.alarmCm';
  if (param === 'commandId') return A.command;
  const before = path.split(`/{${param}}`)[0]?.split('/').pop() ?? '';
  const ids: Record<string, string> = {
    devices: A.button,
    elevators: A.lift,
    tickets: A.ticket,
    alerts: A.alert,
    webhooks: A.webhook,
    notify: A.notification,
    people: 'p-grid-worker-1',
    nodes: 'g-xinghua-1',
    sites: 'site-b3',
    'emergency-units': 'eu-block-1',
    departments: 'dept-fire',
    integrations: I.onenet,
  };
  // issue 20: an unmatched identity per route (registering one removes it), the push URLs' integrations
  if (param === 'identity') return path.endsWith('/register') ? I.register : I.dismiss;
  if (path.startsWith('/api/v1/ingress/')) return path.endsWith('/ctwing') ? I.ctwing : I.onenet;
  const id = ids[before];
  if (!id) throw new Error(`the walker has no street-A target for {${param}} in ${path}: add one to idFor()`);
  return id;
}

/** Body fields that name a place or thing: street A's. */
const NAMED: Record<string, () => string> = {
  site: () => 'site-b3',
  grid: () => 'g-xinghua-1',
  gridNode: () => 'g-xinghua-1',
  unit: () => 'eu-block-1',
  emergencyUnit: () => 'eu-block-1',
  device: () => A.button,
  model: () => 'generic-panic-button',
  target: () => A.webhook,
  leader: () => 'p-block-leader',
  district: () => 'd-qinghe',
};
/** Query parameters likewise (these also name the scope of a policy to remove). */
const QUERY: Record<string, () => string> = {
  ...NAMED,
  entityId: () => A.button,
  field: () => 'battery',
  kind: () => 'site',
  id: () => 'site-b3',
};

/** A value the schema accepts, preferring street A's things for fields that name them. */
function example(s: Schema | undefined, name?: string, named: Record<string, () => string> = NAMED): unknown {
  if (!s) return {};
  const value = name ? named[name]?.() : undefined;
  if (value !== undefined && (s.type === 'string' || s.enum?.includes(value))) return value;
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  if (s.default !== undefined) return s.default;
  const variants = s.anyOf ?? s.oneOf;
  if (variants) return example(variants.find((v) => v.type !== 'null') ?? variants[0]);
  switch (s.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s.properties ?? {}))
        if (s.required?.includes(k) || k in NAMED) out[k] = example(v, k);
      return out;
    }
    case 'array':
      return s.minItems ? [example(s.items)] : [];
    case 'integer':
    case 'number':
      return s.minimum ?? 1;
    case 'boolean':
      return false;
    case 'string':
      if (s.format === 'date-time') return new Date().toISOString();
      if (s.pattern?.startsWith('^https?')) return 'https://example.com/walker';
      return 'walker-value'.padEnd(s.minLength ?? 0, 'x');
    default:
      return {};
  }
}

/** Bodies the schema alone cannot make meaningful: the example community's own entries, etc. */
function bodyOverride(op: Operation): { body: string; type: string } | undefined {
  const community = exampleCommunity();
  const entry = (key: keyof CommunityFile, id: string) => {
    const list = community[key] as { id: string }[];
    const { id: _, ...rest } = list.find((e) => e.id === id) as { id: string };
    return json(rest);
  };
  const json = (v: unknown) => ({ body: JSON.stringify(v), type: 'application/json' });
  const key = `${op.method} ${op.path}`;
  switch (key) {
    case 'POST /api/v1/devices/import':
      return { body: `id,model,site\natk-b-import,generic-panic-button,site-b3\n`, type: 'text/csv' };
    case 'POST /api/v1/grid/import':
      return json({ sites: community.sites?.filter((s) => s.id === 'site-b3') });
    case 'PUT /api/v1/grid/nodes/{id}':
      return entry('gridNodes', 'g-xinghua-1');
    case 'PUT /api/v1/sites/{id}':
      return entry('sites', 'site-b3');
    case 'PUT /api/v1/emergency-units/{id}':
      return entry('emergencyUnits', 'eu-block-1');
    case 'PUT /api/v1/departments/{id}':
      return entry('departments', 'dept-fire');
    case 'PUT /api/v1/people/{id}':
      return entry('people', 'p-grid-worker-1');
    case 'PUT /api/v1/policies/{key}':
      return json({ scope: { kind: 'site', id: 'site-b3' }, value: 32 });
    case 'POST /api/v1/webhooks':
      return json({
        name: 'walker',
        kind: 'generic',
        url: 'http://127.0.0.1:9/w',
        scope: { kind: 'grid', id: 'g-xinghua-1' },
        minSeverity: 'critical',
      });
    case 'POST /api/v1/tickets/{id}/{action}':
      return json({ note: 'walker' });
    case 'POST /api/v1/alerts/{id}/false-alarm':
      return json({ reason: 'walker' });
    case 'POST /api/v1/integrations/':
      return json({ kind: 'onenet', name: 'walker', models: ['generic-panic-button'] });
    // platform pushes, well-formed but unsigned: the ingress test below signs them
    case 'POST /api/v1/ingress/{id}/onenet':
      return json({ msg: onenetDataPoint('9000', 'press', { type: 'press' }) });
    case 'POST /api/v1/ingress/{id}/ctwing':
      return json(ctwingDataReport({ deviceId: 'walker' }, { type: 'press' }, 1));
    default:
      return undefined;
  }
}

function requestFor(op: Operation): { url: string; init: RequestInit } {
  let path = op.path;
  const query = new URLSearchParams();
  for (const p of op.parameters) {
    if (p.in === 'path') {
      const value = p.schema.enum
        ? p.schema.enum.includes('note')
          ? 'note'
          : String(p.schema.enum[0])
        : idFor(op.path, p.name);
      path = path.replace(`{${p.name}}`, encodeURIComponent(value));
    } else if (p.in === 'query' && (p.name in QUERY || (p.required && p.schema.default === undefined))) {
      query.set(p.name, String(example(p.schema, p.name, QUERY)));
    }
  }
  const headers: Record<string, string> = {};
  let body: string | undefined;
  if (op.method !== 'GET' && op.method !== 'DELETE') {
    const o = bodyOverride(op) ?? { body: JSON.stringify(example(op.body)), type: 'application/json' };
    body = o.body;
    headers['content-type'] = o.type;
  }
  if (op.path.endsWith('/stream')) headers['last-event-id'] = '0'; // replay whatever it may see
  return {
    url: `${t.url}${path}${query.size ? `?${query}` : ''}`,
    init: { method: op.method, headers, ...(body ? { body } : {}) },
  };
}

async function call(op: Operation, token?: string): Promise<Answer> {
  const { url, init } = requestFor(op);
  const headers = {
    ...(init.headers as Record<string, string>),
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
  const controller = new AbortController();
  const res = await fetch(url, { ...init, headers, signal: controller.signal });
  if (res.headers.get('content-type')?.includes('text/event-stream')) {
    // A stream: take what it sends in its first moments (the replay), then hang up.
    let text = '';
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const deadline = Date.now() + 400;
    while (Date.now() < deadline) {
      const chunk = await Promise.race([
        reader.read(),
        new Promise<undefined>((r) => setTimeout(r, deadline - Date.now())),
      ]);
      if (!chunk || chunk.done) break;
      text += Buffer.from(chunk.value).toString('utf8');
    }
    controller.abort();
    return { status: res.status, text };
  }
  return { status: res.status, text: await res.text() };
}

const name = (op: Operation) => `${op.method} ${op.path}`;
const leaks = (text: string, who: string) =>
  [
    ...markers,
    ...(OTHER_STREET.has(who) ? ['杏花', 's-dongyuan', 'c-xinghua', 'g-xinghua-1', 'site-b3'] : []),
    // a grid worker of grid 2 may see their street's and community's names, not grid 1's places
    ...(who === 'p-grid-worker-2' ? ['g-xinghua-1', 'site-b3'] : []),
  ].filter((m) => m && text.includes(m));
/** A CSV import refused row by row for jurisdiction is a denial too (every row names the reason). */
const csvDenied = (op: Operation, a: Answer) =>
  name(op) === 'POST /api/v1/devices/import' &&
  a.status === 422 &&
  (
    JSON.parse(a.text) as { error: { details: { problems: { reason: string }[] } } }
  ).error.details.problems.every((p) => p.reason.includes('outside your jurisdiction'));

describe('the OpenAPI walker', () => {
  it('finds the routes it must walk in /docs/json', () => {
    expect(ops.length).toBeGreaterThan(50);
    for (const must of [
      'GET /api/v1/webhooks',
      'DELETE /api/v1/webhooks/{id}',
      'GET /api/v1/audit',
      'POST /api/v1/devices/',
      'GET /api/v1/policies/{key}/resolve',
    ])
      expect(ops.map(name)).toContain(must);
  });

  it('without a token: 401 on every route but the public ones, which show nothing of street A', async () => {
    const wrong: string[] = [];
    for (const op of ops) {
      const a = await call(op);
      if (op.public) {
        if (a.status >= 500 || leaks(a.text, '').length > 0) wrong.push(`${name(op)} → ${a.status}`);
      } else if (a.status !== 401) wrong.push(`${name(op)} → ${a.status}`);
    }
    expect(wrong).toEqual([]);
  });

  for (const [persona, who] of Object.entries(PERSONAS)) {
    it(`as ${persona} (${who}): 403/404, or a read with nothing of street A`, async () => {
      const wrong: string[] = [];
      const token = people[who].token as string;
      for (const op of ops) {
        if (op.public) continue;
        const a = await call(op, token);
        if (a.status === 403 || a.status === 404 || csvDenied(op, a)) continue;
        const ok = a.status >= 200 && a.status < 300;
        const found = leaks(a.text, who);
        const selfService = name(op) === 'POST /api/v1/auth/logout';
        if (!ok || (op.method !== 'GET' && !selfService) || found.length > 0)
          wrong.push(
            `${name(op)} → ${a.status}${found.length ? ` leaks ${found.join(', ')}` : ''} ${a.text.slice(0, 160)}`,
          );
      }
      expect(wrong).toEqual([]);
    });
  }

  it('platform push routes: 401/404 with a stable code unsigned or with a bearer token; accepted when signed', async () => {
    const ingress = ops.filter((o) => o.path.startsWith('/api/v1/ingress/'));
    expect(ingress.map(name).sort()).toEqual([
      'GET /api/v1/ingress/{id}/onenet',
      'POST /api/v1/ingress/{id}/ctwing',
      'POST /api/v1/ingress/{id}/onenet',
    ]);
    const wrong: string[] = [];
    for (const op of ingress)
      for (const token of [undefined, t.api.token, people['p-by-installer'].token]) {
        const a = await call(op, token);
        const code =
          a.status < 500 ? (JSON.parse(a.text) as { error?: { code?: string } }).error?.code : undefined;
        if (![401, 403, 404].includes(a.status) || !code?.startsWith('GH_ERR_'))
          wrong.push(
            `${name(op)} ${token ? 'with a bearer token' : 'unsigned'} → ${a.status} ${a.text.slice(0, 120)}`,
          );
      }
    expect(wrong).toEqual([]);
    // positive control: the same routes, authenticated the platforms' way
    const signed = onenetBody('walker-onenet-token', onenetDataPoint('9001', 'press', { type: 'press' }));
    const post = (url: string, body: string) =>
      fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect((await post(`${t.url}/api/v1/ingress/${I.onenet}/onenet`, signed)).status).toBe(200);
    const report = JSON.stringify(ctwingDataReport({ deviceId: 'walker' }, { type: 'press' }, 2));
    expect(
      (await post(`${t.url}/api/v1/ingress/${I.ctwing}/ctwing?token=${I.ctwingToken}`, report)).status,
    ).toBe(200);
  });

  it('positive control: the admin’s same requests are understood, and its reads show street A', async () => {
    // reads first, then changes, then what removes or moves things
    const rank = (op: Operation) =>
      op.method === 'GET'
        ? 0
        : name(op) === 'DELETE /api/v1/integrations/{id}'
          ? 3
          : op.method === 'DELETE' || /decommission|rotate-secret|move|resolve|false-alarm/.test(op.path)
            ? 2
            : 1;
    const wrong: string[] = [];
    const seen = new Set<string>();
    for (const op of [...ops].filter((o) => !o.public).sort((x, y) => rank(x) - rank(y))) {
      const a = await call(op, t.api.token);
      const refused =
        [401, 403, 404].includes(a.status) || (a.status === 400 && a.text.includes('GH_ERR_VALIDATION'));
      if (refused) wrong.push(`${name(op)} → ${a.status} ${a.text.slice(0, 200)}`);
      if (op.method === 'GET' && leaks(a.text, '').length > 0) seen.add(name(op));
    }
    expect(wrong).toEqual([]);
    for (const read of [
      'GET /api/v1/devices/',
      'GET /api/v1/devices/{id}',
      'GET /api/v1/tickets',
      'GET /api/v1/tickets/{id}',
      'GET /api/v1/alerts',
      'GET /api/v1/alerts/{id}',
      'GET /api/v1/alerts/stream',
      'GET /api/v1/webhooks',
      'GET /api/v1/notify/{id}',
      'GET /api/v1/audit',
      'GET /api/v1/series',
    ])
      expect(seen, read).toContain(read);
  });
});
