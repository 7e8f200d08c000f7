/**
 * Proves roles and jurisdiction on every route: a grid worker of grid A gets 403 for grid B's device
 * and sees only grid A in lists; a property manager sees only their sites; an installer cannot create
 * users or tokens; a unit leader cannot register devices.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceView } from '../../src/devices/device-schemas.ts';
import { loadExample } from '../helpers/community.ts';
import type { ApiClient } from '../helpers/test-hub.ts';
import { startTestHub, type TestHub } from '../helpers/test-hub.ts';

describe('roles and jurisdiction', () => {
  let t: TestHub;
  let c: Record<
    'p-installer' | 'p-grid-worker-1' | 'p-grid-worker-2' | 'p-property' | 'p-school-principal',
    ApiClient
  >;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestHub();
    c = await loadExample(t.api, [
      'p-installer',
      'p-grid-worker-1',
      'p-grid-worker-2',
      'p-property',
      'p-school-principal',
    ]);
    for (const [name, site] of [
      ['a1', 'site-b1'],
      ['a2', 'site-b4'],
      ['b1', 'site-b7'],
      ['school', 'site-school-gate'],
    ] as const) {
      const res = await t.api.post<{ device: DeviceView }>('/api/v1/devices', {
        model: 'generic-nb-smoke',
        site,
      });
      ids[name] = res.body.device.id;
    }
  });
  afterAll(async () => t.cleanup());

  it('a grid-A worker gets 403 for a grid-B device and sees only grid A in lists', async () => {
    const workerA = c['p-grid-worker-1'];
    const denied = await workerA.get<{ error: { code: string } }>(`/api/v1/devices/${ids.b1}`);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('GH_ERR_FORBIDDEN_SCOPE');
    expect((await workerA.get(`/api/v1/devices/${ids.a1}`)).status).toBe(200);

    const list = await workerA.get<{ total: number; items: DeviceView[] }>('/api/v1/devices');
    expect(list.body.items.map((d) => d.id).sort()).toEqual([ids.a1, ids.a2].sort());
    expect(list.body.items.every((d) => d.gridNodeId.startsWith('mg-xinghua-1'))).toBe(true);
    // Filtering by another grid never widens the view.
    const other = await workerA.get<{ items: DeviceView[] }>('/api/v1/devices?grid=g-xinghua-2');
    expect(other.body.items).toEqual([]);

    const nodes = await workerA.get<{ id: string }[]>('/api/v1/grid/nodes');
    expect(nodes.body.map((n) => n.id).sort()).toEqual(['g-xinghua-1', 'mg-xinghua-1-a', 'mg-xinghua-1-b']);
    expect((await workerA.get('/api/v1/grid/nodes/g-xinghua-2')).status).toBe(403);
    const sites = await workerA.get<{ id: string }[]>('/api/v1/sites');
    expect(sites.body.map((s) => s.id)).not.toContain('site-b7');

    const workerB = c['p-grid-worker-2'];
    expect((await workerB.get(`/api/v1/devices/${ids.a1}`)).status).toBe(403);
    expect(
      (await workerB.get<{ items: DeviceView[] }>('/api/v1/devices')).body.items.map((d) => d.id),
    ).toEqual([ids.b1]);
  });

  it('a grid worker cannot change devices even in their own grid', async () => {
    const res = await c['p-grid-worker-1'].post<{ error: { code: string } }>(
      `/api/v1/devices/${ids.a1}/decommission`,
    );
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('GH_ERR_FORBIDDEN_ROLE');
  });

  it('a property manager sees only their sites', async () => {
    const pm = c['p-property'];
    const list = await pm.get<{ items: DeviceView[] }>('/api/v1/devices');
    expect(list.body.items.map((d) => d.siteId).sort()).toEqual(['site-b1', 'site-b4']);
    expect((await pm.get(`/api/v1/devices/${ids.b1}`)).status).toBe(403);
    expect((await pm.post<DeviceView>(`/api/v1/devices/${ids.a1}/maintenance`)).body.status).toBe(
      'maintenance',
    );
  });

  it('an installer cannot create users or tokens; a unit leader cannot register devices', async () => {
    const installer = c['p-installer'];
    const createUser = await installer.put<{ error: { code: string } }>('/api/v1/people/p-new', {
      name: '新人',
      roles: ['admin'],
    });
    expect(createUser.status).toBe(403);
    expect(createUser.body.error.code).toBe('GH_ERR_FORBIDDEN_ROLE');
    expect((await installer.post('/api/v1/people/p-installer/tokens', { label: 'mine' })).status).toBe(403);
    expect((await installer.post('/api/v1/grid/import', { gridNodes: [] })).status).toBe(403);
    expect((await t.api.get('/api/v1/people/p-new')).status).toBe(404);

    const leader = c['p-school-principal'];
    const reg = await leader.post('/api/v1/devices', {
      model: 'generic-panic-button',
      site: 'site-school-gate',
    });
    expect(reg.status).toBe(403);
    // An installer outside the site's jurisdiction is refused too.
    await t.api.put('/api/v1/people/p-installer-2', {
      name: '外区安装',
      roles: ['installer'],
      scope: { gridNode: 'g-xinghua-2' },
    });
    const tok = await t.api.post<{ token: string }>('/api/v1/people/p-installer-2/tokens', { label: 't' });
    const outside = await installer.as(tok.body.token).post<{ error: { code: string } }>('/api/v1/devices', {
      model: 'generic-nb-smoke',
      site: 'site-b1',
    });
    expect(outside.status).toBe(403);
    expect(outside.body.error.code).toBe('GH_ERR_FORBIDDEN_SCOPE');
  });

  it('a revoked token stops working at once', async () => {
    const issued = await t.api.post<{ id: string; token: string }>('/api/v1/people/p-grid-worker-2/tokens', {
      label: 'lost phone',
    });
    const client = t.api.as(issued.body.token);
    expect((await client.get('/api/v1/me')).status).toBe(200);
    expect(
      (await t.api.request('DELETE', `/api/v1/people/p-grid-worker-2/tokens/${issued.body.id}`)).status,
    ).toBe(204);
    expect((await client.get('/api/v1/me')).status).toBe(401);
  });
});
