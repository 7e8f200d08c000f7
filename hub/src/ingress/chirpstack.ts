import type { IPublishPacket, MqttClient } from 'mqtt';
import type { Logger } from '../logger.ts';
import type { OutboundPolicy } from '../outbound/address-policy.ts';
import { guardedMqttClient, mqttUrlAsHttp } from '../outbound/guarded-mqtt.ts';
import type { IngressGate, PlatformMessage } from './ingress-gate.ts';
import type { ConnectionState } from './integration-schemas.ts';
import type { ActiveIntegration, ChirpstackSettings, IntegrationListener } from './integration-service.ts';
import { messageKey, platformTime, str } from './platform-common.ts';

/** ack: ChirpStack's word on a confirmed downlink (the device acknowledged it, or did not in time) */
const EVENTS = ['up', 'join', 'status', 'ack'] as const;

/**
 * A ChirpStack v4 uplink, join or status event (JSON marshaler) as a platform message. The devEui
 * names the device; `object` (the device profile's codec output) wins over `data` (the raw
 * FRMPayload, Base64); the deduplicationId names the uplink in every redelivery.
 */
export function chirpstackMessage(
  event: string,
  payload: Buffer,
  receivedAt: number,
): PlatformMessage | { error: string } {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
  } catch {
    return { error: 'not JSON (set the ChirpStack MQTT integration to the JSON marshaler)' };
  }
  const info = (o.deviceInfo ?? {}) as Record<string, unknown>;
  const devEui = str(info.devEui);
  if (!devEui) return { error: 'event without deviceInfo.devEui' };
  const at = platformTime(o.time, receivedAt);
  const base = {
    identities: [{ field: 'devEui' as const, value: devEui }],
    at,
    excerpt: payload.subarray(0, 300).toString('utf8'),
  };
  const dedup = str(o.deduplicationId) ?? `${str(o.fCnt) ?? ''}-${at}`;
  if (event === 'ack') {
    const item = str(o.queueItemId);
    if (!item) return { error: 'ack without queueItemId' };
    return {
      ...base,
      kind: 'command-result',
      messageId: messageKey('cs', dedup, 'ack', item),
      // A LoRaWAN ACK says the device received the downlink, not that it carried it out.
      command:
        o.acknowledged === true
          ? { platformId: item, outcome: 'delivered' }
          : {
              platformId: item,
              outcome: 'failed',
              detail: 'the device did not acknowledge the confirmed downlink',
            },
    };
  }
  if (event === 'join') return { ...base, kind: 'online', messageId: messageKey('cs', dedup) };
  if (event === 'status') {
    const level = o.batteryLevel;
    const json = typeof level === 'number' && o.batteryLevelUnavailable !== true ? { battery: level } : {};
    return { ...base, kind: 'data', messageId: messageKey('cs', dedup), json };
  }
  const rx = Array.isArray(o.rxInfo) ? (o.rxInfo as Record<string, unknown>[]) : [];
  const best = rx.reduce<Record<string, unknown> | undefined>(
    (b, r) => (typeof r.rssi === 'number' && (!b || (r.rssi as number) > (b.rssi as number)) ? r : b),
    undefined,
  );
  const extra = best && typeof best.rssi === 'number' ? { rssi: best.rssi } : undefined;
  const messageId = messageKey('cs', dedup);
  if (typeof o.object === 'object' && o.object !== null && !Array.isArray(o.object))
    return {
      ...base,
      kind: 'data',
      messageId,
      json: o.object as Record<string, unknown>,
      ...(extra ? { extra } : {}),
    };
  if (typeof o.data === 'string')
    return {
      ...base,
      kind: 'data',
      messageId,
      frame: { text: o.data, encoding: 'base64' },
      ...(extra ? { extra } : {}),
    };
  return { error: 'uplink without object or data' };
}

interface Connection {
  integration: ActiveIntegration;
  client: MqttClient;
  state: ConnectionState;
}

/**
 * The hub as a client of each ChirpStack integration's broker (mqtt.js): a persistent session
 * (cleanSession=false, QoS 1), so uplinks sent while the hub was away are delivered when it comes
 * back; each PUBACK waits until ingest has the message on disk, as for the hub's own devices.
 * Reconnects by itself; its state is in `/ready` and the console.
 */
export class ChirpstackClients implements IntegrationListener {
  private readonly connections = new Map<string, Connection>();
  /** integrations whose broker address outbound.allow refuses */
  private readonly refused = new Map<string, ConnectionState>();
  private started = false;

  constructor(
    private readonly gate: IngressGate,
    private readonly outbound: OutboundPolicy,
    private readonly reconnectMs: number,
    private readonly logger: Logger,
  ) {}

  connection(id: string): ConnectionState | null {
    return this.connections.get(id)?.state ?? this.refused.get(id) ?? null;
  }

  /** Every enabled ChirpStack integration connected? (the `/ready` check) */
  get allConnected(): boolean {
    return (
      this.refused.size === 0 && [...this.connections.values()].every((c) => c.state.state === 'connected')
    );
  }

