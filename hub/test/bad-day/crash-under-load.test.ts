/**
 * A PUBACK is a promise (issue 13). A real hub process takes a steady QoS 1 event load from 24
 * devices (unique event ids, each with its own device timestamp) while it is killed with SIGKILL
 * five times and restarted on the same data directory; the devices reconnect and resend what was
 * not acknowledged. Then every event that got a PUBACK at least once is counted: in the hub's
 * dedupe record exactly once, in the local series store exactly once, and in a real
 * VictoriaMetrics. No incident has two open tickets, and no escalation step happened twice.
 * A second run keeps VictoriaMetrics down for 60 s and kills the hub once inside the outage:
 * not one point is lost.
 */
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import { type Registered, registerDevice, topic } from '../helpers/devices.ts';
import { HubProcess } from '../helpers/hub-process.ts';
import { tempDirs } from '../helpers/test-hub.ts';
import { onPostgres, postgresStoreUrl } from '../helpers/test-store.ts';
import { VictoriaMetrics } from '../helpers/victoria-metrics.ts';
import { waitFor } from '../helpers/wait.ts';

const newDir = tempDirs('gridhub-chaos-');

interface Fleet {
  devices: { d: Registered; client: MqttClient; sent: number; acked: Map<string, number> }[];
  stop(): Promise<void>;
  ackedTotal(): number;
}

const EVENTS = ['selftest', 'selftest', 'selftest', 'battery.low', 'tamper', 'tamper.restore'] as const;

/** Devices publishing QoS 1 events at a steady pace; every PUBACK is recorded with the event's ts. */
async function fleet(
  hub: HubProcess,
  devices: Registered[],
  perSecond: number,
  base: number,
): Promise<Fleet> {
  const out: Fleet['devices'] = [];
  for (const d of devices) {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, {
      clientId: d.id,
      username: d.id,
      password: d.secret,
      reconnectPeriod: 100,
      connectTimeout: 3000,
      keepalive: 10,
    });
    out.push({ d, client, sent: 0, acked: new Map() });
  }
  let running = true;
  const timers = out.map((dev) =>
    setInterval(() => {
      if (!running) return;
      const i = dev.sent++;
      const eventId = `${dev.d.id}-e${i}`;
      const type = EVENTS[i % EVENTS.length] as string;
      const ts = base + i;
      const body = type === 'selftest' ? { eventId, type, ts, result: 'ok' } : { eventId, type, ts };
      // A device resends an event until it is acknowledged (MQTT.js gives up on what was in flight
      // when the connection closed; firmware does not).
      const send = () =>
        dev.client.publish(topic(dev.d.id, 'event'), JSON.stringify(body), { qos: 1 }, (err) => {
          if (!err) dev.acked.set(eventId, ts);
          else setTimeout(send, 100);
        });
      send();
    }, 1000 / perSecond),
  );
  return {
    devices: out,
    ackedTotal: () => out.reduce((n, d) => n + d.acked.size, 0),
    async stop() {
      running = false;
      for (const t of timers) clearInterval(t);
      // Everything published is acknowledged in the end (the clients resend across restarts).
      await waitFor(() => out.every((d) => d.acked.size === d.sent), {
        timeoutMs: 120_000,
        what: 'every published event acknowledged',
      }).catch((err: unknown) => {
        if (process.env.CHAOS_DEBUG)
          for (const d of out) {
            const missing = Array.from({ length: d.sent }, (_, i) => `${d.d.id}-e${i}`).filter(
              (e) => !d.acked.has(e),
            );
            console.log(
              d.d.id,
              'sent',
              d.sent,
              'acked',
              d.acked.size,
              'connected',
              d.client.connected,
              'missing',
              missing.slice(0, 5),
              'outgoing',
              Object.keys((d.client as unknown as { outgoing: object }).outgoing).length,
            );
          }
        throw err;
      });
      await Promise.all(out.map((d) => d.client.endAsync()));
    },
  };
}

