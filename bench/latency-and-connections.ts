import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { runLoad } from '../device-sim/src/load.ts';
import { waitFor } from '../hub/test/helpers/wait.ts';
import type { Target } from './brokers.ts';

function percentile(sorted: number[], p: number): number | null {
  return sorted.length
    ? (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number)
    : null;
}

/**
 * Panic press → alert at the point leader's app: `presses` buttons at the school gate are pressed one
 * after another (each its own incident), while `background` msg/s of telemetry from other devices run.
 * Latency is from the press's send to the alert's arrival on the leader's own MQTT topic.
 */
export async function panicToAlert(
  t: Target,
  presses: number,
  background: number,
): Promise<{ p50: number | null; p99: number | null; received: number }> {
  const api = t.api as NonNullable<Target['api']>;
  const tag = Math.random().toString(36).slice(2, 6);
  const csv = [
    'id,model,site',
    ...Array.from({ length: presses }, (_, i) => `press-${tag}-${i},generic-panic-button,site-school-gate`),
  ].join('\n');
  const buttons = (
    (await api('POST', '/api/v1/devices/import', csv, 'text/csv')) as {
      registered: { id: string; secret: string }[];
    }
  ).registered;
  const token = (
    (await api('POST', '/api/v1/people/p-school-principal/tokens', JSON.stringify({ label: 'bench' }))) as {
      token: string;
    }
  ).token;
  const leader = await mqtt.connectAsync(t.url, {
    clientId: 'p-school-principal:bench',
    username: 'p-school-principal',
    password: token,
    reconnectPeriod: 0,
  });
  await leader.subscribeAsync('gh/v1/hub/person/p-school-principal/alert', { qos: 1 });
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  leader.on('message', (_topic, payload) => {
    const id = (JSON.parse(payload.toString()) as { alert: { deviceId: string } }).alert.deviceId;
    const t0 = sentAt.get(id);
    if (t0 !== undefined) {
      latencies.push(Date.now() - t0);
      sentAt.delete(id);
    }
  });
  let stopBackground = () => {};
  const backgroundDone = new Promise<void>((r) => {
    stopBackground = r;
  });
  const load =
    background > 0
      ? runLoad({
          url: t.url,
          devices: t.devices,
          rate: background,
          seconds: 600,
          kind: 'telemetry',
          until: backgroundDone,
        })
      : Promise.resolve(undefined);
  const clients: MqttClient[] = [];
  for (const b of buttons)
    clients.push(
      await mqtt.connectAsync(t.url, {
        clientId: b.id,
        username: b.id,
        password: b.secret,
        reconnectPeriod: 0,
      }),
    );
  await new Promise((r) => setTimeout(r, 1000)); // let the background load reach its rate
  for (const [i, c] of clients.entries()) {
    const id = buttons[i]?.id as string;
    sentAt.set(id, Date.now());
    c.publish(`gh/v1/dev/${id}/event`, JSON.stringify({ eventId: `p-${tag}-${i}`, type: 'press' }), {
      qos: 1,
    });
    await new Promise((r) => setTimeout(r, 200));
  }
  await waitFor(() => latencies.length >= presses, { timeoutMs: 15_000, what: 'alerts' }).catch(
    () => undefined,
  );
  stopBackground();
  await load;
  await Promise.all([...clients.map((c) => c.endAsync(true)), leader.endAsync(true)]);
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), received: latencies.length };
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/**
 * How many device connections the broker holds, its memory per connection, and how long a reconnect
 * storm of all of them takes (every socket dropped at once, every device reconnecting at once).
 */
export async function connections(
  t: Target,
  devices: readonly { id: string; secret?: string }[],
): Promise<{ held: number; kbPerConnection: number; stormSeconds: number }> {
  const connect = (d: { id: string; secret?: string }) =>
    mqtt.connectAsync(t.url, {
      clientId: d.id,
      username: d.id,
      password: d.secret,
      reconnectPeriod: 0,
      keepalive: 300,
      connectTimeout: 60_000,
    });
  const before = rssBytes(t.pid);
  const clients: MqttClient[] = [];
  for (let i = 0; i < devices.length; i += 200)
    clients.push(...(await Promise.all(devices.slice(i, i + 200).map(connect))));
  await new Promise((r) => setTimeout(r, 500));
  const after = rssBytes(t.pid);
  for (const c of clients) c.stream.destroy();
  for (const c of clients) c.end(true);
  await new Promise((r) => setTimeout(r, 500));
  const started = performance.now();
  const again = await Promise.all(devices.map(connect));
  const stormSeconds = (performance.now() - started) / 1000;
  await Promise.all(again.map((c) => c.endAsync(true)));
  return {
    held: again.length,
    kbPerConnection: Math.round((after - before) / devices.length / 102.4) / 10,
    stormSeconds: Math.round(stormSeconds * 100) / 100,
  };
}
