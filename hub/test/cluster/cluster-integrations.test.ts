/**
 * Integrations across nodes (issue 19): an integration created, rotated, disabled, enabled or removed
 * through one node is what every node's push routes use, each within one second (the relay), and a
 * push for an integration created a moment ago on another node is looked up in the store. Only ids
 * cross Redis: every relay message is counted, and none carries a token.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onenetSignature } from '../../../device-sim/src/platforms.ts';
import { KEY_PREFIX } from '../../src/cluster/node-registry.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { loadExample } from '../helpers/community.ts';
import type { TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const BOUND_MS = 1000;

describe('integrations across nodes', () => {
  const cluster = new TestCluster();
  let a: TestHub;
  let b: TestHub;
  let listener: Redis;
  const relayed: string[] = [];

  beforeAll(async () => {
    await cluster.start();
    a = await cluster.addNode('node-a');
    b = await cluster.addNode('node-b');
    await loadExample(a.api, []);
    listener = new Redis(cluster.redis.url);
    listener.on('message', (_channel: string, message: string) => relayed.push(message));
    await listener.subscribe(`${KEY_PREFIX}relay`);
  }, 60_000);
  afterAll(async () => {
    listener?.disconnect();
    await cluster.cleanup();
  });

  /** OneNET's URL verification on a node: 200 and msg back only when the signature fits the token */
  const verify = async (node: TestHub, id: string, token: string) => {
    const msg = `m${Math.random().toString(36).slice(2, 8)}`;
    const nonce = 'n0nce123';
    const sig = encodeURIComponent(onenetSignature(token, nonce, msg));
    const res = await fetch(
      `${node.url}/api/v1/ingress/${id}/onenet?msg=${msg}&nonce=${nonce}&signature=${sig}`,
    );
    const text = await res.text();
    return {
      status: res.status,
      echoed: text === msg,
      code: res.ok ? null : (JSON.parse(text) as { error: { code: string } }).error.code,
    };
  };
  const onB = (id: string) => b.hub.ingress.integrations.find(id);
  const changesOf = (id: string) =>
    relayed.filter((m) => {
      const r = JSON.parse(m) as { event?: string; payload?: { integrationId?: string } };
      return r.event === 'integration.changed' && r.payload?.integrationId === id;
    }).length;

  it('created on A, pushed to on B at once; rotated, disabled, enabled, removed on A: B follows within 1 s', async () => {
    const created = await a.api.post<{ integration: { id: string }; token: string }>('/api/v1/integrations', {
      kind: 'onenet',
      name: 'OneNET smoke',
      models: ['generic-nb-smoke'],
      token: 'first-token-1',
    });
    expect(created.status).toBe(201);
    const id = created.body.integration.id;
    // no wait: the push may come before the relay's announcement (a store read on a miss)
    expect(await verify(b, id, 'first-token-1')).toEqual({ status: 200, echoed: true, code: null });
    expect(await verify(b, id, 'wrong-token')).toMatchObject({ status: 401, echoed: false });

    const rotated = await a.api.post<{ token: string }>(`/api/v1/integrations/${id}/rotate-token`, {});
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.token;
    await waitFor(() => onB(id)?.token === fresh, { timeoutMs: BOUND_MS, what: 'the new token on B' });
    expect(await verify(b, id, 'first-token-1')).toMatchObject({ status: 401, echoed: false });
    expect(await verify(b, id, fresh)).toEqual({ status: 200, echoed: true, code: null });

    expect((await a.api.put(`/api/v1/integrations/${id}`, { enabled: false })).status).toBe(200);
    await waitFor(() => onB(id)?.enabled === false, { timeoutMs: BOUND_MS, what: 'disabled on B' });
    expect(await verify(b, id, fresh)).toEqual({
      status: 404,
      echoed: false,
      code: 'GH_ERR_INTEGRATION_UNKNOWN',
    });

    expect((await a.api.put(`/api/v1/integrations/${id}`, { enabled: true })).status).toBe(200);
    await waitFor(() => onB(id)?.enabled === true, { timeoutMs: BOUND_MS, what: 'enabled again on B' });
    expect(await verify(b, id, fresh)).toEqual({ status: 200, echoed: true, code: null });

    expect((await a.api.delete(`/api/v1/integrations/${id}`)).status).toBe(204);
    await waitFor(() => onB(id) === undefined, { timeoutMs: BOUND_MS, what: 'removed on B' });
    expect(await verify(b, id, fresh)).toEqual({
      status: 404,
      echoed: false,
      code: 'GH_ERR_INTEGRATION_UNKNOWN',
    });
    // A itself refuses it too (positive control of the whole path: A is the node that changed it)
    expect(await verify(a, id, fresh)).toMatchObject({ status: 404 });

    // one announcement per change (create, rotate, disable, enable, remove), ids only
    await waitFor(() => changesOf(id) === 5, { timeoutMs: BOUND_MS, what: 'five announcements' });
    const all = relayed.join('\n');
    expect(all).not.toContain('first-token-1');
    expect(all).not.toContain(fresh);
  });
});
