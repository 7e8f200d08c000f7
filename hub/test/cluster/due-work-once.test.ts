/**
 * Work that must happen once happens once across nodes (issue 19). Two hub processes share one
 * PostgreSQL database and both tick every 25 ms: an alert's escalation steps each happen exactly
 * once (one audit entry and one delivery per step and recipient, counted in the store). Then the
 * bad day: a node is SIGKILLed while it is inside the transaction that takes a step (it has read
 * the alert and is writing it; a row lock held by the test keeps it there), and the other node
 * takes the step over within its tick once the dead node's session is gone: still once.
 */

import mqtt from 'mqtt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import { registerDevice, topic } from '../helpers/devices.ts';
import type { HubProcess } from '../helpers/hub-process.ts';
import { tempDirs } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';
import { type TwoHubs, twoHubs } from './two-hubs.ts';

const newDir = tempDirs('gridhub-cluster-');
let c: TwoHubs;

async function press(hub: HubProcess, site: string, eventId: string): Promise<void> {
  const button = await registerDevice(hub.api, 'generic-panic-button', site);
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, {
    clientId: button.id,
    username: button.id,
    password: button.secret,
    reconnectPeriod: 0,
  });
  await client.publishAsync(topic(button.id, 'event'), JSON.stringify({ eventId, type: 'press' }), {
    qos: 1,
  });
  await client.endAsync();
}

async function alertOf(site: string): Promise<{ id: string; step: number; chain: string }> {
  return waitFor(
    async () =>
      (
        await c.rows<{ id: string; step: number; chain: string }>(
          'SELECT id, step::int AS step, chain FROM alerts WHERE site_id = $1',
          [site],
        )
      )[0],
    { what: `alert at ${site}` },
  );
}

/** Escalation audit entries and MQTT deliveries of an alert, as (step) and (step, recipient) counts. */
async function stepsOf(alertId: string) {
  const audits = await c.rows<{ data: string }>(
    "SELECT data FROM audit_log WHERE action = 'alert.escalate' AND entity_id = $1",
    [alertId],
  );
  const steps = new Map<number, number>();
  for (const a of audits) {
    const step = Number((JSON.parse(a.data) as { step: number }).step);
    steps.set(step, (steps.get(step) ?? 0) + 1);
  }
  const deliveries = await c.rows<{ step: number; recipient: string; n: string }>(
    "SELECT step::int AS step, recipient, count(*) AS n FROM alert_deliveries WHERE alert_id = $1 AND channel = 'mqtt' GROUP BY step, recipient",
    [alertId],
  );
  return {
    steps: Object.fromEntries([...steps].sort((x, y) => x[0] - y[0])),
    deliveries: Object.fromEntries(deliveries.map((d) => [`${d.step}:${d.recipient}`, Number(d.n)])),
  };
}

beforeAll(async () => {
  c = await twoHubs(newDir, {}, async (a) => {
    // API tokens make the school's people reachable (their apps get queued messages), so steps
    // wait for their delay instead of skipping people who cannot be reached at all.
    await loadExample(a.api, ['p-school-principal', 'p-school-safety', 'p-school-teacher', 'p-street-duty']);
    // Steps a second apart and no re-notification inside the test, on both schools' grid.
    for (const [key, value] of [
      ['alert.stepDelaySeconds', { critical: 1 }],
      ['alert.renotifySeconds', { critical: 3600 }],
    ] as const) {
      const res = await a.api.put(`/api/v1/policies/${key}`, {
        scope: { kind: 'grid', id: 'x-school-1' },
        value,
      });
      expect(res.status).toBe(200);
    }
    // Manual tickets climb a level every second.
    const res = await a.api.put('/api/v1/policies/ticket.manual.levelMinutes', {
      scope: { kind: 'global', id: '*' },
      value: 1 / 60,
    });
    expect(res.status).toBe(200);
  });
});

afterAll(async () => {
  await c?.stop();
});

