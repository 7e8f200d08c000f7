import { randomBytes } from 'node:crypto';
import { type Socket, connect as tcpConnect } from 'node:net';
import { performance } from 'node:perf_hooks';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';

export interface LoadDevice {
  id: string;
  secret?: string;
}

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

// MQTT 3.1.1 packet types (section 2.2.1) and the two fixed packets a device sends besides publishes
const CONNACK = 2;
const PUBACK = 4;
const PINGREQ = Buffer.from([0xc0, 0x00]);
const DISCONNECT = Buffer.from([0xe0, 0x00]);

/**
 * One device on a bare TCP socket speaking just enough MQTT 3.1.1 for load: a pre-encoded CONNECT,
 * publishes written as pre-encoded packets, and a count of the CONNACK / PUBACK packets that come
 * back. It costs the generator a socket and a few hundred bytes, so one process can hold tens of
 * thousands of devices and the broker, not the client library, is what gets measured.
 */
export class RawDevice {
  acked = 0;
  private pending = Buffer.alloc(0);
  private connackTimer: NodeJS.Timeout | undefined;
  private readonly connected: Promise<void>;

  private constructor(
    readonly id: string,
    readonly socket: Socket,
  ) {
    this.connected = new Promise((resolve, reject) => {
      // a broker too busy to answer within a minute counts as a failed attempt
      this.connackTimer = setTimeout(
        () => socket.destroy(new Error(`${id}: no CONNACK within 60 s`)),
        60_000,
      );
      socket.once('close', () => clearTimeout(this.connackTimer));
      socket.once('error', reject);
      socket.once('close', () => reject(new Error(`${id}: connection closed before CONNACK`)));
      socket.on('data', (chunk: Buffer) => this.read(chunk, resolve, reject));
    });
    this.connected.catch(() => undefined);
  }

  static dial(
    url: URL,
    device: LoadDevice,
    o: { keepaliveS?: number; localAddress?: string } = {},
  ): RawDevice {
    const socket = tcpConnect({
      host: url.hostname,
      port: Number(url.port || 1883),
      noDelay: true,
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    });
    socket.on('error', () => undefined);
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        clientId: device.id,
        keepalive: o.keepaliveS ?? 300,
        ...(device.secret ? { username: device.id, password: Buffer.from(device.secret) } : {}),
      }),
    );
    return new RawDevice(device.id, socket);
  }

  /** Resolves on CONNACK 0; rejects on a refusal, an error or a close. */
  ready(): Promise<void> {
    return this.connected;
  }

  write(packet: Buffer): void {
    this.socket.write(packet);
  }

  ping(): void {
    this.socket.write(PINGREQ);
  }

  /** A clean goodbye: DISCONNECT (no last will), then close. */
  close(): void {
    this.socket.end(DISCONNECT);
  }

  /** Close as a device that loses power does: no DISCONNECT. */
  destroy(): void {
    this.socket.destroy();
  }

  private read(chunk: Buffer, resolve: () => void, reject: (e: Error) => void): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      // fixed header: type, then the remaining length as a variable-length integer (MQTT 2.2.3)
      let length = 0;
      let mul = 1;
      let at = 1;
      for (; at < buf.length && at < 5; at++) {
        const b = buf[at] as number;
        length += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) break;
      }
      if (at >= buf.length || buf.length < at + 1 + length) break;
      const type = (buf[0] as number) >> 4;
      if (type === CONNACK) {
        const code = buf[at + 2] as number;
        clearTimeout(this.connackTimer);
        if (code === 0) resolve();
        else reject(Object.assign(new Error(`${this.id}: CONNACK ${code}`), { code }));
      } else if (type === PUBACK) this.acked++;
      buf = buf.subarray(at + 1 + length);
    }
    this.pending = buf.length ? Buffer.from(buf) : Buffer.alloc(0);
  }
}

/**
 * Source addresses for `n` connections to a loopback broker: 127.0.0.1 while one address has
 * ephemeral ports enough (Linux offers about 28,000 by default), then 127.0.0.2, 127.0.0.3 …,
 * all of which are loopback on Linux.
 */
export function sourceAddress(i: number, n: number, host: string): string | undefined {
  if (host !== '127.0.0.1' || n <= 20_000) return undefined;
  return `127.0.0.${1 + (i % Math.ceil(n / 20_000))}`;
}

/**
 * Connect devices over raw sockets, `batch` at a time (all at once: a reconnect storm). A device
 * whose connection fails (reset, refused, timed out by a busy broker) dials again after a second,
 * as real devices do, up to `attempts` times; `onRetry` hears of each failure. Resolves when every
 * device has its CONNACK; rejects when one has used up its attempts or was refused by CONNACK.
 */
