import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { dialDevices, type LoadDevice, PublishTemplate, type RawDevice, sentAt } from './raw-mqtt.ts';

export type { LoadDevice } from './raw-mqtt.ts';

export interface LoadOptions {
  url: string;
  devices: readonly LoadDevice[];
  /** aggregate messages per second over all devices */
  rate: number;
  seconds: number;
  /** where the subscriber listens, and with which credentials (none: only publish, e.g. background load) */
  subscribe?: { topic: string; options?: IClientOptions };
  /** an event (the default; dedupe and rules run for it) or a telemetry reading */
  kind?: 'event' | 'telemetry';
  /** the devices' connections, already open and left open (default: connect them, close them after) */
  connected?: readonly RawDevice[];
  /** QoS of the publishes (default 0); with 1 the PUBACKs are counted */
  qos?: 0 | 1;
  /** stop before `seconds` are up when this resolves (background load) */
  until?: Promise<void>;
  /** how long to keep listening after the last message for stragglers */
  drainMs?: number;
  /** called about once a second while sending */
  progress?: (sent: number, received: number) => void;
}

export interface LoadResult {
  rate: number;
  sent: number;
  received: number;
  /** PUBACKs received (QoS 1 only; 0 otherwise) */
  acked: number;
  lossPct: number;
  /** the rate the generator really sent at (below `rate` when it ran out of CPU) */
  sentPerSec: number;
  /** share of the time this process's event loop was busy while sending (near 1: the generator is the limit) */
  generatorBusy: number;
  deliveredPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/**
 * mqtt.js with TCP_NODELAY on its socket (also after a reconnect). mqtt.js has no option for it, and
 * without it Nagle's algorithm holds a small packet back until the previous one is acknowledged,
 * which the peer's delayed ACK stretches to ≈40 ms.
 */
export async function connectMqtt(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, options);
  const noDelay = () => (client.stream as Partial<Socket>).setNoDelay?.(true);
  noDelay();
  client.on('connect', noDelay);
  return client;
}

/**
 * Close an mqtt.js client without waiting on a broker that has gone away (mqtt.js's end() may then
 * never call back, and a promise nobody settles lets the process exit mid-run).
 */
export async function closeMqtt(client: MqttClient): Promise<void> {
  await Promise.race([client.endAsync(true), new Promise((r) => setTimeout(r, 2000).unref())]);
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** A bare-socket subscriber (QoS 0) that records each message's end-to-end latency. */
async function subscribe(
  url: string,
  s: NonNullable<LoadOptions['subscribe']>,
  run: string,
  latencies: number[],
): Promise<RawDevice> {
  const { username, password } = s.options ?? {};
  const [client] = await dialDevices(
    url,
    // a gridhub staff client id is `<person id>:<suffix>`; other brokers accept it as well
    [
      {
        id: username ? `${username}:load-${run}` : `load-subscriber-${run}`,
        ...(password ? { secret: String(password) } : {}),
      },
    ],
    { ...(username ? { username } : {}) },
  );
  if (!client) throw new Error('no subscriber');
  client.onPublish = (packet) => {
    const t = sentAt(packet);
    if (t !== null) latencies.push(Date.now() - t);
  };
  await client.subscribe(s.topic);
  return client;
}

/**
 * N devices publishing at an aggregate rate for a duration, paced in 10 ms ticks (each device's
 * messages of one tick go out in one write); a subscriber takes the send time out of each message
 * it receives (`"ts":` in the payload, or `"at":` when a hub republishes the normalised event) and
 * records the end-to-end latency.
 */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const run = randomBytes(3).toString('hex');
  const subscriber = o.subscribe ? await subscribe(o.url, o.subscribe, run, latencies) : undefined;
  const received = () => subscriber?.received ?? 0;

  const qos = o.qos ?? 0;
  const devices = o.connected ?? (await dialDevices(o.url, o.devices, { keepaliveS: 60 }));
  const ackedBefore = devices.map((d) => d.acked);
  const publishers = devices.map((client, i) => ({
    client,
    template: new PublishTemplate(o.devices[i]?.id as string, run, o.kind ?? 'event', qos),
  }));
  const pinger = setInterval(() => {
    for (const p of publishers) p.client.ping();
    subscriber?.ping();
  }, 30_000);

  const total = Math.round(o.rate * o.seconds);
  let stopped = false;
  void o.until?.then(() => {
    stopped = true;
  });
  let sent = 0;
  let seq = 0;
  const started = Date.now();
  const elu = performance.eventLoopUtilization();
  let reported = started;
  await new Promise<void>((resolve) => {
    const tick = () => {
      if (o.progress && Date.now() - reported >= 1000) {
        reported = Date.now();
        o.progress(sent, received());
      }
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * o.rate));
      const corked = new Set<Socket>();
      while (sent < due) {
        const p = publishers[sent % publishers.length] as (typeof publishers)[number];
        if (!corked.has(p.client.socket)) {
          p.client.socket.cork();
          corked.add(p.client.socket);
        }
        p.client.write(p.template.make(seq++, Date.now()));
        sent++;
      }
      for (const socket of corked) socket.uncork();
      if (sent >= total || stopped) resolve();
      else setTimeout(tick, 10);
    };
    tick();
  });
  const sendSeconds = (Date.now() - started) / 1000;
  const generatorBusy = Math.round(performance.eventLoopUtilization(elu).utilization * 100) / 100;
  const acked = () => publishers.reduce((n, p, i) => n + p.client.acked - (ackedBefore[i] ?? 0), 0);
  const drainUntil = Date.now() + (o.drainMs ?? 2000);
  while (((subscriber && received() < sent) || (qos === 1 && acked() < sent)) && Date.now() < drainUntil)
    await new Promise((r) => setTimeout(r, 20));
  clearInterval(pinger);
  if (!o.connected) for (const p of publishers) p.client.close();
  subscriber?.close();
  latencies.sort((a, b) => a - b);
  return {
    rate: o.rate,
    sent,
    received: received(),
    acked: qos === 1 ? acked() : 0,
    lossPct: !subscriber || sent === 0 ? 0 : Math.round(((sent - received()) / sent) * 10_000) / 100,
    sentPerSec: Math.round(sent / sendSeconds),
    generatorBusy,
    deliveredPerSec: Math.round(received() / sendSeconds),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.length ? (latencies[latencies.length - 1] as number) : null,
  };
}
