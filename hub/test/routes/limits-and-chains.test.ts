/**
 * What a red-team run found open after issue 14, where a route's answer is all that matters
 * (inject(), no socket):
 * - request bodies are small everywhere (http.jsonBodyLimitBytes, 256 KiB) but on the two imports,
 *   which keep http.bodyLimitBytes and take a large body only from a role that may import;
 * - an `alert.chain` policy may name only known, active people who can be paged there and are the
 *   caller's to name.
 * Every denial stands beside the legitimate call that works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTwoStreets } from '../helpers/community.ts';
import { startInjectHub } from '../helpers/inject-hub.ts';
import type { ApiClient } from '../helpers/test-hub.ts';

type ErrorBody = { error: { code: string; message: string; details?: { problems?: unknown[] } } };
const code = (r: { body: unknown }) => (r.body as ErrorBody).error?.code;

let env: Awaited<ReturnType<typeof startInjectHub>>;
let admin: ApiClient;
let people: Record<
  'p-grid-worker-1' | 'p-installer' | 'p-street-duty' | 'p-by-duty' | 'p-block-leader',
  ApiClient
>;

beforeAll(async () => {
  env = await startInjectHub();
  admin = env.api;
  people = await loadTwoStreets(admin, [
    'p-grid-worker-1',
    'p-installer',
    'p-street-duty',
    'p-by-duty',
    'p-block-leader',
  ]);
}, 60_000);
afterAll(async () => env?.cleanup());

describe('request body limits', () => {
  const KiB = 1024;
  const ticket = (note: string) => ({ title: '楼道堆物', site: 'site-b1', category: 'manual', note });

  it('refuses a multi-megabyte JSON body on an ordinary route with 413; a normal body is served', async () => {
    const worker = people['p-grid-worker-1'];
    for (const size of [300 * KiB, 4 * 1024 * KiB]) {
      const big = await worker.post('/api/v1/tickets', ticket('x'.repeat(size)));
      expect(big.status, `${size} bytes`).toBe(413);
      expect(code(big)).toBe('GH_ERR_PAYLOAD_TOO_LARGE');
    }
    // also an admin's and on a PUT: the limit is the route's, not the role's
    const person = await admin.put('/api/v1/people/p-big', {
      name: 'x'.repeat(300 * KiB),
      roles: ['grid-staff'],
      scope: { gridNode: 'g-xinghua-1' },
    });
    expect(person.status).toBe(413);
    expect(code(person)).toBe('GH_ERR_PAYLOAD_TOO_LARGE');
    const ok = await worker.post('/api/v1/tickets', {
      title: '楼道堆物',
      site: 'site-b1',
      category: 'manual',
    });
    expect(ok.status).toBe(201);
  });

  it('keeps the large limit on the device CSV import, for those who may register devices only', async () => {
    const header = 'id,model,site,name,installNotes\n';
    const rows: string[] = [];
    for (let i = 0; rows.join('').length < 400 * KiB; i++)
      rows.push(`csv-big-${i},generic-nb-smoke,site-b1,1号楼${i}室烟感,${'n'.repeat(900)}\n`);
    const csv = header + rows.join('');
    expect(csv.length).toBeGreaterThan(256 * KiB);
    const dry = await people['p-installer'].post<{ problems: unknown[]; rows: number }>(
      '/api/v1/devices/import?dryRun=true',
      csv,
      'text/csv',
    );
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ problems: [], rows: rows.length });
    // A grid worker may not register devices: refused before the body is read, not after.
    const worker = await people['p-grid-worker-1'].post(
      '/api/v1/devices/import?dryRun=true',
      csv,
      'text/csv',
    );
    expect(worker.status).toBe(403);
    expect(code(worker)).toBe('GH_ERR_FORBIDDEN_ROLE');
  });

  it('keeps the large limit on the community import, for admins only', async () => {
    const nodes = [];
    for (let i = 0; i < 3000; i++)
      nodes.push({
        id: `mg-bulk-${i}`,
        kind: 'micro-grid',
        name: `批量微网格${i}号 ${'网'.repeat(20)}`,
        parent: 'g-xinghua-2',
      });
    const file = { gridNodes: nodes };
    expect(JSON.stringify(file).length).toBeGreaterThan(256 * KiB);
    const ok = await admin.post<{ gridNodes?: { created: number } }>('/api/v1/grid/import', file);
    expect(ok.status).toBe(200);
    const duty = await people['p-street-duty'].post('/api/v1/grid/import', file);
    expect(duty.status).toBe(403);
    expect(code(duty)).toBe('GH_ERR_FORBIDDEN_ROLE');
  });
});

describe('alert.chain policy', () => {
  const setChain = (api: ApiClient, kind: string, id: string, value: unknown) =>
    api.put(`/api/v1/policies/alert.chain`, { scope: { kind, id }, value });
  const problems = (r: { body: unknown }) => JSON.stringify((r.body as ErrorBody).error?.details?.problems);

  it('refuses unknown ids, people without a role that can be paged, and inactive people', async () => {
    const duty = people['p-street-duty'];
    await admin.put('/api/v1/people/p-gone', {
      name: '已离职',
      roles: ['grid-staff'],
      scope: { gridNode: 'g-xinghua-1' },
      active: false,
    });
    for (const [chain, why] of [
      [['p-block-leader', 'p-nobody'], 'unknown person'],
      [['p-installer'], 'no role that may acknowledge'],
      [['p-gone'], 'not active'],
    ] as const) {
      const r = await setChain(duty, 'site', 'site-b1', chain);
      expect(r.status, chain.join()).toBe(422);
      expect(code(r)).toBe('GH_ERR_POLICY_CHAIN_INVALID');
      expect(problems(r)).toContain(why);
    }
    // nothing was changed: the chain still comes from the grid model
    const resolved = await duty.get<{ source: { kind: string } }>(
      '/api/v1/policies/alert.chain/resolve?site=site-b1',
    );
    expect(resolved.body.source.kind).toBe('default');
  });

  it('refuses people of another street and people who cannot see alerts at that place', async () => {
    const duty = people['p-street-duty'];
    const other = await setChain(duty, 'site', 'site-b1', ['p-block-leader', 'p-by-duty']);
    expect(other.status).toBe(422);
    expect(problems(other)).toContain('outside your jurisdiction');
    // street B's duty room may not page street A's people either (its own place, A's person)
    const reverse = await setChain(people['p-by-duty'], 'site', 'site-by1', ['p-street-duty']);
    expect(reverse.status).toBe(422);
    expect(code(reverse)).toBe('GH_ERR_POLICY_CHAIN_INVALID');
    // grid 2's worker cannot see an alert at 1号楼 (grid 1); the school's principal leads no unit there
    const blind = await setChain(duty, 'site', 'site-b1', ['p-grid-worker-2', 'p-school-principal']);
    expect(blind.status).toBe(422);
    const message = (blind.body as ErrorBody).error.message;
    expect(message).toContain("chain[0] 'p-grid-worker-2': cannot see alerts at site 'site-b1'");
    expect(message).toContain("chain[1] 'p-school-principal': cannot see alerts at site 'site-b1'");
  });

  it('accepts a chain of the place’s own people, and the alert uses it (positive control)', async () => {
    const duty = people['p-street-duty'];
    const chain = ['p-grid-worker-1', 'p-block-leader', 'p-street-duty'];
    const ok = await setChain(duty, 'site', 'site-b1', chain);
    expect(ok.status).toBe(200);
    const resolved = await duty.get<{ value: string[]; source: { kind: string; id: string } }>(
      '/api/v1/policies/alert.chain/resolve?site=site-b1',
    );
    expect(resolved.body).toMatchObject({ value: chain, source: { kind: 'site', id: 'site-b1' } });
    // an admin may name anyone who can be paged there, also a district department's duty officer
    const wide = await setChain(admin, 'site', 'site-b1', ['p-district-duty', ...chain]);
    expect(wide.status).toBe(200);
    // and null restores the derived chain
    expect((await setChain(duty, 'site', 'site-b1', null)).status).toBe(200);
  });
});

describe('paging policies a street-duty user may set', () => {
  const put = (api: ApiClient, key: string, value: unknown, id = 'site-b3') =>
    api.put(`/api/v1/policies/${key}`, { scope: { kind: 'site', id }, value });

  it('refuses re-notification and escalation faster than every 10 s from anyone but an admin', async () => {
    const duty = people['p-street-duty'];
    for (const key of ['alert.renotifySeconds', 'alert.stepDelaySeconds']) {
      const storm = await put(duty, key, { critical: 0.001 });
      expect(storm.status, key).toBe(403);
      expect(code(storm)).toBe('GH_ERR_FORBIDDEN_ROLE');
      // positive controls: a sane interval from street duty, a fast one from an admin (simulations)
      expect((await put(duty, key, { critical: 15, major: 60 })).status, key).toBe(200);
      expect((await put(admin, key, { critical: 0.5 })).status, key).toBe(200);
    }
  });

  it('refuses a level-4 department kind no department has; a known kind is taken', async () => {
    const duty = people['p-street-duty'];
    const typo = await put(duty, 'ticket.departments', { panic: 'dept-nowhere' });
    expect(typo.status).toBe(400);
    expect(code(typo)).toBe('GH_ERR_VALIDATION');
    expect((await put(duty, 'ticket.departments', { panic: 'public-security', fire: 'fire' })).status).toBe(
      200,
    );
  });
});

describe('the acknowledgement page', () => {
  it('is never cached, framed or referred from, valid link or not', async () => {
    // a hub without sockets has no address of its own to put in a link
    (env.hub.config.http as { publicUrl: string }).publicUrl = 'http://hub.test';
    const link = new URL(env.hub.alerts.links.url('A-none', 'p-block-leader'));
    const get = (query: string) => env.hub.http.inject({ method: 'GET', url: `/alerts/ack?${query}` });
    const forged = await get(link.search.slice(1).replace(/sig=[^&]+/, 'sig=00'));
    const valid = await get(link.search.slice(1));
    expect(forged.statusCode).toBe(403);
    expect(valid.statusCode).toBe(200); // the signed link shows its confirmation page
    for (const res of [forged, valid]) {
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(String(res.headers['content-security-policy'])).toContain("frame-ancestors 'none'");
    }
  });
});
