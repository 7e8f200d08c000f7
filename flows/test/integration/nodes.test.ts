import type { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../../../hub/test/helpers/community.ts';
import { connectDevice, connectStaff, registerDevice, topic } from '../../../hub/test/helpers/devices.ts';
import { HttpReceiver } from '../../../hub/test/helpers/http-receiver.ts';
import { type ApiClient, startTestHub, type TestHub } from '../../../hub/test/helpers/test-hub.ts';
import { waitFor } from '../../../hub/test/helpers/wait.ts';
import { gridhubNodes, nodeRedHelper, type TestNode, Watch } from '../helpers/node-red.ts';
import { lastShanghai } from '../helpers/time.ts';

// Each gridhub node running in Node-RED (node-red-node-test-helper) against the real hub over
// HTTP and MQTT: inputs, outputs, errors with the hub's codes, and status.

const helper = nodeRedHelper();
const nodes = gridhubNodes();
let t: TestHub;
let people: Record<'p-street-duty' | 'p-grid-worker-1' | 'p-grid-leader-1', ApiClient>;
let seq = 0;

const hubNode = (id = 'hub') => ({
  id,
  type: 'gridhub-hub',
  name: 'test hub',
  url: t.url,
  mqttUrl: `mqtt://127.0.0.1:${t.hub.broker.port}`,
});
const creds = (person: keyof typeof people) => ({ user: person, token: people[person].token });
const out = { id: 'out', type: 'helper' };

async function load(node: Record<string, unknown>, person: keyof typeof people | null = 'p-street-duty') {
  await helper.load(
    nodes,
    [hubNode(), { id: 'n', hub: 'hub', wires: [['out']], ...node }, out],
    person ? { hub: creds(person) } : {},
  );
  const n = helper.getNode('n');
  return new Watch(n, helper.getNode('out'));
}

async function press(
  device: { id: string; secret: string },
  type: string,
  at = Date.now(),
  extra = {},
): Promise<void> {
  const c = await connectDevice(t, device as never);
  await c.publishAsync(
    topic(device.id, 'event'),
    JSON.stringify({ eventId: `e-${++seq}`, type, ts: at, ...extra }),
    { qos: 1 },
  );
  await c.endAsync();
}

beforeAll(async () => {
  t = await startTestHub();
  people = await loadExample(t.api, ['p-street-duty', 'p-grid-worker-1', 'p-grid-leader-1']);
  await helper.startServer();
});
afterEach(async () => {
  await helper.unload();
});
afterAll(async () => {
  await helper.stopServer();
  await t.cleanup();
});

describe('gridhub-event', () => {
  it('passes device events that match type, kind, grid subtree and the night window, by event time', async () => {
    const leak = await registerDevice(t.api, 'generic-water-leak', 'site-b4-basement');
    const w = await load({
      type: 'gridhub-event',
      deviceTypes: 'water-leak',
      kinds: 'leak',
      grid: 'g-xinghua-1',
      from: '22:00',
      to: '07:00',
    });
    await w.status((s) => s.text === 'connected', 'connected');
    await press(leak, 'leak', lastShanghai(12)); // daytime: filtered out
    await press(leak, 'leak.clear', lastShanghai(23)); // wrong kind
    await press(leak, 'leak', lastShanghai(23)); // night: passes
    const msg = await w.output();
    expect(msg.payload).toMatchObject({
      deviceId: leak.id,
      deviceType: 'water-leak',
      event: { type: 'leak' },
    });
    expect(msg).toMatchObject({ severity: 'major', localTime: '23:00', siteId: 'site-b4-basement' });
    await press(leak, 'leak', lastShanghai(2)); // 02:00 wraps past midnight: passes
    await w.output(2);
    expect(w.out.map((m) => (m.payload as { at: number }).at)).toEqual([lastShanghai(23), lastShanghai(2)]);
  });

  it('sees only the flow user’s jurisdiction, and shows a refused login in its status', async () => {
    const outside = await registerDevice(t.api, 'generic-water-leak', 'site-b7'); // grid 2
    const inside = await registerDevice(t.api, 'generic-water-leak', 'site-b1'); // grid 1
    const w = await load({ type: 'gridhub-event', deviceTypes: 'water-leak' }, 'p-grid-worker-1');
    await w.status((s) => s.text === 'connected', 'connected');
    await press(outside, 'leak');
    await press(inside, 'leak');
    const msg = await w.output();
    expect((msg.payload as { deviceId: string }).deviceId).toBe(inside.id);
    expect(w.out).toHaveLength(1);
    await helper.unload();

    await helper.load(nodes, [hubNode(), { id: 'n', type: 'gridhub-event', hub: 'hub', wires: [[]] }], {
      hub: { user: 'p-grid-worker-1', token: 'ghk_wrong' },
    });
    const bad = new Watch(helper.getNode('n'));
    const s = await bad.status((x) => x.fill === 'red', 'red');
    expect(s.text).toMatch(/error|disconnected/);
  });
});

describe('gridhub-alert', () => {
  it('emits raised alerts with links and acknowledges on input as the flow user', async () => {
    const button = await registerDevice(t.api, 'generic-panic-button', 'site-b1');
    const w = await load(
      { type: 'gridhub-alert', changes: 'raised', causes: 'panic-press', action: 'ack' },
      'p-grid-leader-1',
    );
    await w.status((s) => s.text === 'connected', 'connected');
    await press(button, 'press');
    const raised = await w.output();
    const alert = raised.payload as { id: string; state: string; ticketId: string; deviceId: string };
    expect(alert).toMatchObject({ deviceId: button.id, state: 'raised' });
    expect(raised.ticketUrl).toBe(`${t.url}/#/tickets/${alert.ticketId}`);

    helper.getNode('n').receive({ alertId: alert.id });
    await w.status((s) => s.text === 'ack: ok', 'ack ok');
    const acked = await waitFor(
      () => w.out.find((m) => (m.payload as { state: string }).state === 'acknowledged' && !m.action),
      {
        what: 'acknowledged alert',
      },
    );
    expect(acked.payload).toMatchObject({ id: alert.id, ackedBy: 'person:p-grid-leader-1' });

    helper.getNode('n').receive({ payload: 'no id here' });
    await w.status((s) => s.text === 'no alert id', 'no alert id');
    await waitFor(() => w.errors.length > 0, { what: 'error' });
  });

  it('shows the hub’s code when the action is refused', async () => {
    const w = await load({ type: 'gridhub-alert', watch: false, action: 'ack' });
    helper.getNode('n').receive({ alertId: 'al-does-not-exist' });
    const s = await w.status((x) => x.fill === 'red', 'red');
    expect(s.text).toBe('GH_ERR_NOT_FOUND');
  });
});

describe('gridhub-ticket', () => {
  it('raises a ticket in the worker’s grid and refuses one in another grid', async () => {
    const w = await load(
      { type: 'gridhub-ticket', action: 'create', category: 'manual', severity: 'minor' },
      'p-grid-worker-1',
    );
    helper.getNode('n').receive({ payload: { title: '楼道堆物', site: 'site-b1' } });
    const msg = await w.output();
    const ticket = msg.payload as { id: string; source: string; siteId: string };
    expect(ticket).toMatchObject({ source: 'node-red', siteId: 'site-b1' });
    await w.status((s) => s.text === 'create: ok', 'ok');

    helper.getNode('n').receive({ payload: { title: '越界工单', site: 'site-b7' } });
    const s = await w.status((x) => x.fill === 'red', 'red');
    expect(s.text).toBe('GH_ERR_FORBIDDEN_SCOPE');
    await waitFor(() => w.errors.length > 0, { what: 'error reported' });
    expect(w.out).toHaveLength(1);
    const list = await t.api.get<{ items: { title: string }[] }>('/api/v1/tickets?limit=500');
    expect(list.body.items.map((i) => i.title)).not.toContain('越界工单');

    helper.getNode('n').receive({ action: 'note', ticketId: ticket.id, payload: '已通知物业清理' });
    await w.output(2);
    const detail = await t.api.get<{ timeline: { action: string; actor: string }[] }>(
      `/api/v1/tickets/${ticket.id}`,
    );
    expect(
      detail.body.timeline.some((e) => e.action === 'note' && e.actor === 'person:p-grid-worker-1'),
    ).toBe(true);
  });
});

describe('gridhub-policy', () => {
  it('sets a threshold for a window after which the hub restores it; reads where a value comes from', async () => {
    const w = await load({
      type: 'gridhub-policy',
      action: 'set',
      key: 'water.level.alarmCm',
      scopeKind: 'site',
      scopeId: 'site-b4-basement',
      value: '60',
      forMinutes: '120',
    });
    helper.getNode('n').receive({ forSeconds: 1.5 });
    const set = await w.output();
    expect(set.payload).toMatchObject({ value: 60, source: { kind: 'site', id: 'site-b4-basement' } });
    expect(w.statuses.some((s) => s.text === 'set for 0 min: ok')).toBe(true);

    helper.getNode('n').receive({ action: 'get' });
    const got = await w.output(2);
    expect((got.payload as { value: number }).value).toBe(60);
    const restored = await waitFor(
      async () => {
        const r = await t.api.get<{ value: number }>(
          '/api/v1/policies/water.level.alarmCm/resolve?site=site-b4-basement',
        );
        return r.body.value === 25 ? r.body : undefined;
      },
      { what: 'the hub restoring the threshold' },
    );
    expect(restored.value).toBe(25);
  });

  it('is refused for a role that may not change policies', async () => {
    const w = await load(
      {
        type: 'gridhub-policy',
        action: 'set',
        key: 'water.level.alarmCm',
        scopeKind: 'site',
        scopeId: 'site-b1',
        value: '99',
      },
      'p-grid-worker-1',
    );
    helper.getNode('n').receive({});
    expect((await w.status((s) => s.fill === 'red', 'red')).text).toBe('GH_ERR_FORBIDDEN_ROLE');
    const w2 = await (async () => {
      await helper.unload();
      return load({ type: 'gridhub-policy', action: 'set', scopeKind: 'site', scopeId: 'site-b1' });
    })();
    helper.getNode('n').receive({});
    expect((await w2.status((s) => s.fill === 'red', 'red')).text).toBe('no policy key');
  });
});

describe('gridhub-notify', () => {
  const receiver = new HttpReceiver();
  let staff: MqttClient | undefined;
  afterAll(async () => {
    await receiver.stop();
    await staff?.endAsync();
  });

  it('sends through a hub webhook target by name, and logs each attempt in the hub', async () => {
    const url = await receiver.start();
    const target = await t.api.post('/api/v1/webhooks', {
      name: '测试值班',
      kind: 'generic',
      url: `${url}/duty`,
      scope: { kind: 'grid', id: 's-dongyuan' },
    });
    expect(target.status).toBe(201);
    const w = await load({ type: 'gridhub-notify', toKind: 'webhook', target: '测试值班' });
    helper.getNode('n').receive({ payload: '第一行\n第二行', data: { k: 1 } });
    const msg = await w.output();
    const id = (msg.payload as { id: string }).id;
    const got = await waitFor(() => receiver.received[0], { what: 'webhook' });
    expect(JSON.parse(got.body)).toMatchObject({
      type: 'gridhub.notify',
      id,
      title: '第一行',
      text: '第一行\n第二行',
      data: { k: 1 },
    });
    const log = await waitFor(
      async () => {
        const r = await t.api.get<{ deliveries: { result: string }[] }>(`/api/v1/notify/${id}`);
        return r.body.deliveries.length ? r.body : undefined;
      },
      { what: 'delivery log' },
    );
    expect(log.deliveries[0]).toMatchObject({ result: 'delivered', channel: 'webhook:generic' });

    helper.getNode('n').receive({ to: { kind: 'webhook', target: 'no-such-target' }, payload: 'x' });
    expect((await w.status((s) => s.fill === 'red', 'red')).text).toBe('GH_ERR_NOT_FOUND');
    helper.getNode('n').receive({ payload: {} });
    expect((await w.status((s) => s.text === 'no text', 'no text')).fill).toBe('red');
  });

  it('reaches a person over MQTT', async () => {
    staff = await connectStaff(t, 'p-grid-worker-1', people['p-grid-worker-1'].token as string);
    const got = new Promise<string>((resolve) => staff?.on('message', (_t, p) => resolve(p.toString())));
    await staff.subscribeAsync('gh/v1/hub/person/p-grid-worker-1/message', { qos: 1 });
    const w = await load({
      type: 'gridhub-notify',
      toKind: 'person',
      target: 'p-grid-worker-1',
      title: '提醒',
    });
    helper.getNode('n').receive({ payload: '请巡查 3 号楼' });
    await w.output();
    expect(JSON.parse(await got)).toMatchObject({ title: '提醒', text: '请巡查 3 号楼' });
  });
});

describe('gridhub-api and the hub node', () => {
  it('reads with the flow’s credentials', async () => {
    const w = await load({ type: 'gridhub-api', path: '/me' }, 'p-grid-worker-1');
    helper.getNode('n').receive({});
    expect((await w.output()).payload).toMatchObject({ personId: 'p-grid-worker-1', roles: ['grid-staff'] });
    helper.getNode('n').receive({ path: 'elevators' });
    expect((await w.status((s) => s.text === 'no path', 'no path')).fill).toBe('red');
  });

  it('without credentials, says so instead of calling anonymously', async () => {
    const w = await load({ type: 'gridhub-api', path: '/me' }, null);
    helper.getNode('n').receive({});
    expect((await w.status((s) => s.fill === 'red', 'red')).text).toBe('GH_ERR_UNAUTHENTICATED');
    expect(w.out).toHaveLength(0);
  });

  it('reports a missing hub configuration', async () => {
    await helper.load(nodes, [{ id: 'n', type: 'gridhub-notify', hub: 'nope', wires: [[]] }]);
    const n = helper.getNode('n') as TestNode & {
      status: { getCalls(): { thisValue: unknown; args: [{ text?: string }] }[] };
    };
    const texts = n.status
      .getCalls()
      .filter((c) => c.thisValue === n)
      .map((c) => c.args[0].text);
    expect(texts).toEqual(['no gridhub-hub']);
  });
});