export async function dialDevices(
  url: string,
  devices: readonly LoadDevice[],
  o: { batch?: number; keepaliveS?: number; attempts?: number; onRetry?: (err: Error) => void } = {},
): Promise<RawDevice[]> {
  const u = new URL(url);
  const batch = o.batch ?? 500;
  const out: RawDevice[] = [];
  const dial = async (d: LoadDevice, i: number): Promise<RawDevice> => {
    for (let attempt = 1; ; attempt++) {
      const c = RawDevice.dial(u, d, {
        keepaliveS: o.keepaliveS,
        localAddress: sourceAddress(i, devices.length, u.hostname),
      });
      try {
        await c.ready();
        return c;
      } catch (err) {
        c.destroy();
        // a CONNACK refusal is an answer, not a failure to retry
        if (typeof (err as { code?: unknown }).code === 'number') throw err;
        if (attempt >= (o.attempts ?? 5)) throw err;
        o.onRetry?.(err as Error);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };
  try {
    for (let i = 0; i < devices.length; i += batch)
      out.push(...(await Promise.all(devices.slice(i, i + batch).map((d, j) => dial(d, i + j)))));
  } catch (err) {
    for (const d of out) d.destroy();
    throw err;
  }
  return out;
}

const TS_DIGITS = 13;
const SEQ_DIGITS = 10;

/**
 * One device's publish packet encoded once, with fixed-width placeholders for the sequence number and
 * the send time (and for QoS 1 the packet id) patched in place per message: the generator does no
 * JSON or MQTT encoding per message, so it is not what limits the measured rate. `run` keeps event
 * ids unique across runs (a hub rightly discards a repeated id as a redelivery).
 */
export class PublishTemplate {
  private readonly packet: Buffer;
  private readonly seqAt: number;
  private readonly tsAt: number;
  private readonly idAt: number;
  private packetId = 0;

  constructor(
    deviceId: string,
    run: string,
    private readonly kind: 'event' | 'telemetry',
    private readonly qos: 0 | 1,
  ) {
    const ts = '0'.repeat(TS_DIGITS);
    const topic = `gh/v1/dev/${deviceId}/${kind}`;
    const payload =
      kind === 'event'
        ? `{"eventId":"${deviceId}-${run}-${'0'.repeat(SEQ_DIGITS)}","type":"selftest","result":"ok","ts":${ts}}`
        : `{"battery":50,"ts":${ts}}`;
    this.packet = mqttPacket.generate({
      cmd: 'publish',
      topic,
      payload,
      qos,
      retain: false,
      dup: false,
      ...(qos === 1 ? { messageId: 1 } : {}),
    });
    const text = this.packet.toString('latin1');
    this.seqAt = text.indexOf(`-${'0'.repeat(SEQ_DIGITS)}"`) + 1;
    this.tsAt = text.lastIndexOf(ts);
    // the packet id follows the topic (MQTT 3.3.2): header, 2-byte topic length, topic
    this.idAt = text.indexOf(topic) + Buffer.byteLength(topic);
  }

  make(seq: number, now: number): Buffer {
    const b = Buffer.from(this.packet);
    if (this.kind === 'event') b.write(String(seq).padStart(SEQ_DIGITS, '0'), this.seqAt, 'latin1');
    b.write(String(now).padStart(TS_DIGITS, '0'), this.tsAt, 'latin1');
    if (this.qos === 1) {
      this.packetId = (this.packetId % 65_535) + 1;
      b.writeUInt16BE(this.packetId, this.idAt);
    }
    return b;
  }
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * N devices publishing at an aggregate rate for a duration, paced in 10 ms ticks; a subscriber takes
 * the send time out of each message it receives (`"ts":` in the payload, or `"at":` when a hub
 * republishes the normalised event) and records the end-to-end latency.
 */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let received = 0;
  let subscriber: MqttClient | undefined;
  if (o.subscribe) {
    subscriber = await connectMqtt(o.url, { reconnectPeriod: 0, ...o.subscribe.options });
    await subscriber.subscribeAsync(o.subscribe.topic, { qos: 0 });
    subscriber.on('message', (_topic, payload) => {
      received++;
      const m = /"(?:at|ts)":(\d{13})/.exec(payload.toString('latin1'));
      if (m) latencies.push(Date.now() - Number(m[1]));
    });
  }

  const run = randomBytes(3).toString('hex');
  const qos = o.qos ?? 0;
  const devices = o.connected ?? (await dialDevices(o.url, o.devices, { keepaliveS: 60 }));
  const ackedBefore = devices.map((d) => d.acked);
  const publishers = devices.map((client, i) => ({
    client,
    template: new PublishTemplate(o.devices[i]?.id as string, run, o.kind ?? 'event', qos),
  }));
  const pinger = setInterval(() => {
    for (const p of publishers) p.client.ping();
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
        o.progress(sent, received);
      }
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * o.rate));
      while (sent < due) {
        const p = publishers[sent % publishers.length] as (typeof publishers)[number];
        p.client.write(p.template.make(seq++, Date.now()));
        sent++;
      }
      if (sent >= total || stopped) resolve();
      else setTimeout(tick, 10);
    };
    tick();
  });
  const sendSeconds = (Date.now() - started) / 1000;
  const generatorBusy = Math.round(performance.eventLoopUtilization(elu).utilization * 100) / 100;
  const acked = () => publishers.reduce((n, p, i) => n + p.client.acked - (ackedBefore[i] ?? 0), 0);
  const drainUntil = Date.now() + (o.drainMs ?? 2000);
  while (((subscriber && received < sent) || (qos === 1 && acked() < sent)) && Date.now() < drainUntil)
    await new Promise((r) => setTimeout(r, 20));
  clearInterval(pinger);
  if (!o.connected) for (const p of publishers) p.client.close();
  if (subscriber) await closeMqtt(subscriber);
  latencies.sort((a, b) => a - b);
  return {
    rate: o.rate,
    sent,
    received,
    acked: qos === 1 ? acked() : 0,
    lossPct: !subscriber || sent === 0 ? 0 : Math.round(((sent - received) / sent) * 10_000) / 100,
    sentPerSec: Math.round(sent / sendSeconds),
    generatorBusy,
    deliveredPerSec: Math.round(received / sendSeconds),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.length ? (latencies[latencies.length - 1] as number) : null,
  };
}
