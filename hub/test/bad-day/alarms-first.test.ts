/**
 * Alarms first (issue 13). A real hub process takes a flood of ordinary QoS 1 events from 20
 * devices, each at its rate limit, while an installer runs a 200,000-row CSV dry run and a panic
 * button is pressed every second for 60 s. Every press reaches the point leader's MQTT app (each is
 * resolved as a false alarm once it arrived, so the next press is a new alert), /health keeps
 * answering, and the hub is alive at the end. The latencies and the hub's largest event-loop delay
 * are printed, not asserted (`npm run bench` reports them against a quiet baseline).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import { metricValue, type Registered, registerDevice, topic } from '../helpers/devices.ts';
import { HubProcess } from '../helpers/hub-process.ts';
import { tempDirs } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const newDir = tempDirs('gridhub-alarms-first-');
const RATE = 50; // the hub's default mqtt.ratePerSecond
const PRESSES = 60;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function connect(hub: HubProcess, d: Registered): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, {
    clientId: d.id,
    username: d.id,
    password: d.secret,
    reconnectPeriod: 200,
  });
}

describe('alarms first', () => {
  const hub = new HubProcess(newDir());
  afterAll(() => hub.stop());

  it('delivers every panic press while 20 devices flood and a 200,000-row import runs', {
    timeout: 300_000,
  }, async () => {
    await hub.start();
    const people = await loadExample(hub.api, ['p-school-principal', 'p-installer']);
    const button = await registerDevice(hub.api, 'generic-panic-button', 'site-school-gate');
    const flooders: Registered[] = [];
    for (let i = 0; i < 20; i++) flooders.push(await registerDevice(hub.api, 'generic-nb-smoke', 'site-b1'));

    const leader = await mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, {
      clientId: 'p-school-principal:app',
      username: 'p-school-principal',
      password: people['p-school-principal'].token,
    });
    const arrived = new Map<string, number>();
    const alertOf = new Map<string, string>();
    leader.on('message', (_t, payload) => {
      const { alert } = JSON.parse(payload.toString()) as { alert: { id: string; count: number } };
      if (!alertOf.has(alert.id)) alertOf.set(alert.id, alert.id);
      if (!arrived.has(alert.id)) arrived.set(alert.id, Date.now());
    });
    await leader.subscribeAsync('gh/v1/hub/person/p-school-principal/alert', { qos: 1 });

    // The flood: ordinary events (self-tests, low battery) at each device's own rate limit.
    const clients = await Promise.all(flooders.map((d) => connect(hub, d)));
    let flooding = true;
    let flooded = 0;
    const floodTimers = clients.map((c, i) => {
      let n = 0;
      const d = flooders[i] as Registered;
      return setInterval(() => {
        if (!flooding) return;
        for (let k = 0; k < RATE / 10; k++) {
          const eventId = `flood-${n++}`;
          const body =
            n % 7 === 0 ? { eventId, type: 'battery.low' } : { eventId, type: 'selftest', result: 'ok' };
          c.publish(topic(d.id, 'event'), JSON.stringify(body), { qos: 1 }, () => flooded++);
        }
      }, 100);
    });

    // The import: an installer's 200,000-row dry run (about 5 MB), running alongside.
    const rows = ['model,site,name'];
    for (let i = 0; i < 200_000; i++) rows.push(`generic-nb-smoke,site-b1,烟感 ${i}`);
    const csv = rows.join('\n');
    const importDone = people['p-installer'].post<{ rows: number; problems: unknown[] }>(
      '/api/v1/devices/import?dryRun=true',
      csv,
      'text/csv',
    );

    // /health throughout, and the hub's own event-loop delay (prom-client's max since last scrape).
    const health: number[] = [];
    let loopMax = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const t0 = performance.now();
        const res = await fetch(`${hub.url}/health`);
        health.push(performance.now() - t0);
        expect(res.status).toBe(200);
        const lag = metricValue(await hub.metrics(), 'gridhub_nodejs_eventloop_lag_max_seconds');
        loopMax = Math.max(loopMax, lag * 1000);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // The presses: one a second; each is a new incident once the last was resolved.
    const panic = await connect(hub, button);
    const latencies: number[] = [];
    for (let i = 0; i < PRESSES; i++) {
      const before = new Set(arrived.keys());
      const at = Date.now();
      await panic.publishAsync(
        topic(button.id, 'event'),
        JSON.stringify({ eventId: `press-${i}`, type: 'press' }),
        {
          qos: 1,
        },
      );
      const id = await waitFor(() => [...arrived.keys()].find((k) => !before.has(k)), {
        timeoutMs: 10_000,
        what: `press ${i} reaching the leader`,
      });
      latencies.push((arrived.get(id) as number) - at);
      const resolved = await hub.api.post(`/api/v1/alerts/${id}/false-alarm`, { reason: 'load test' });
      expect(resolved.status).toBe(200);
      await waitFor(() => Date.now() >= at + 1000, {
        timeoutMs: 2000,
        intervalMs: 10,
        what: 'the next second',
      });
    }

    const imported = await importDone;
    flooding = false;
    for (const t of floodTimers) clearInterval(t);
    probing = false;
    await probe;
    expect(imported.status).toBe(200);
    expect(imported.body.rows).toBe(200_000);
    expect(latencies).toHaveLength(PRESSES);
    expect(arrived.size).toBe(PRESSES);
    expect(flooded).toBeGreaterThan(20 * RATE * 30);
    expect((await fetch(`${hub.url}/ready`)).status).toBe(200);
    console.log(
      `alarms first: ${PRESSES} presses under a flood of ${flooded} events and a 200,000-row dry run — ` +
        `press → leader p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms; ` +
        `/health p99 ${percentile(health, 99).toFixed(1)} ms; largest event-loop delay ${loopMax.toFixed(1)} ms`,
    );
    await Promise.all([...clients, panic, leader].map((c) => c.endAsync()));
  });
});
