/**
 * Proves that ticket changes are published on the declared hub topic
 * `gh/v1/hub/ticket/{gridNodeId}/{siteId}/{id}` (siteId "-" for a ticket without a site) with the
 * `TicketChanged` payload, filtered by jurisdiction like the event and presence topics: staff MQTT
 * clients get exactly the changes of tickets they may see — a grid worker those of their grid, a
 * property manager those of their sites — and a client out of scope gets none (every message counted,
 * with a ticket in its own scope as the positive control).
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TicketView } from '../../src/tickets/ticket-schemas.ts';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, connectStaff, registerDevice, topic } from '../helpers/devices.ts';
import { type ApiClient, startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const STAFF = ['p-grid-worker-1', 'p-grid-worker-2', 'p-property'] as const;

interface Got {
  topic: string;
  action: string;
  ticket: TicketView;
}

describe('ticket changes on the hub topic', () => {
  let t: TestHub;
  let people: Record<(typeof STAFF)[number], ApiClient>;
  const got: Record<string, Got[]> = {};
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    t = await startTestHub();
    people = await loadExample(t.api, [...STAFF]);
    for (const id of STAFF) {
      got[id] = [];
      const c = await connectStaff(t, id, people[id].token as string);
      const [granted] = await c.subscribeAsync('gh/v1/hub/ticket/#', { qos: 1 });
      expect(granted?.qos).toBe(1);
      c.on('message', (tp, payload) => {
        const body = JSON.parse(payload.toString()) as { action: string; ticket: TicketView };
        got[id]?.push({ topic: tp, ...body });
      });
      clients.push(c);
    }
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync()));
    await t.cleanup();
  });

  const of = (person: string, ticketId: string) => got[person]?.filter((m) => m.ticket.id === ticketId) ?? [];

  it('reaches staff in scope with every change, and nobody out of scope', async () => {
    // Grid 1, site-b1 (one of the property manager's sites): raised by the panic rule, then signed.
    const button = await registerDevice(t.api, 'generic-panic-button', 'site-b1');
    const c = await connectDevice(t, button);
    await c.publishAsync(topic(button.id, 'event'), JSON.stringify({ eventId: 'k-1', type: 'press' }), {
      qos: 1,
    });
    await c.endAsync();
    const created = await waitFor(() => got['p-grid-worker-1']?.[0], { what: 'the created change' });
    const ticketId = created.ticket.id;
    expect(created).toMatchObject({
      topic: `gh/v1/hub/ticket/mg-xinghua-1-a/site-b1/${ticketId}`,
      action: 'created',
      ticket: { category: 'panic', siteId: 'site-b1', deviceId: button.id, state: 'dispatched' },
    });
    const sign = await t.api.post(`/api/v1/tickets/${ticketId}/sign`, { note: 'on the way' });
    expect(sign.status).toBe(200);
    await waitFor(() => of('p-grid-worker-1', ticketId).length === 2, { what: 'the sign change' });
    expect(of('p-grid-worker-1', ticketId).map((m) => [m.action, m.ticket.state])).toEqual([
      ['created', 'dispatched'],
      ['sign', 'signed'],
    ]);

    // Grid 1 without a site: topic siteId "-"; the property manager (sites only) must not get it.
    const gridOnly = await t.api.post<TicketView>('/api/v1/tickets', {
      title: '井盖缺失',
      gridNode: 'g-xinghua-1',
    });
    expect(gridOnly.status).toBe(201);
    await waitFor(() => of('p-grid-worker-1', gridOnly.body.id).length === 1);
    expect(of('p-grid-worker-1', gridOnly.body.id)[0]?.topic).toBe(
      `gh/v1/hub/ticket/g-xinghua-1/-/${gridOnly.body.id}`,
    );

    // Grid 2, site-b7: the positive control for grid worker 2; grid worker 1 must not get it.
    const other = await t.api.post<TicketView>('/api/v1/tickets', { title: '路灯不亮', site: 'site-b7' });
    expect(other.status).toBe(201);
    await waitFor(() => of('p-grid-worker-2', other.body.id).length === 1, {
      what: 'grid 2 ticket to worker 2',
    });
    // The property manager's positive control: a ticket at one of their sites, raised last.
    const mine = await t.api.post<TicketView>('/api/v1/tickets', { title: '楼道灯坏', site: 'site-b2' });
    expect(mine.status).toBe(201);
    await waitFor(() => of('p-property', mine.body.id).length === 1, {
      what: 'site-b2 ticket to the manager',
    });
    await waitFor(() => of('p-grid-worker-1', mine.body.id).length === 1);

    // Each client's messages arrive in publish order, so what was published before its last expected
    // message is in; watch a little longer for anything published after it, then count.
    const until = Date.now() + 500;
    await waitFor(() => Date.now() >= until, { what: 'observation window' });
    expect(got['p-grid-worker-1']?.map((m) => m.ticket.id)).toEqual([
      ticketId,
      ticketId,
      gridOnly.body.id,
      mine.body.id,
    ]);
    expect(got['p-grid-worker-2']?.map((m) => m.ticket.id)).toEqual([other.body.id]);
    expect(got['p-property']?.map((m) => m.ticket.id)).toEqual([ticketId, ticketId, mine.body.id]);
  });
});
