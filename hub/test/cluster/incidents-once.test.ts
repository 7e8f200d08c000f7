/**
 * Incidents stay one incident across nodes, enforced by the database (issue 19). Two hub
 * processes share one PostgreSQL database:
 * - two smoke detectors of one building alarm 1 ms apart, one on each node: one fire ticket,
 *   confirmed once (level 4, critical), with one alert — three buildings, three times the race;
 * - a panic button's event reaches node A, then the same event (a QoS 1 resend) reaches node B;
 *   another is run by A, which is SIGKILLed, and then resent to B: one ticket, one alert, one page
 *   to the leader each; B counts both as run elsewhere;
 * - an event a dead node had claimed but not finished (its claim row left behind) is run by the
 *   node that gets the device's resend once the claim's lease has run out: once, not never.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import { metricValue, type Registered, registerDevice, topic } from '../helpers/devices.ts';
import type { HubProcess } from '../helpers/hub-process.ts';
import { tempDirs } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';
import { type TwoHubs, twoHubs } from './two-hubs.ts';

const newDir = tempDirs('gridhub-cluster-');
let c: TwoHubs;
const clients: MqttClient[] = [];

function connect(hub: HubProcess, d: Registered): Promise<MqttClient> {
  return mqtt
    .connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, {
      clientId: d.id,
      username: d.id,
      password: d.secret,
      reconnectPeriod: 0,
    })
    .then((client) => {
      clients.push(client);
      return client;
    });
}

function send(client: MqttClient, d: Registered, body: Record<string, unknown>): Promise<unknown> {
  return client.publishAsync(topic(d.id, 'event'), JSON.stringify(body), { qos: 1 });
}

async function quiet(ms: number): Promise<void> {
  const until = Date.now() + ms;
  await waitFor(() => Date.now() >= until, { what: 'observation window' });
}

beforeAll(async () => {
  c = await twoHubs(newDir, {}, async (a) => {
    await loadExample(a.api, ['p-school-principal']);
  });
});

afterAll(async () => {
  await Promise.all(clients.map((m) => m.endAsync(true)));
  await c?.stop();
});

describe('incidents on two nodes sharing one store', () => {
  it('makes one confirmed fire ticket and one alert of two detectors alarming 1 ms apart on two nodes', async () => {
    const buildings = [
      { site: 'site-b1', key: 'fire:mg-xinghua-1-a:1' },
      { site: 'site-b2', key: 'fire:mg-xinghua-1-a:2' },
      { site: 'site-b3', key: 'fire:mg-xinghua-1-a:3' },
    ];
    for (const { site, key } of buildings) {
      const d1 = await registerDevice(c.a.api, 'generic-nb-smoke', site);
      const d2 = await registerDevice(c.a.api, 'generic-nb-smoke', site);
      const [m1, m2] = [await connect(c.a, d1), await connect(c.b, d2)];
      const first = send(m1, d1, { eventId: `${d1.id}-s1`, type: 'smoke.alarm' });
      const second = new Promise((resolve) => setTimeout(resolve, 1)).then(() =>
        send(m2, d2, { eventId: `${d2.id}-s1`, type: 'smoke.alarm' }),
      );
      await Promise.all([first, second]);
      await waitFor(
        async () =>
          (await c.count(
            "SELECT count(*) AS n FROM tickets WHERE incident_key = $1 AND level = 4 AND severity = 'critical'",
            [key],
          )) === 1,
        { timeoutMs: 10_000, what: `confirmed fire at ${site}` },
      );
    }
    await quiet(1000);
    for (const { site, key } of buildings) {
      const tickets = await c.rows<{ id: string }>('SELECT id FROM tickets WHERE incident_key = $1', [key]);
      expect(tickets.length, site).toBe(1);
      const id = tickets[0]?.id;
      const escalations = await c.count(
        "SELECT count(*) AS n FROM ticket_timeline WHERE ticket_id = $1 AND action = 'escalate'",
        [id],
      );
      expect(escalations, site).toBe(1);
      const detectors = await c.count(
        "SELECT count(DISTINCT ref) AS n FROM ticket_links WHERE ticket_id = $1 AND kind = 'device'",
        [id],
      );
      expect(detectors, site).toBe(2);
      expect(await c.count('SELECT count(*) AS n FROM alerts WHERE ticket_id = $1', [id]), site).toBe(1);
    }
  });

  it('runs an event that reached both nodes once, also when the first node died after it', async () => {
    const button = await registerDevice(c.a.api, 'generic-panic-button', 'site-school-gate');
    const ref = `${button.id}:p-1`;
    const raisedFor = (eventId: string) =>
      c.count("SELECT count(*) AS n FROM ticket_links WHERE kind = 'event' AND ref = $1", [
        `${button.id}:${eventId}`,
      ]);
    const onA = await connect(c.a, button);
    await send(onA, button, { eventId: 'p-1', type: 'press' });
    await waitFor(
      async () =>
        (await c.count("SELECT count(*) AS n FROM ticket_links WHERE kind = 'event' AND ref = $1", [ref])) ===
        1,
      { what: 'the ticket of the press' },
    );
    // The same event on B while A lives (a device that fell over to B and resent it).
    const onB = await connect(c.b, button);
    await send(onB, button, { eventId: 'p-1', type: 'press' });
    const elsewhere = async () =>
      metricValue(await c.b.metrics(), 'gridhub_rules_claims_total', { outcome: 'elsewhere' });
    await waitFor(async () => (await elsewhere()) === 1, {
      what: 'B left the event to the node that ran it',
    });
    await onB.endAsync();
    // A runs a second press, acknowledges it and dies; the device resends it to B, which never saw it.
    const onA2 = await connect(c.a, button);
    await send(onA2, button, { eventId: 'p-3', type: 'press' });
    await waitFor(async () => (await raisedFor('p-3')) === 1, { what: 'the ticket of the second press' });
    await c.a.kill();
    await onA.endAsync(true);
    await onA2.endAsync(true);
    const again = await connect(c.b, button);
    await send(again, button, { eventId: 'p-3', type: 'press' });
    await waitFor(async () => (await elsewhere()) === 2, { what: 'B left the dead node’s event alone' });
    // Positive control: a new press on B still raises its own ticket.
    await send(again, button, { eventId: 'p-2', type: 'press' });
    await waitFor(
      async () =>
        (await c.count("SELECT count(*) AS n FROM ticket_links WHERE kind = 'event' AND ref = $1", [
          `${button.id}:p-2`,
        ])) === 1,
      { what: 'the second press raised' },
    );
    await quiet(1000);
    expect(await raisedFor('p-3')).toBe(1);
    const tickets = await c.rows<{ ticket_id: string }>(
      "SELECT ticket_id FROM ticket_links WHERE kind = 'event' AND ref = $1",
      [ref],
    );
    expect(tickets.length).toBe(1);
    const alerts = await c.rows<{ id: string }>('SELECT id FROM alerts WHERE ticket_id = $1', [
      tickets[0]?.ticket_id,
    ]);
    expect(alerts.length).toBe(1);
    const pages = await c.count(
      "SELECT count(*) AS n FROM alert_deliveries WHERE alert_id = $1 AND step = 0 AND channel = 'mqtt'",
      [alerts[0]?.id],
    );
    expect(pages).toBe(1);
    expect(
      await c.count('SELECT count(*) AS n FROM event_claims WHERE device_id = $1 AND done_at IS NOT NULL', [
        button.id,
      ]),
    ).toBe(3);
    await c.a.start();
  });

  it('takes over an event a dead node claimed and never finished, once its claim runs out', async () => {
    const button = await registerDevice(c.a.api, 'generic-panic-button', 'site-school-main');
    const leaseMs = 3000;
    // What a node killed between its claim and its ticket leaves: a claim without done_at.
    await c.rows(
      'INSERT INTO event_claims (device_id, event_id, holder, lease_until, claimed_at, done_at) VALUES ($1, $2, $3, $4, $5, NULL)',
      [button.id, 'q-1', 'node-that-died:1:x', Date.now() + leaseMs, Date.now()],
    );
    const sentAt = Date.now();
    const onB = await connect(c.b, button);
    await send(onB, button, { eventId: 'q-1', type: 'press' });
    const ref = `${button.id}:q-1`;
    await waitFor(
      async () =>
        (await c.count("SELECT count(*) AS n FROM ticket_links WHERE kind = 'event' AND ref = $1", [ref])) ===
        1,
      { timeoutMs: 10_000, what: 'the press raised by B after the dead claim ran out' },
    );
    const after = Date.now() - sentAt;
    expect(after).toBeGreaterThanOrEqual(leaseMs - 200);
    expect(after).toBeLessThan(leaseMs + 2000);
    await quiet(1000);
    expect(
      await c.count("SELECT count(*) AS n FROM ticket_links WHERE kind = 'event' AND ref = $1", [ref]),
    ).toBe(1);
    const [claim] = await c.rows<{ holder: string; done: boolean }>(
      'SELECT holder, done_at IS NOT NULL AS done FROM event_claims WHERE device_id = $1 AND event_id = $2',
      [button.id, 'q-1'],
    );
    expect(claim?.done).toBe(true);
    expect(claim?.holder).not.toBe('node-that-died:1:x');
  });
});