  problems(): string[] {
    const line = (id: string, s: ConnectionState) =>
      `${id}: ${s.state} since ${s.since}${s.lastError ? `, ${s.lastError}` : ''}`;
    return [
      ...[...this.refused].map(([id, s]) => line(id, s)),
      ...[...this.connections.values()]
        .filter((c) => c.state.state !== 'connected')
        .map((c) => line(`${c.integration.id} (${c.integration.name})`, c.state)),
    ];
  }

  integrationChanged(id: string, now: ActiveIntegration | undefined): void {
    if (!this.started) return;
    void this.close(id).then(() => {
      if (now && now.kind === 'chirpstack' && now.enabled) return this.open(now);
    });
  }

  private setState(c: Connection, state: ConnectionState['state'], err?: Error): void {
    if (c.state.state !== state)
      this.logger.info({ integration: c.integration.id, state, err: err?.message }, 'ChirpStack connection');
    c.state = {
      state,
      since: c.state.state === state ? c.state.since : new Date().toISOString(),
      lastError: err ? err.message : c.state.lastError,
    };
  }

  private async open(integration: ActiveIntegration): Promise<void> {
    const s = integration.chirpstack;
    if (!s) return;
    const state: ConnectionState = { state: 'connecting', since: new Date().toISOString(), lastError: null };
    try {
      // The broker is the operator's; outbound.allow decides what the hub may reach, as for webhooks.
      await this.outbound.checkUrl(mqttUrlAsHttp(s.url));
    } catch (err) {
      this.logger.warn({ integration: integration.id, err }, 'ChirpStack broker address refused');
      this.refused.set(integration.id, {
        state: 'stopped',
        since: state.since,
        lastError: `GH_ERR_OUTBOUND_FORBIDDEN: ${(err as Error).message}`,
      });
      return;
    }
    if (!this.started) return;
    // Every socket (also each reconnect) goes through the outbound policy, after DNS.
    const client = guardedMqttClient(this.outbound, s.url, {
      clientId: s.clientId ?? `gridhub-${integration.id}`,
      username: s.username,
      password: integration.password ?? undefined,
      clean: false,
      reconnectPeriod: this.reconnectMs,
      connectTimeout: 10_000,
      protocolVersion: 4,
      manualConnect: true,
    });
    const c: Connection = { integration, client, state };
    this.connections.set(integration.id, c);
    const filters = EVENTS.map((e) => `application/${s.applicationId}/device/+/event/${e}`);
    client.on('connect', () => {
      this.setState(c, 'connected');
      // Subscribed on every connect: a broker may have lost the session, and a session made by an
      // older hub lacks the ack filter (subscribing again to a filter it has is harmless).
      client.subscribe(filters, { qos: 1 }, (err) => {
        if (err) this.setState(c, 'reconnecting', err);
      });
    });
    client.on('reconnect', () => this.setState(c, 'reconnecting'));
    client.on('close', () => {
      if (c.state.state === 'connected') this.setState(c, 'reconnecting');
    });
    client.on('error', (err) =>
      this.setState(c, c.state.state === 'connected' ? 'connected' : 'reconnecting', err),
    );
    client.handleMessage = (packet: IPublishPacket, done) => this.uplink(c, packet, done);
    client.connect();
  }

  private uplink(c: Connection, packet: IPublishPacket, done: (err?: Error) => void): void {
    const event = packet.topic.split('/').pop() ?? '';
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const m = chirpstackMessage(event, payload, Date.now());
    if ('error' in m) {
      this.gate.malformed(c.integration, m.error);
      return done();
    }
    // Drop the connection on a failure; mqtt.js reconnects and the broker redelivers the session's messages.
    const drop = () => c.client.stream.destroy();
    this.gate.handle(c.integration, m).then((out) => {
      if (!out.ok) return done();
      // No PUBACK until it is durable; a storage failure leaves it with ChirpStack's broker.
      out.durable.then(() => done(), drop);
    }, drop);
  }

  /**
   * Enqueue a downlink through the network server's MQTT integration
   * (`application/<id>/device/<devEui>/command/down`, a DeviceQueueItem as JSON). The hub names the
   * queue item, so the ack event that follows (`queueItemId`) finds the command again. Resolves
   * when the network server's broker acknowledged the publish (QoS 1).
   */
  async downlink(integrationId: string, devEui: string, item: Record<string, unknown>): Promise<void> {
    const c = this.connections.get(integrationId);
    if (c?.state.state !== 'connected')
      throw new Error(`not connected to the ChirpStack broker of '${integrationId}'`);
    const s = c.integration.chirpstack as ChirpstackSettings;
    await c.client.publishAsync(
      `application/${s.applicationId}/device/${devEui}/command/down`,
      JSON.stringify({ devEui, ...item }),
      { qos: 1 },
    );
  }

  private async close(id: string): Promise<void> {
    this.refused.delete(id);
    const c = this.connections.get(id);
    if (!c) return;
    this.connections.delete(id);
    await c.client.endAsync(true).catch(() => undefined);
  }

  start(integrations: ActiveIntegration[]): void {
    this.started = true;
    for (const i of integrations) if (i.kind === 'chirpstack' && i.enabled) void this.open(i);
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.connections.keys()].map((id) => this.close(id)));
  }
}
