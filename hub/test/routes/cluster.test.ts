/**
 * GET /api/v1/cluster through inject() (issue 19): an admin gets the node list (a single node lists
 * itself, mode "single"); other staff get 403 and anonymous callers 401. The cluster itself is
 * covered in hub/test/cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import { startInjectHub } from '../helpers/inject-hub.ts';
import type { ApiClient } from '../helpers/test-hub.ts';

let env: Awaited<ReturnType<typeof startInjectHub>>;
let people: Record<'p-street-duty' | 'p-grid-worker-1', ApiClient>;

beforeAll(async () => {
  env = await startInjectHub();
  people = await loadExample(env.api, ['p-street-duty', 'p-grid-worker-1']);
}, 60_000);
afterAll(() => env?.cleanup());

describe('GET /api/v1/cluster', () => {
  it('lists the nodes for an admin: one node, itself, on a single hub', async () => {
    const res = await env.api.get<{
      mode: string;
      nodeId: string;
      nodes: { id: string; connectedDevices: number }[];
    }>('/api/v1/cluster');
    expect(res.status).toBe(200);
    expect(res.body.mode).toBe('single');
    expect(res.body.nodes).toHaveLength(1);
    expect(res.body.nodes[0]).toMatchObject({ id: res.body.nodeId, connectedDevices: 0 });
  });

  it('is refused to other staff (403) and to anonymous callers (401)', async () => {
    for (const who of [people['p-street-duty'], people['p-grid-worker-1']]) {
      const res = await who.get<{ error: { code: string } }>('/api/v1/cluster');
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('GH_ERR_FORBIDDEN_ROLE');
    }
    const anonymous = await env.api.as('').get<{ error: { code: string } }>('/api/v1/cluster');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error.code).toBe('GH_ERR_UNAUTHENTICATED');
  });
});
