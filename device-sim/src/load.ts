import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { topicFor } from '../../hub/src/contract/topics.ts';

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
  lossPct: number;
  deliveredPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

const TS_DIGITS = 13;
const SEQ_DIGITS = 10;

/**
 * One device's publish packet encoded once, with fixed-width placeholders for the sequence number and
 * the send time patched in place per message: the generator does no JSON or MQTT encoding per message,
 * so it is not what limits the measured rate. `run` keeps event ids unique across runs (a hub rightly
 * discards a repeated id as a redelivery).
 */
class Template {
  private readonly packet: Buffer;
  private readonly seqAt: number;
  private readonly tsAt: number;

  constructor(
    deviceId: string,
    run: string,
    private readonly kind: 'event' | 'telemetry',
  ) {
    const ts = '0'.repeat(TS_DIGITS);
    const payload =
      kind === 'event'
        ? `{"eventId":"${deviceId}-${run}-${'0'.repeat(SEQ_DIGITS)}","type":"selftest","result":"ok","ts":${ts}}`
        : `{"battery":50,"ts":${ts}}`;
    this.packet = mqttPacket.generate({
      cmd: 'publish',
      topic: topicFor(kind, { deviceId }),
      payload,
      qos: 0,
      retain: false,
      dup: false,
    });
    const text = this.packet.toString('latin1');
    this.seqAt = text.indexOf(`-${'0'.repeat(SEQ_DIGITS)}"`) + 1;
    this.tsAt = text.lastIndexOf(ts);
  }

  make(seq: number, now: number): Buffer {
    const b = Buffer.from(this.packet);
    if (this.kind === 'event') b.write(String(seq).padStart(SEQ_DIGITS, '0'), this.seqAt, 'latin1');
    b.write(String(now).padStart(TS_DIGITS, '0'), this.tsAt, 'latin1');
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
    const user = o.subscribe.options?.username;
    subscriber = await mqtt.connectAsync(o.url, {
      reconnectPeriod: 0,
      // a gridhub staff client id is `<person id>:<suffix>`; other brokers accept it as well
      ...(user ? { clientId: `${user}:load-${randomBytes(3).toString('hex')}` } : {}),
      ...o.subscribe.options,
    });
    await subscriber.subscribeAsync(o.subscribe.topic, { qos: 0 });
    subscriber.on('message', (_topic, payload) => {
      received++;
      const m = /"(?:at|ts)":(\d{13})/.exec(payload.toString('latin1'));
      if (m) latencies.push(Date.now() - Number(m[1]));
    });
  }

  const run = randomBytes(3).toString('hex');
  const publishers: { client: MqttClient; template: Template }[] = [];
  for (const d of o.devices) {
    const client = await mqtt.connectAsync(o.url, {
      clientId: d.id,
      username: d.id,
      password: d.secret,
      reconnectPeriod: 0,
      keepalive: 60,
    });
    publishers.push({ client, template: new Template(d.id, run, o.kind ?? 'event') });
  }

  const total = Math.round(o.rate * o.seconds);
  let stopped = false;
  void o.until?.then(() => {
    stopped = true;
  });
  let sent = 0;
  let seq = 0;
  const started = Date.now();
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
        p.client.stream.write(p.template.make(seq++, Date.now()));
        sent++;
      }
      if (sent >= total || stopped) resolve();
      else setTimeout(tick, 10);
    };
    tick();
  });
  const sendSeconds = (Date.now() - started) / 1000;
  const drainUntil = Date.now() + (o.drainMs ?? 2000);
  while (subscriber && received < sent && Date.now() < drainUntil)
    await new Promise((r) => setTimeout(r, 20));
  await Promise.all([...publishers.map((p) => p.client.endAsync(true)), subscriber?.endAsync(true)]);
  latencies.sort((a, b) => a - b);
  return {
    rate: o.rate,
    sent,
    received,
    lossPct: !subscriber || sent === 0 ? 0 : Math.round(((sent - received) / sent) * 10_000) / 100,
    deliveredPerSec: Math.round(received / sendSeconds),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.length ? (latencies[latencies.length - 1] as number) : null,
  };
}
