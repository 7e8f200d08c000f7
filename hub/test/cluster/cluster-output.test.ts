/**
 * Everyone sees everything, once, across nodes (issue 19): a panic press on node A pages the school
 * principal's leader app connected to node B exactly once, and the consoles on A and B get the same
 * changes with the same cluster-wide event ids, each once; a console reconnecting to the other node
 * with Last-Event-ID gets exactly what it missed. GET /api/v1/cluster lists both nodes with their
 * connected-device counts (admins only).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../helpers/cluster.ts';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, connectStaff, registerDevice, topic } from '../helpers/devices.ts';
import { openAlertStream } from '../helpers/sse.ts';
import { ADMIN_TOKEN, type ApiClient, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const FAST = { 'alerts.tickMs': 25 };

describe('output across nodes', () => {
  const cluster = new TestCluster();
  let a: TestHub;
  let b: TestHub;
  let people: Record<'p-school-principal', ApiClient>;

  beforeAll(async () => {
    await cluster.start();
    a = await cluster.addNode('node-a', FAST);
    b = await cluster.addNode('node-b', FAST);
    people = await loadExample(a.api, ['p-school-principal']);
  });
  afterAll(() => cluster.cleanup());

  it('a press on A pages the leader on B once; both consoles get each change once, same ids', async () => {
    const principal = people['p-school-principal'];
    const leader = await connectStaff(b, 'p-school-principal', principal.token as string);
    const paged: string[] = [];
    leader.on('message', (_t, p) =>
      paged.push((JSON.parse(p.toString()) as { alert: { id: string } }).alert.id),
    );
    await leader.subscribeAsync('gh/v1/hub/person/p-school-principal/alert', { qos: 1 });
    const onB = await openAlertStream(b.url, ADMIN_TOKEN);
    const onA = await openAlertStream(a.url, ADMIN_TOKEN);

    const button = await registerDevice(a.api, 'generic-panic-button', 'site-school-gate');
    const c = await connectDevice(a, button);
    await c.publishAsync(topic(button.id, 'event'), JSON.stringify({ eventId: 'x-1', type: 'press' }), {
      qos: 1,
    });
    await waitFor(() => paged.length >= 1 && onB.frames.length >= 1 && onA.frames.length >= 1, {
      what: 'the page on B and both consoles',
    });
    // Let anything doubled arrive before counting.
    await new Promise((r) => setTimeout(r, 800));
    expect(paged).toHaveLength(1);
    const alertId = paged[0] as string;
    const raisedOnB = onB.frames.filter((f) => f.alertId === alertId && f.action === 'raised');
    expect(raisedOnB).toHaveLength(1);
    // the same frames on both nodes, ids strictly increasing (no doubles, no per-node numbering)
    expect(onA.frames).toEqual(onB.frames);
    const ids = onB.frames.map((f) => f.id);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);

    // A console that saw up to the first frame on B reconnects to A: it gets the rest, once.
    const first = onB.frames[0]?.id as number;
    const before = onB.frames.length;
    await c.publishAsync(topic(button.id, 'event'), JSON.stringify({ eventId: 'x-2', type: 'press' }), {
      qos: 1,
    });
    await waitFor(() => onB.frames.length > before, {
      what: `a later change on B after ${JSON.stringify(onB.frames)}`,
    });
    await new Promise((r) => setTimeout(r, 500));
    const replay = await openAlertStream(a.url, ADMIN_TOKEN, first);
    await waitFor(() => replay.frames.length >= onB.frames.length - 1, { what: 'the replay on A' });
    await new Promise((r) => setTimeout(r, 300));
    expect(replay.frames).toEqual(onB.frames.slice(1));

    for (const s of [onA, onB, replay]) await s.close();
    await leader.endAsync();
    await c.endAsync();
  });

  it('GET /api/v1/cluster lists both live nodes with their devices; admins only', async () => {
    const d = await registerDevice(a.api, 'generic-panic-button', 'site-school-gate');
    const c = await connectDevice(b, d);
    type View = {
      mode: string;
      nodeId: string;
      nodes: { id: string; connectedDevices: number; address: string }[];
    };
    const view = await waitFor(
      async () => {
        const res = await a.api.get<View>('/api/v1/cluster');
        const nodeB = res.body.nodes.find((n) => n.id === 'node-b');
        return res.status === 200 && nodeB?.connectedDevices === 1 ? res.body : undefined;
      },
      { what: 'node-b counting its device' },
    );
    expect(view.mode).toBe('cluster');
    expect(view.nodeId).toBe('node-a');
    expect(view.nodes.map((n) => n.id)).toEqual(['node-a', 'node-b']);
    expect(view.nodes.find((n) => n.id === 'node-a')?.connectedDevices).toBe(0);
    expect(view.nodes.find((n) => n.id === 'node-b')?.address).toBe(b.url);
    // the denials, beside the admin's answer above
    expect((await people['p-school-principal'].get('/api/v1/cluster')).status).toBe(403);
    expect((await fetch(`${b.url}/api/v1/cluster`)).status).toBe(401);
    await c.endAsync();
    // a node that leaves is gone from the list at once (graceful stop)
    const extra = await cluster.addNode('node-c');
    await waitFor(async () => (await b.api.get<View>('/api/v1/cluster')).body.nodes.length === 3);
    await extra.stop();
    await waitFor(async () => (await b.api.get<View>('/api/v1/cluster')).body.nodes.length === 2, {
      what: 'node-c gone',
    });
  });
});