async function setUp(hub: HubProcess, n: number): Promise<Registered[]> {
  await loadExample(hub.api);
  // Maintenance tickets climb a level every 2 s, so escalations fall due around the kills.
  const policy = await hub.api.put('/api/v1/policies/ticket.maintenance.levelMinutes', {
    scope: { kind: 'global', id: '*' },
    value: 2 / 60,
  });
  expect(policy.status).toBe(200);
  const devices: Registered[] = [];
  for (let i = 0; i < n; i++) devices.push(await registerDevice(hub.api, 'generic-nb-smoke', 'site-b1'));
  return devices;
}

const DOUBLED = `SELECT incident_key, count(*) AS n FROM tickets WHERE incident_key IS NOT NULL
  AND state NOT IN ('closed', 'evaluated', 'rejected') GROUP BY incident_key HAVING count(*) > 1`;
const ESCALATIONS = "SELECT ticket_id, data FROM ticket_timeline WHERE action = 'escalate'";

/**
 * What the hub's own files say, read as an operator would with sqlite3; on PostgreSQL (the `pg`
 * project) the store and the series tables are read from the hub's database (node-postgres).
 */
async function storeFacts(dataDir: string) {
  const journal = new BetterSqlite3(join(dataDir, 'journal.sqlite'), { readonly: true });
  const seen = journal
    .prepare("SELECT device_id || ':' || event_id AS k FROM seen")
    .pluck()
    .all() as string[];
  journal.close();
  let events: string[];
  let doubled: unknown[];
  let escalations: { ticket_id: string; data: string }[];
  if (onPostgres()) {
    const client = new pg.Client({ connectionString: await postgresStoreUrl(dataDir) });
    await client.connect();
    try {
      events = (
        await client.query<{ k: string }>("SELECT device || ':' || event_id AS k FROM series_events")
      ).rows.map((r) => r.k);
      doubled = (await client.query(DOUBLED)).rows;
      escalations = (await client.query<{ ticket_id: string; data: string }>(ESCALATIONS)).rows;
    } finally {
      await client.end();
    }
  } else {
    const series = new BetterSqlite3(join(dataDir, 'series.sqlite'), { readonly: true });
    events = series.prepare("SELECT device || ':' || event_id AS k FROM events").pluck().all() as string[];
    series.close();
    const store = new BetterSqlite3(join(dataDir, 'gridhub.sqlite'), { readonly: true });
    doubled = store.prepare(DOUBLED).all();
    escalations = store.prepare(ESCALATIONS).all() as { ticket_id: string; data: string }[];
    store.close();
  }
  const steps = escalations.map((e) => {
    const d = JSON.parse(e.data) as { fromLevel: number; toLevel: number };
    return `${e.ticket_id}:${d.fromLevel}->${d.toLevel}`;
  });
  return { seen, events, doubled, steps };
}

function expectCounted(
  f: Fleet,
  facts: Awaited<ReturnType<typeof storeFacts>>,
  vmTimestamps: Map<string, Set<number>>,
) {
  const seen = new Set(facts.seen);
  const events = new Map<string, number>();
  for (const k of facts.events) events.set(k, (events.get(k) ?? 0) + 1);
  let missingSeen = 0;
  let missingSeries = 0;
  let twiceSeries = 0;
  let missingVm = 0;
  for (const dev of f.devices) {
    for (const [eventId, ts] of dev.acked) {
      const k = `${dev.d.id}:${eventId}`;
      if (!seen.has(k)) missingSeen++;
      const n = events.get(k) ?? 0;
      if (n === 0) missingSeries++;
      if (n > 1) twiceSeries++;
      if (!vmTimestamps.get(dev.d.id)?.has(ts)) missingVm++;
    }
  }
  expect({ missingSeen, missingSeries, twiceSeries, missingVm }).toEqual({
    missingSeen: 0,
    missingSeries: 0,
    twiceSeries: 0,
    missingVm: 0,
  });
}

async function vmEvents(vm: VictoriaMetrics): Promise<Map<string, Set<number>>> {
  const out = new Map<string, Set<number>>();
  for (const s of await vm.export('{__name__="device_event_count"}')) {
    const device = String(s.metric.device);
    const set = out.get(device) ?? new Set<number>();
    for (const t of s.timestamps) set.add(t);
    out.set(device, set);
  }
  return out;
}

