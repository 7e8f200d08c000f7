/**
 * Proves that a site-outage ticket closes by itself once every device of the site is back online and
 * has stayed back for the `outage.site.stayBackSeconds` policy, with timeline entries saying so: five
 * devices of one building lose power (their sockets die, the last wills arrive), one outage ticket
 * is raised; four coming back is not enough (the ticket stays open well past the stay-back time); the
 * fifth starts the clock; a device dropping again before the time is up stops it, and the ticket
 * closes only the full stay-back time after that device returned.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TicketView } from '../../src/tickets/ticket-schemas.ts';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, type Registered, registerDevice, tickets, topic } from '../helpers/devices.ts';
import { startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const STAY_S = 1.5;

interface Detail {
  ticket: TicketView;
  timeline: { action: string; actor: string; note: string | null; toState: string | null }[];
}

describe('site outage recovery', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub({ overrides: { 'tickets.schedulerTickMs': 100 } });
    await loadExample(t.api);
    for (const [key, value] of [
      ['outage.site.windowSeconds', 1],
      ['outage.site.stayBackSeconds', STAY_S],
    ] as const) {
      const res = await t.api.put(`/api/v1/policies/${key}`, {
        scope: { kind: 'site', id: 'site-b7' },
        value,
      });
      expect(res.status).toBe(200);
    }
  });
  afterAll(async () => t.cleanup());

  const online = (d: Registered) =>
    connectDevice(t, d, {
      will: {
        topic: topic(d.id, 'status'),
        payload: Buffer.from('{"state":"offline"}'),
        qos: 1,
        retain: true,
      },
    });
  const isOnline = async (d: Registered) =>
    (await t.api.get<{ online: boolean }>(`/api/v1/devices/${d.id}`)).body.online;

  it('closes the outage ticket once every device has stayed back, and not before', async () => {
    const devices: Registered[] = [];
    for (let i = 0; i < 5; i++)
      devices.push(await registerDevice(t.api, i % 2 ? 'generic-nb-smoke' : 'generic-water-leak', 'site-b7'));
    const clients: MqttClient[] = [];
    for (const d of devices) clients.push(await online(d));
    for (const d of devices) await waitFor(() => isOnline(d), { what: `${d.id} online` });

    // The power goes: every socket dies at once, the last wills mark them offline.
    for (const c of clients) c.stream.destroy();
    const outage = await waitFor(
      async () => (await tickets(t.api, 'category=site-outage')).find((x) => x.siteId === 'site-b7'),
      { what: 'the site-outage ticket' },
    );
    const detail = async () => (await t.api.get<Detail>(`/api/v1/tickets/${outage.id}`)).body;
    const notes = async (text: string) => (await detail()).timeline.filter((e) => e.note?.includes(text));

    // Four of five back: well past the stay-back time, the ticket is still open.
    const back: MqttClient[] = [];
    for (const d of devices.slice(0, 4)) back.push(await online(d));
    await waitFor(async () => (await notes('back online')).length === 4, { what: 'four back-online notes' });
    const until = Date.now() + STAY_S * 1000 + 1000;
    await waitFor(() => Date.now() >= until, { timeoutMs: 5000, what: 'observation window' });
    expect((await detail()).ticket.state).toBe('dispatched');
    expect(await notes('every device of the site is back online')).toHaveLength(0);

    // The fifth comes back: the clock starts...
    back.push(await online(devices[4] as Registered));
    await waitFor(async () => (await notes('every device of the site is back online')).length === 1, {
      what: 'the all-back note',
    });
    // ...and a device dropping before the time is up stops it.
    back[0]?.stream.destroy();
    await waitFor(async () => (await notes('offline again')).length === 1, {
      what: 'the offline-again note',
    });
    expect((await detail()).ticket.state).toBe('dispatched');
    const returning = Date.now();
    back[0] = await online(devices[0] as Registered);

    const closed = await waitFor(
      async () => {
        const d = await detail();
        return d.ticket.state === 'closed' ? d : undefined;
      },
      { what: 'the outage ticket closing itself' },
    );
    expect(closed.ticket.resolution).toBe('auto-resolved');
    expect(Date.parse(closed.ticket.closedAt as string) - returning).toBeGreaterThanOrEqual(STAY_S * 1000);
    const kinds = [
      'every device of the site is back online;',
      'offline again before the site stayed back:',
      `every device of the site back online for ${STAY_S} s`,
    ];
    const clock = closed.timeline
      .filter((e) => e.actor === 'rule:presence')
      .map((e) => [e.action, kinds.find((k) => e.note?.startsWith(k)), e.toState])
      .filter(([, kind]) => kind);
    expect(clock).toEqual([
      ['note', kinds[0], null],
      ['note', kinds[1], null],
      ['note', kinds[0], null],
      ['auto-resolve', kinds[2], 'closed'],
    ]);
    for (const c of back) c.end(true);
  });
});
