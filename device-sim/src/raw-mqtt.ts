/**
 * Just enough MQTT 3.1.1 over bare TCP sockets for load: pre-encoded packets out, a minimal reader
 * in (CONNACK, SUBACK, PUBACK, PUBLISH counted; nothing else decoded). A device costs the generator a
 * socket and a few hundred bytes, so one process can hold tens of thousands of them, and a
 * subscriber costs it a header scan per message: the broker, not the client library, is measured.
 */
import { type Socket, connect as tcpConnect } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { topicFor } from '../../hub/src/contract/topics.ts';

export interface LoadDevice {
  id: string;
  secret?: string;
}

// MQTT 3.1.1 packet types (section 2.2.1) and the fixed packets a client sends besides publishes
const CONNACK = 2;
const PUBLISH = 3;
const PUBACK = 4;
const SUBACK = 9;
const PINGREQ = Buffer.from([0xc0, 0x00]);
const DISCONNECT = Buffer.from([0xe0, 0x00]);

export class RawDevice {
  /** PUBACKs received */
  acked = 0;
  /** PUBLISH packets received (a subscriber's messages) */
  received = 0;
  /** called with each received PUBLISH packet (the whole packet, header included) */
  onPublish: ((packet: Buffer) => void) | undefined;
  private pending = Buffer.alloc(0);
  private connackTimer: NodeJS.Timeout | undefined;
  private readonly connected: Promise<void>;
  private subacked: (() => void) | undefined;

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

  /** Dial and send CONNECT (clean session); the user name is the device id unless given. */
  static dial(
    url: URL,
    device: LoadDevice,
    o: { keepaliveS?: number; localAddress?: string; username?: string } = {},
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
        ...(device.secret ? { username: o.username ?? device.id, password: Buffer.from(device.secret) } : {}),
      }),
    );
    return new RawDevice(device.id, socket);
  }

  /** Resolves on CONNACK 0; rejects on a refusal (the error's `code` is the return code), an error or a close. */
  ready(): Promise<void> {
    return this.connected;
  }

  /** Subscribe at QoS 0; resolves on the SUBACK (a refusal shows as messages that never come). */
  subscribe(filter: string): Promise<void> {
    const acked = new Promise<void>((r) => {
      this.subacked = r;
    });
    this.socket.write(
      mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] }),
    );
    return acked;
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
      const end = at + 1 + length;
      if (at >= buf.length || buf.length < end) break;
      const type = (buf[0] as number) >> 4;
      if (type === PUBLISH) {
        this.received++;
        this.onPublish?.(buf.subarray(0, end));
      } else if (type === PUBACK) this.acked++;
      else if (type === SUBACK) this.subacked?.();
      else if (type === CONNACK) {
        const code = buf[at + 2] as number;
        clearTimeout(this.connackTimer);
        if (code === 0) resolve();
        else reject(Object.assign(new Error(`${this.id}: CONNACK ${code}`), { code }));
      }
      buf = buf.subarray(end);
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
 * Connect devices over raw sockets, at most `inFlight` connects under way at once (a device that
 * has its CONNACK makes room for the next). A device whose connection fails (reset, refused, timed
 * out by a busy broker) dials again after a second, as real devices do, up to `attempts` times;
 * `onRetry` hears of each failure. Resolves when every device has its CONNACK; rejects when one has
 * used up its attempts or was refused by CONNACK.
 */
export async function dialDevices(
  url: string,
  devices: readonly LoadDevice[],
  o: {
    inFlight?: number;
    keepaliveS?: number;
    attempts?: number;
    onRetry?: (err: Error) => void;
    /** instead of each device's id (a staff client signs in as a person) */
    username?: string;
  } = {},
): Promise<RawDevice[]> {
  const u = new URL(url);
  const out: RawDevice[] = new Array(devices.length);
  const dial = async (i: number): Promise<void> => {
    const d = devices[i] as LoadDevice;
    for (let attempt = 1; ; attempt++) {
      const c = RawDevice.dial(u, d, {
        keepaliveS: o.keepaliveS,
        localAddress: sourceAddress(i, devices.length, u.hostname),
        ...(o.username ? { username: o.username } : {}),
      });
      try {
        await c.ready();
        out[i] = c;
        return;
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
  let next = 0;
  const worker = async () => {
    while (next < devices.length) await dial(next++);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.inFlight ?? 500, devices.length) }, worker));
  } catch (err) {
    for (const d of out) d?.destroy();
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
    const topic = topicFor(kind, { deviceId });
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

/**
 * The send time a message carries: the first `"at":` (a hub's normalised event) or `"ts":` (the
 * device's own payload) followed by 13 digits of epoch ms; null when there is none.
 */
export function sentAt(packet: Buffer): number | null {
  const at = packet.indexOf('"at":');
  const ts = packet.indexOf('"ts":');
  const i = at < 0 ? ts : ts < 0 ? at : Math.min(at, ts);
  if (i < 0) return null;
  const v = Number(packet.toString('latin1', i + 5, i + 5 + TS_DIGITS));
  return Number.isInteger(v) && v > 1e12 ? v : null;
}