const vmDir = newDir();
const vm = new VictoriaMetrics(vmDir);
afterAll(() => vm.stop());

function hubFor(dataDir: string): HubProcess {
  return new HubProcess(dataDir, {
    GRIDHUB_INFLUX_URL: vm.url,
    GRIDHUB_INFLUX_TOKEN: 'chaos',
    GRIDHUB_INFLUX_FLUSH_MS: '100',
    GRIDHUB_SERIES_FLUSH_MS: '200',
    GRIDHUB_TICKETS_SCHEDULER_TICK_MS: '100',
    GRIDHUB_MQTT_RATE_PER_SECOND: '1000',
    GRIDHUB_MQTT_RATE_BURST: '1000',
  });
}

describe('crash under load', () => {
  it('loses nothing acknowledged across five SIGKILLs, doubles nothing, escalates once', async () => {
    await vm.start();
    const dataDir = newDir();
    const hub = hubFor(dataDir);
    await hub.start();
    const devices = await setUp(hub, 24);
    const f = await fleet(hub, devices, 5, Date.now() - 3600_000);
    try {
      for (let kill = 0; kill < 5; kill++) {
        const before = f.ackedTotal();
        await waitFor(() => f.ackedTotal() >= before + 150, { timeoutMs: 30_000, what: 'load acknowledged' });
        await hub.kill();
        await hub.start();
      }
      const before = f.ackedTotal();
      await waitFor(() => f.ackedTotal() >= before + 150, {
        timeoutMs: 30_000,
        what: 'load after the last restart',
      });
    } finally {
      await f.stop().catch(async (err) => {
        if (process.env.CHAOS_DEBUG) {
          console.log(hub.output.slice(-5000));
          const m = await hub.metrics();
          console.log(
            m
              .split('\n')
              .filter((l) => /journal|rules_backlog|messages_total|errors_total/.test(l))
              .join('\n'),
          );
        }
        throw err;
      });
    }
    const acked = f.ackedTotal();
    expect(acked).toBeGreaterThan(900);
    // The series stores take their share from the journal; wait until both hold every acked event.
    await waitFor(
      async () => {
        const facts = await storeFacts(dataDir);
        const vmTs = await vmEvents(vm);
        const inVm = [...vmTs.values()].reduce((n, s) => n + s.size, 0);
        return facts.events.length >= acked && inVm >= acked;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'series stores caught up' },
    );
    const facts = await storeFacts(dataDir);
    expectCounted(f, facts, await vmEvents(vm));
    expect(facts.doubled).toEqual([]);
    expect(facts.steps.length).toBeGreaterThan(0);
    expect(facts.steps.length).toBe(new Set(facts.steps).size);
    await hub.stop();
  });

  it('loses no point when VictoriaMetrics is down for 60 s and the hub is killed inside the outage', {
    timeout: 240_000,
  }, async () => {
    const dataDir = newDir();
    const hub = hubFor(dataDir);
    await hub.start();
    const devices = await setUp(hub, 20);
    const f = await fleet(hub, devices, 5, Date.now() - 7200_000);
    try {
      await waitFor(() => f.ackedTotal() >= 200, { what: 'load running' });
      await vm.kill();
      const downSince = Date.now();
      await waitFor(() => f.ackedTotal() >= 800, { timeoutMs: 30_000, what: 'load during the outage' });
      await hub.kill();
      await hub.start();
      await waitFor(() => Date.now() >= downSince + 60_000, {
        timeoutMs: 70_000,
        intervalMs: 200,
        what: '60 s outage',
      });
      await vm.restart();
    } finally {
      await f.stop();
    }
    const acked = f.ackedTotal();
    await waitFor(
      async () => {
        const inVm = [...(await vmEvents(vm)).entries()]
          .filter(([d]) => devices.some((x) => x.id === d))
          .reduce((n, [, s]) => n + s.size, 0);
        return inVm >= acked;
      },
      { timeoutMs: 90_000, intervalMs: 500, what: 'every point delivered after the outage' },
    );
    expectCounted(f, await storeFacts(dataDir), await vmEvents(vm));
    await hub.stop();
  });
});
