/**
 * Proves: the example community file builds the grid tree over the real HTTP API; loading it again
 * changes nothing (no row, no audit entry); a file with a dangling parent and a duplicate id is
 * refused with every problem listed and nothing written; single entries can be edited one by one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleCommunity, exampleCommunityYaml } from '../helpers/community.ts';
import { ADMIN_TOKEN, startTestHub, type TestHub } from '../helpers/test-hub.ts';

interface NodeView {
  id: string;
  parent: string | null;
  path: string;
  kind: string;
}
interface Summary {
  [k: string]: { created: number; updated: number; unchanged: number };
}

describe('community file import', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub();
  });
  afterAll(async () => t.cleanup());

  it('builds the grid tree, and a second load changes nothing', async () => {
    const doc = exampleCommunity();
    const first = await t.api.post<Summary>(
      '/api/v1/grid/import',
      exampleCommunityYaml(),
      'application/yaml',
    );
    expect(first.status).toBe(200);
    expect(first.body.gridNodes?.created).toBe(doc.gridNodes?.length);
    expect(first.body.sites?.created).toBe(doc.sites?.length);
    expect(first.body.emergencyUnits?.created).toBe(doc.emergencyUnits?.length);

    const nodes = await t.api.get<NodeView[]>('/api/v1/grid/nodes');
    const byId = new Map(nodes.body.map((n) => [n.id, n]));
    expect(byId.get('mg-xinghua-1-a')?.path).toBe(
      '/d-qinghe/s-dongyuan/c-xinghua/g-xinghua-1/mg-xinghua-1-a/',
    );
    expect(byId.get('x-school-1')?.parent).toBe('s-dongyuan');

    const auditBefore = await t.api.get<unknown[]>('/api/v1/audit?limit=1000');
    // JSON this time: the same content in the other accepted format.
    const second = await t.api.post<Summary>('/api/v1/grid/import', doc);
    expect(second.status).toBe(200);
    for (const counts of Object.values(second.body)) {
      expect(counts.created).toBe(0);
      expect(counts.updated).toBe(0);
    }
    expect(second.body.people?.unchanged).toBe(doc.people?.length);
    const nodesAfter = await t.api.get<NodeView[]>('/api/v1/grid/nodes');
    expect(nodesAfter.body).toEqual(nodes.body);
    const auditAfter = await t.api.get<unknown[]>('/api/v1/audit?limit=1000');
    expect(auditAfter.body.length).toBe(auditBefore.body.length);
  });

  it('refuses a file with a dangling parent and a duplicate id, listing every problem, writing nothing', async () => {
    const before = await t.api.get<NodeView[]>('/api/v1/grid/nodes');
    const bad = {
      gridNodes: [
        { id: 'g-new-1', kind: 'grid', name: 'new grid', parent: 'c-does-not-exist' },
        { id: 'g-new-2', kind: 'grid', name: 'ok grid', parent: 'c-xinghua' },
        { id: 'g-new-2', kind: 'grid', name: 'twin', parent: 'c-xinghua' },
      ],
      sites: [{ id: 'site-new', gridNode: 'g-nowhere', name: 'x' }],
    };
    const res = await t.api.post<{
      error: { code: string; details: { problems: { path: string; message: string }[] } };
    }>('/api/v1/grid/import', bad);
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('GH_ERR_COMMUNITY_INVALID');
    const problems = res.body.error.details.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        { path: 'gridNodes[0].parent', message: "unknown grid node 'c-does-not-exist'" },
        { path: 'gridNodes[2].id', message: "duplicate id 'g-new-2' (also gridNodes[1])" },
        { path: 'sites[0].gridNode', message: "unknown grid node 'g-nowhere'" },
      ]),
    );
    expect(problems).toHaveLength(3);
    const after = await t.api.get<NodeView[]>('/api/v1/grid/nodes');
    expect(after.body).toEqual(before.body);
  });

  it('reports schema problems by path, and a cycle in the tree', async () => {
    const res = await t.api.post<{ error: { details: { problems: { path: string; message: string }[] } } }>(
      '/api/v1/grid/import',
      { gridNodes: [{ id: 'bad id!', kind: 'planet', name: '' }] },
    );
    expect(res.status).toBe(422);
    const paths = res.body.error.details.problems.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining(['gridNodes[0].id', 'gridNodes[0].kind', 'gridNodes[0].name']),
    );

    const cycle = await t.api.post<{ error: { details: { problems: { path: string; message: string }[] } } }>(
      '/api/v1/grid/import',
      {
        gridNodes: [
          { id: 'mg-loop-a', kind: 'micro-grid', name: 'a', parent: 'x-loop' },
          { id: 'x-loop', kind: 'exclusive', exclusiveType: 'park', name: 'b', parent: 'mg-loop-a' },
        ],
      },
    );
    expect(cycle.status).toBe(422);
    expect(JSON.stringify(cycle.body)).toMatch(/cannot hang under|own ancestor/);
  });

  it('serves the OpenAPI document, the docs page, health and metrics without a token', async () => {
    const openapi = await fetch(`${t.url}/docs/json`);
    const doc = (await openapi.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of [
      '/api/v1/devices/',
      '/api/v1/tickets',
      '/api/v1/alerts',
      '/api/v1/policies',
      '/api/v1/grid/import',
      '/api/v1/series',
    ]) {
      expect(Object.keys(doc.paths), path).toContain(path);
    }
    expect((await fetch(`${t.url}/docs`, { redirect: 'follow' })).status).toBe(200);
    expect(await (await fetch(`${t.url}/health`)).json()).toEqual({ status: 'ok' });
    expect(
      await (await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text(),
    ).toContain('gridhub_http_requests_total');
    const noToken = await fetch(`${t.url}/api/v1/devices`);
    expect(noToken.status).toBe(401);
    expect(((await noToken.json()) as { error: { code: string } }).error.code).toBe('GH_ERR_UNAUTHENTICATED');
  });

  it('edits one entry through the API with the same rules, and audits it', async () => {
    const put = await t.api.put<Summary>('/api/v1/sites/site-b7', {
      gridNode: 'g-xinghua-2',
      name: '杏花社区7号楼（东）',
      building: '7',
    });
    expect(put.status).toBe(200);
    expect(put.body.sites?.updated).toBe(1);
    const site = await t.api.get<{ name: string }>('/api/v1/sites/site-b7');
    expect(site.body.name).toBe('杏花社区7号楼（东）');
    const audit = await t.api.get<{ action: string; actor: string }[]>(
      '/api/v1/audit?entityType=site&entityId=site-b7',
    );
    expect(audit.body[0]).toMatchObject({ action: 'site.update', actor: 'person:admin' });
    const bad = await t.api.put('/api/v1/sites/site-b7', { gridNode: 'nowhere', name: 'x' });
    expect(bad.status).toBe(422);
    const verify = await t.api.get<{ intact: boolean; entries: number }>('/api/v1/audit/verify');
    expect(verify.body.intact).toBe(true);
    expect(verify.body.entries).toBeGreaterThan(40);
  });
});