describe('due work on two nodes sharing one store', () => {
  it('takes every escalation step of an alert exactly once while both nodes tick', async () => {
    await press(c.a, 'site-school-gate', 'gate-1');
    const alert = await alertOf('site-school-gate');
    const chain = JSON.parse(alert.chain) as string[];
    expect(chain.length).toBe(4);
    await waitFor(async () => (await alertOf('site-school-gate')).step === 3, {
      timeoutMs: 20_000,
      what: 'the alert climbed to the last person',
    });
    // Both nodes keep ticking past the last step: nothing more may happen.
    const quietUntil = Date.now() + 1500;
    await waitFor(() => Date.now() >= quietUntil, { what: 'observation window' });
    const { steps, deliveries } = await stepsOf(alert.id);
    expect(steps).toEqual({ 1: 1, 2: 1, 3: 1 });
    expect(deliveries).toEqual(Object.fromEntries(chain.map((p, i) => [`${i}:${p}`, 1])));
  });

  it('climbs each ticket level once when its deadline passes while both nodes run the scheduler', async () => {
    const ids: string[] = [];
    for (const [i, site] of ['site-b1', 'site-b2', 'site-b3', 'site-b7'].entries()) {
      const res = await (i % 2 ? c.b : c.a).api.post<{ id: string }>('/api/v1/tickets', {
        title: `楼道堆物 ${i}`,
        site,
      });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const overdue = () =>
      c.count(
        "SELECT count(DISTINCT ticket_id) AS n FROM ticket_timeline WHERE action = 'overdue' AND ticket_id = ANY($1)",
        [ids],
      );
    await waitFor(async () => (await overdue()) === ids.length, {
      timeoutMs: 20_000,
      what: 'every ticket at district level and overdue',
    });
    const quietUntil = Date.now() + 1500;
    await waitFor(() => Date.now() >= quietUntil, { what: 'observation window' });
    const rows = await c.rows<{ ticket_id: string; action: string; data: string | null }>(
      "SELECT ticket_id, action, data FROM ticket_timeline WHERE action IN ('escalate', 'overdue') AND ticket_id = ANY($1)",
      [ids],
    );
    for (const id of ids) {
      const mine = rows.filter((r) => r.ticket_id === id);
      const climbs = mine
        .filter((r) => r.action === 'escalate')
        .map((r) => {
          const d = JSON.parse(r.data ?? '{}') as { fromLevel: number; toLevel: number };
          return `${d.fromLevel}->${d.toLevel}`;
        })
        .sort();
      expect(climbs, id).toEqual(['1->2', '2->3', '3->4']);
      expect(mine.filter((r) => r.action === 'overdue').length, id).toBe(1);
    }
  });

  it('takes a step over from a node SIGKILLed inside the step, within a tick, and takes it once', async () => {
    await press(c.b, 'site-school-main', 'main-1');
    const alert = await alertOf('site-school-main');
    expect(alert.step).toBe(0);
    // The test holds the alert's row: the node whose tick takes step 1 reads the alert, then waits
    // in its UPDATE, inside its transaction, holding the store's transaction lock.
    const holder = new pg.Client({ connectionString: c.url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM alerts WHERE id = $1 FOR UPDATE', [alert.id]);
    const stuck = await waitFor(
      async () =>
        (
          await c.rows<{ application_name: string }>(
            `SELECT application_name FROM pg_stat_activity
              WHERE wait_event_type = 'Lock' AND query ILIKE 'update "alerts"%' AND application_name LIKE 'gridhub-node-%'`,
          )
        )[0]?.application_name,
      { timeoutMs: 10_000, what: 'a node inside the step, waiting in its UPDATE' },
    );
    const [dead, survivor] = stuck === 'gridhub-node-a' ? [c.a, c.b] : [c.b, c.a];
    await dead.kill();
    const killedAt = Date.now();
    await holder.query('ROLLBACK');
    await holder.end();
    await waitFor(async () => (await alertOf('site-school-main')).step >= 1, {
      timeoutMs: 5000,
      what: 'step 1 taken by the surviving node',
    });
    const takenAfter = Date.now() - killedAt;
    // Bound: the surviving node's next tick after the dead session ended (25 ms ticks here).
    expect(takenAfter).toBeLessThan(2000);
    await waitFor(async () => (await alertOf('site-school-main')).step === 3, {
      timeoutMs: 20_000,
      what: 'the rest of the chain by the survivor',
    });
    const chain = JSON.parse(alert.chain) as string[];
    // The last page is sent just after its step is stored.
    await waitFor(async () => Object.keys((await stepsOf(alert.id)).deliveries).length === chain.length, {
      what: 'the last person paged',
    });
    const { steps, deliveries } = await stepsOf(alert.id);
    expect(steps).toEqual({ 1: 1, 2: 1, 3: 1 });
    expect(deliveries).toEqual(Object.fromEntries(chain.map((p, i) => [`${i}:${p}`, 1])));
    expect(survivor.output).not.toContain('alert escalation failed');
    // The killed node comes back on its own data directory and repeats nothing.
    await dead.start();
    const quietUntil = Date.now() + 1500;
    await waitFor(() => Date.now() >= quietUntil, { what: 'observation window' });
    expect(await stepsOf(alert.id)).toEqual({ steps, deliveries });
  });
});
