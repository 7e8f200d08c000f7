/**
 * Caches invalidated cluster-wide (issue 19), each within one second of the change on the other
 * node although the device credential cache would keep the old answer for an hour: a secret rotated
 * on node A ends the device's live connection on B and B refuses the old secret (the new one works);
 * a device decommissioned on A is cut off on B; a token revoked on A ends its MQTT session and SSE
 * stream on B (another token of the person stays connected); a policy set on A is what B uses;
 * failed sign-ins on A lock the name on B (another person still signs in on B).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../helpers/cluster.ts';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, connectError, connectStaff, registerDevice } from '../helpers/devices.ts';
import type { TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const BOUND_MS = 1000;
const SLOW_CACHE = { 'auth.deviceAuthCacheSeconds': 3600, 'auth.loginMaxFailures': 3 };

describe('caches across nodes', () => {
  const cluster = new TestCluster();
  let a: TestHub;
  let b: TestHub;

  beforeAll(async () => {
    await cluster.start();
    a = await cluster.addNode('node-a', SLOW_CACHE);
    b = await cluster.addNode('node-b', SLOW_CACHE);
    await loadExample(a.api, []);
  });
  afterAll(() => cluster.cleanup());

  const mqttUrl = () => `mqtt://127.0.0.1:${b.hub.broker.port}`;

  it('a secret rotated on A: B ends the live session and refuses the old secret; the new one works', async () => {
    const d = await registerDevice(a.api, 'generic-panic-button', 'site-school-gate');
    // connected on B: B has the credential in its cache
    const live = await connectDevice(b, d);
    let closed = 0;
    live.on('close', () => closed++);
    const res = await a.api.post<{ secret: string }>(`/api/v1/devices/${d.id}/rotate-secret`);
    expect(res.status).toBe(200);
    const rotatedAt = Date.now();
    await waitFor(() => closed > 0, { timeoutMs: BOUND_MS, what: 'the live session on B ended' });
    const old = await connectError(mqttUrl(), { clientId: d.id, username: d.id, password: d.secret });
    expect(old.message).not.toBe('connected');
    expect(Date.now() - rotatedAt).toBeLessThan(BOUND_MS * 2);
    const fresh = await connectDevice(b, { ...d, secret: res.body.secret });
    expect(fresh.connected).toBe(true);
    await fresh.endAsync();
  });

  it('a device decommissioned on A is cut off on B at once and cannot come back', async () => {
    const d = await registerDevice(a.api, 'generic-panic-button', 'site-school-gate');
    // positive control: B admits it (and caches its credential) before the decommissioning
    const live = await connectDevice(b, d);
    expect(live.connected).toBe(true);
    let closed = 0;
    live.on('close', () => closed++);
    expect((await a.api.post(`/api/v1/devices/${d.id}/decommission`, {})).status).toBe(200);
    await waitFor(() => closed > 0, { timeoutMs: BOUND_MS, what: 'the live session on B ended' });
    const again = await connectError(mqttUrl(), { clientId: d.id, username: d.id, password: d.secret });
    expect(again.message).not.toBe('connected');
  });

  it('a policy set on A is the one B uses', async () => {
    const key = 'alert.renotifySeconds';
    expect(b.hub.policies.resolve(key).value).toMatchObject({ critical: 30 });
    const put = await a.api.put(`/api/v1/policies/${key}`, {
      scope: { kind: 'global', id: '*' },
      value: { critical: 45, major: 120, minor: 600, warning: 1800 },
    });
    expect(put.status).toBe(200);
    await waitFor(() => (b.hub.policies.resolve(key).value as { critical: number }).critical === 45, {
      timeoutMs: BOUND_MS,
      what: 'the new value on B',
    });
    const del = await a.api.delete(`/api/v1/policies/${key}?kind=global&id=*`);
    expect([200, 204]).toContain(del.status);
    await waitFor(() => (b.hub.policies.resolve(key).value as { critical: number }).critical === 30, {
      timeoutMs: BOUND_MS,
      what: 'the default again on B',
    });
  });

  it('a token revoked on A ends its MQTT session and its alert stream on B; another token stays', async () => {
    const issue = async () => {
      const res = await a.api.post<{ id: string; token: string }>('/api/v1/people/p-street-duty/tokens', {
        label: 'cluster test',
      });
      expect(res.status).toBe(201);
      return res.body;
    };
    const [revoked, kept] = [await issue(), await issue()];
    const doomed = await connectStaff(b, 'p-street-duty', revoked.token);
    const control = await connectStaff(b, 'p-street-duty', kept.token);
    let doomedClosed = 0;
    let controlClosed = 0;
    doomed.on('close', () => doomedClosed++);
    control.on('close', () => controlClosed++);
    const stream = await fetch(`${b.url}/api/v1/alerts/stream`, {
      headers: { authorization: `Bearer ${revoked.token}` },
    });
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    let streamEnded = false;
    void (async () => {
      for (;;) {
        const { done } = await reader.read().catch(() => ({ done: true }));
        if (done) {
          streamEnded = true;
          return;
        }
      }
    })();
    expect((await a.api.delete(`/api/v1/people/p-street-duty/tokens/${revoked.id}`)).status).toBe(204);
    await waitFor(() => doomedClosed > 0 && streamEnded, {
      timeoutMs: BOUND_MS,
      what: 'session and stream ended on B',
    });
    expect(controlClosed).toBe(0);
    expect(control.connected).toBe(true);
    await control.endAsync();
  });

  it('failed sign-ins on A lock the name on B; another person still signs in on B', async () => {
    const PASSWORD = 'a long enough password';
    for (const id of ['p-grid-worker-1', 'p-street-duty'])
      expect((await a.api.put(`/api/v1/people/${id}/password`, { password: PASSWORD })).status).toBe(204);
    const login = async (node: TestHub, username: string, password: string) => {
      const res = await fetch(`${node.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password }),
      });
      return { status: res.status, code: ((await res.json()) as { error?: { code: string } }).error?.code };
    };
    for (let i = 0; i < 3; i++) expect((await login(a, 'p-grid-worker-1', 'wrong guess')).status).toBe(401);
    await waitFor(async () => (await login(b, 'p-grid-worker-1', PASSWORD)).code === 'GH_ERR_LOGIN_LOCKED', {
      timeoutMs: BOUND_MS,
      what: 'the lock on B',
    });
    expect((await login(b, 'p-street-duty', PASSWORD)).status).toBe(200);
  });
});
