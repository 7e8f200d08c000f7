import mqtt, { type MqttClient } from 'mqtt';
import type { Reply } from '../../clients/api.ts';
import type { HubApi } from './hub-api.ts';
import {
  ctwingDataReport,
  onenetBody,
  onenetDataPoint,
  publishUplink,
  randomDevEui,
  randomImei,
  randomOnenetId,
} from './platforms.ts';

export const INGRESS_KINDS = ['mqtt', 'onenet', 'ctwing', 'chirpstack'] as const;
export type IngressKind = (typeof INGRESS_KINDS)[number];

/** How a simulated device that does not dial the broker reaches the hub: through its platform. */
export interface PlatformLink {
  /** identity fields for its registration */
  identity: Record<string, string>;
  send(kind: 'event' | 'telemetry', payload: Record<string, unknown>): Promise<void>;
}

/**
 * Plays devices through the integrations (issue 20): makes one integration per platform for the
 * run (as an admin would), registers each device with a platform identity, and sends what the
 * device says the way the platform would — a signed OneNET push, a CTWing dataReport, a ChirpStack
 * uplink on the network server's broker (`chirpstackUrl`, e.g. a Mosquitto). A device model's JSON
 * payload travels as the platform's decoded payload (a thing-model product, a codec's `object`).
 */
export class IngressLinks {
  private readonly integrations = new Map<IngressKind, Promise<{ id: string; token: string; url: string }>>();
  private ns: MqttClient | undefined;
  private seq = 0;

  constructor(
    private readonly api: HubApi,
    private readonly run: string,
    private readonly models: string[],
    private readonly chirpstackUrl?: string,
  ) {}

  private integration(kind: Exclude<IngressKind, 'mqtt'>) {
    let i = this.integrations.get(kind);
    if (!i) {
      const application = `sim-${this.run}`;
      i = this.api
        .call<Reply<'/integrations/', 'post'>>('POST', '/api/v1/integrations', {
          id: `sim-${kind}-${this.run}`,
          kind,
          name: `simulator ${kind} ${this.run}`,
          models: this.models,
          ...(kind === 'chirpstack'
            ? { chirpstack: { url: this.chirpstackUrl, applicationId: application } }
            : {}),
        })
        .then((r) => ({ id: r.integration.id, token: r.token ?? '', url: r.pushUrl ?? application }));
      this.integrations.set(kind, i);
    }
    return i;
  }

  /** The link of one device; for ChirpStack, waits until the hub is connected to the broker. */
  async link(kind: Exclude<IngressKind, 'mqtt'>): Promise<PlatformLink> {
    const i = await this.integration(kind);
    const post = async (body: string) => {
      const res = await fetch(i.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      if (res.status !== 200) throw new Error(`${kind} push: ${res.status} ${await res.text()}`);
      const answer = (await res.json()) as { ok: boolean; refused: unknown[] };
      if (!answer.ok) throw new Error(`${kind} push refused: ${JSON.stringify(answer.refused)}`);
    };
    if (kind === 'onenet') {
      const devId = randomOnenetId();
      return {
        identity: { platformDeviceId: devId },
        send: (_k, payload) => post(onenetBody(i.token, onenetDataPoint(devId, 'gridhub', payload))),
      };
    }
    if (kind === 'ctwing') {
      const imei = randomImei();
      const deviceId = `sim${imei.slice(-8)}`;
      return {
        identity: { platformDeviceId: deviceId, imei },
        send: (_k, payload) =>
          post(JSON.stringify(ctwingDataReport({ deviceId, imei }, payload, ++this.seq))),
      };
    }
    if (!this.chirpstackUrl)
      throw new Error('a ChirpStack device needs --chirpstack URL (the network server’s broker)');
    await this.waitConnected(i.id);
    this.ns ??= await mqtt.connectAsync(this.chirpstackUrl, {
      clientId: `sim-ns-${this.run}`,
      reconnectPeriod: 0,
    });
    const ns = this.ns;
    const devEui = randomDevEui();
    return {
      identity: { devEui },
      send: (_k, payload) => publishUplink(ns, i.url, devEui, { object: payload, fCnt: ++this.seq }),
    };
  }

  private async waitConnected(id: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const v = await this.api.call<Reply<'/integrations/{id}', 'get'>>('GET', `/api/v1/integrations/${id}`);
      if (v.connection?.state === 'connected') return;
      if (Date.now() > deadline)
        throw new Error(`the hub did not connect to ChirpStack: ${JSON.stringify(v.connection)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    await this.ns?.endAsync(true);
    for (const i of this.integrations.values()) {
      const { id } = await i.catch(() => ({ id: '' }));
      if (id) await this.api.call('DELETE', `/api/v1/integrations/${id}`).catch(() => undefined);
    }
  }
}
