/**
 * Simulated devices for the cluster tests (issue 19), behaving as firmware does: a persistent
 * session, a retained last will, a telemetry heartbeat every second, QoS 1 events resent until a
 * PUBACK arrives (MQTT.js gives up on what was in flight when a connection closed; firmware does
 * not), and reconnecting to the one address they were given (the load balancer). Every PUBACK and
 * every connection drop is recorded, so a test can count what was promised and who was moved.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { topic } from './devices.ts';
import type { ApiClient } from './start-hub.ts';
import { waitFor } from './wait.ts';

export interface SimDevice {
  id: string;
  secret: string;
  client: MqttClient;
  /** eventId → PUBACK time */
  acked: Map<string, number>;
  sent: number;
  /** connection closes seen, with their times */
  drops: number[];
  /** (re)connections seen, with their times */
  connects: number[];
}

/** Register `n` devices of one model at one site through the CSV import (one request). */
export async function registerFleet(
  api: ApiClient,
  prefix: string,
  n: number,
  model: string,
  site: string,
): Promise<{ id: string; secret: string }[]> {
  const csv = ['id,model,site', ...Array.from({ length: n }, (_, i) => `${prefix}-${i},${model},${site}`)];
  const res = await api.post<{ registered: { id: string; secret: string }[] }>(
    '/api/v1/devices/import',
    csv.join('\n'),
    'text/csv',
  );
  if (res.status !== 200 && res.status !== 201)
    throw new Error(`device import: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.registered;
}

export async function connectFleet(url: string, devices: { id: string; secret: string }[]) {
  const out: SimDevice[] = [];
  for (const d of devices) {
    const client = await mqtt.connectAsync(url, {
      clientId: d.id,
      username: d.id,
      password: d.secret,
      clean: false,
      reconnectPeriod: 200,
      connectTimeout: 3000,
      keepalive: 10,
      will: {
        topic: topic(d.id, 'status'),
        payload: Buffer.from('{"state":"offline"}'),
        qos: 1,
        retain: true,
      },
    });
    const dev: SimDevice = { ...d, client, acked: new Map(), sent: 0, drops: [], connects: [Date.now()] };
    client.on('close', () => dev.drops.push(Date.now()));
    client.on('connect', () => {
      dev.connects.push(Date.now());
      client.publish(topic(d.id, 'status'), JSON.stringify({ state: 'online' }), { qos: 1, retain: true });
    });
    client.publish(topic(d.id, 'status'), JSON.stringify({ state: 'online' }), { qos: 1, retain: true });
    out.push(dev);
  }
  return out;
}

/** Publish one QoS 1 event until it is acknowledged; resolves at its PUBACK. */
export function sendEvent(
  dev: SimDevice,
  body: { eventId: string } & Record<string, unknown>,
): Promise<void> {
  dev.sent++;
  return new Promise((resolve) => {
    const send = () =>
      dev.client.publish(topic(dev.id, 'event'), JSON.stringify(body), { qos: 1 }, (err) => {
        if (err) {
          setTimeout(send, 100);
          return;
        }
        if (!dev.acked.has(body.eventId)) dev.acked.set(body.eventId, Date.now());
        resolve();
      });
    send();
  });
}

const EVENTS = ['selftest', 'selftest', 'selftest', 'battery.low', 'tamper', 'tamper.restore'] as const;

/**
 * The steady load: each device sends `perSecond` QoS 1 events (unique ids, device timestamps from
 * `base`), and every device (`heartbeats`) a QoS 0 telemetry heartbeat each second, so presence
 * sees each one alive. `stopEvents()` ends the events, `stopHeartbeats()` the heartbeats.
 */
export function steadyLoad(load: SimDevice[], heartbeats: SimDevice[], perSecond: number, base: number) {
  let running = true;
  const timers = load.map((dev) =>
    setInterval(() => {
      if (!running) return;
      const i = dev.sent;
      const type = EVENTS[i % EVENTS.length] as string;
      const eventId = `${dev.id}-e${i}`;
      const ts = base + i;
      void sendEvent(dev, type === 'selftest' ? { eventId, type, ts, result: 'ok' } : { eventId, type, ts });
    }, 1000 / perSecond),
  );
  const beat = setInterval(() => {
    for (const dev of heartbeats)
      if (dev.client.connected) dev.client.publish(topic(dev.id, 'telemetry'), '{"battery":90}', { qos: 0 });
  }, 1000);
  return {
    ackedTotal: () => load.reduce((n, d) => n + d.acked.size, 0),
    /** End the event load and wait until everything sent was acknowledged. */
    async stopEvents(): Promise<void> {
      running = false;
      for (const t of timers) clearInterval(t);
      await waitFor(() => [...load, ...heartbeats].every((d) => d.acked.size === d.sent), {
        timeoutMs: 60_000,
        what: 'every published event acknowledged',
      });
    },
    /** End the heartbeats (devices then fall silent and go offline after their deadline). */
    stopHeartbeats(): void {
      clearInterval(beat);
    },
  };
}

export async function closeFleet(devices: SimDevice[]): Promise<void> {
  await Promise.all(devices.map((d) => d.client.endAsync()));
}
