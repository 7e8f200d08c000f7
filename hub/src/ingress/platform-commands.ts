import { createHmac, randomUUID } from 'node:crypto';
import { CarrierRefused, type CommandCarrier } from '../commands/command-carrier.ts';
import type { CommandPayload, CommandType } from '../contract/payloads.ts';
import type { ModelCatalogue } from '../devices/models/index.ts';
import type { OutboundPolicy } from '../outbound/address-policy.ts';
import type { Store } from '../store/store.ts';
import type { ChirpstackClients } from './chirpstack.ts';
import type { IngressGate } from './ingress-gate.ts';
import { commandsReady } from './integration-checks.ts';
import type { ActiveIntegration } from './integration-service.ts';
import { type PlatformAnswer, platformPost } from './platform-http.ts';

export const CTWING_API = 'https://ag-api.ctwing.cn';
export const ONENET_API = 'https://api.heclouds.com';
/** The AEP command API's version header (创建指令 CreateCommand). */
export const CTWING_COMMAND_VERSION = '20190712225145';
const TIMEOUT_MS = 10_000;
/** CTWing keeps a command at most 10 days; OneNET /cmds at most 31 days. */
const CTWING_MAX_TTL = 864_000;
const ONENET_MAX_TTL = 2_678_400;

/**
 * CTWing AEP's signature: Base64(HMAC-SHA1(appSecret, "application:<appKey>\n" +
 * "timestamp:<ms>\n" + "<name>:<value>\n" for each signed parameter in name order (MasterKey and
 * the query's) + the body + "\n" when there is one)), sent as the `signature` header.
 */
export function ctwingSignature(
  appSecret: string,
  appKey: string,
  timestamp: string,
  params: Record<string, string>,
  body: string,
): string {
  let text = `application:${appKey}\ntimestamp:${timestamp}\n`;
  for (const name of Object.keys(params).sort()) text += `${name}:${params[name]}\n`;
  if (body.length > 0) text += `${body}\n`;
  return createHmac('sha1', appSecret).update(text, 'utf8').digest('base64');
}

const ttlOf = (p: CommandPayload, now: number, max: number) =>
  Math.min(max, Math.max(1, Math.ceil(((p.expiresAt ?? now + 3_600_000) - now) / 1000)));

/** What a device gets: its model's command frame (hex), or the hub's command JSON. */
type Content = { frame: string } | { json: CommandPayload };

interface DeviceIds {
  platformDeviceId: string | null;
  devEui: string | null;
  imei: string | null;
}

/**
 * The hub's commands through the platforms (the command service's CommandCarrier): CTWing AEP's
 * CreateCommand, OneNET's /cmds, and a ChirpStack downlink on the network server's MQTT
 * integration. A device's commands go through the integration that last delivered a message of it,
 * or — before it has reported since the hub started — the one integration carrying its model that
 * can name it; with several such integrations the command is refused rather than guessed.
 */
export class PlatformCarrier implements CommandCarrier {
  constructor(
    /** undefined until ingress has started */
    private readonly integrations: () =>
      | { find(id: string): ActiveIntegration | undefined; list(): ActiveIntegration[] }
      | undefined,
    private readonly gate: IngressGate,
    private readonly chirpstack: ChirpstackClients,
    private readonly models: ModelCatalogue,
    private readonly store: Store,
    private readonly outbound: OutboundPolicy,
    readonly retryMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private async ids(deviceId: string): Promise<DeviceIds | undefined> {
    return this.store.db
      .selectFrom('devices')
      .select(['platform_device_id as platformDeviceId', 'dev_eui as devEui', 'imei'])
      .where('id', '=', deviceId)
      .executeTakeFirst();
  }

  /** The platform's id of the device: registered, or named by its last message through a platform. */
  private platformIdOf(deviceId: string, ids: DeviceIds): string | undefined {
    return ids.platformDeviceId ?? this.gate.heardVia(deviceId)?.platformDeviceId;
  }

  async route(device: { id: string; modelId: string }, type: CommandType) {
    const ids = await this.ids(device.id);
    if (!ids || (!ids.platformDeviceId && !ids.devEui && !ids.imei)) return undefined;
    const fits = (i: ActiveIntegration | undefined): i is ActiveIntegration =>
      !!i &&
      i.enabled &&
      i.models.has(device.modelId) &&
      (i.kind === 'chirpstack' ? !!ids.devEui : !ids.devEui);
    const all = this.integrations();
    if (!all) return undefined;
    const heard = all.find(this.gate.heardVia(device.id)?.integrationId ?? '');
    const candidates = fits(heard) ? [heard] : all.list().filter(fits);
    const i = candidates[0];
    if (!i) return undefined;
    if (candidates.length > 1)
      return {
        refused: `integrations ${candidates.map((c) => `'${c.id}'`).join(', ')} all carry model '${device.modelId}' and the device has not reported since the hub started; wait for its next report`,
      };
    if (!commandsReady(i))
      return {
        refused: `integration '${i.id}' (${i.kind}) has no command API set (commandApi, commandSecrets)`,
      };
    if (i.kind !== 'chirpstack' && !this.platformIdOf(device.id, ids))
      return {
        refused: `device '${device.id}' has no platformDeviceId, which ${i.kind}'s command API needs: register it, or wait for the device's next report`,
      };
    const model = this.models.find(device.modelId);
    // ChirpStack's device-profile codec encodes an object; the carriers pass a transparent
    // product's bytes as they are, so a binary device takes only the commands it has a frame for.
    if (i.kind !== 'chirpstack' && model?.frame && !model.commandFrames?.[type]) {
      const takes = Object.keys(model.commandFrames ?? {}).join(', ') || 'none';
      return { refused: `over ${i.kind}, model '${model.id}' takes ${takes}; '${type}' only over MQTT` };
    }
    return { integrationId: i.id };
  }

  async send(
    integrationId: string,
    device: { id: string; modelId: string },
    payload: CommandPayload,
  ): Promise<string> {
    const all = this.integrations();
    if (!all) throw new Error('ingress is not started yet');
    const i = all.find(integrationId);
    if (!i?.enabled) throw new CarrierRefused(`integration '${integrationId}' is gone or disabled`);
    const ids = await this.ids(device.id);
    if (!ids) throw new CarrierRefused(`device '${device.id}' is gone`);
    const model = this.models.find(device.modelId);
    const frame = model?.commandFrames?.[payload.type];
    if (i.kind !== 'chirpstack' && model?.frame && !frame)
      throw new CarrierRefused(`model '${model.id}' has no frame for '${payload.type}'`);
    const content: Content = frame ? { frame } : { json: payload };
    if (i.kind === 'chirpstack') return this.downlink(i, ids.devEui ?? '', content);
    const platformId = this.platformIdOf(device.id, ids);
    if (!platformId) throw new CarrierRefused(`device '${device.id}' has no platformDeviceId`);
    return i.kind === 'ctwing'
      ? this.ctwing(i, platformId, payload, content)
      : this.onenet(i, platformId, payload, content);
  }

  private async ctwing(i: ActiveIntegration, deviceId: string, p: CommandPayload, content: Content) {
    const api = i.commandApi ?? {};
    const { appSecret = '', masterKey = '' } = i.commandSecrets;
    const productId = api.productId ?? '';
    const body = JSON.stringify({
      // transparent products take the frame as hex (dataType 2); thing-model products a service call
      content:
        'frame' in content
          ? { dataType: 2, payload: content.frame }
          : { serviceIdentifier: p.type, params: p.type === 'configure' ? p.settings : {} },
      deviceId,
      operator: api.operator ?? 'gridhub',
      productId: /^\d+$/.test(productId) ? Number(productId) : productId,
      ttl: ttlOf(p, this.now(), CTWING_MAX_TTL),
      level: 1,
    });
    const timestamp = String(this.now());
    const answer = await platformPost(
      this.outbound,
      `${(api.url ?? CTWING_API).replace(/\/$/, '')}/aep_device_command/command`,
      {
        'content-type': 'application/json; charset=UTF-8',
        application: api.appKey ?? '',
        timestamp,
        version: CTWING_COMMAND_VERSION,
        MasterKey: masterKey,
        date: new Date(Number(timestamp)).toUTCString(),
        signature: ctwingSignature(appSecret, api.appKey ?? '', timestamp, { MasterKey: masterKey }, body),
      },
      body,
      TIMEOUT_MS,
    );
    const result = answer.json?.result as Record<string, unknown> | undefined;
    const id = result?.commandId;
    if (answer.json?.code === 0 && (typeof id === 'string' || typeof id === 'number')) return String(id);
    throw refusal('CTWing', answer, answer.json?.code, answer.json?.msg);
  }

  private async onenet(i: ActiveIntegration, deviceId: string, p: CommandPayload, content: Content) {
    const base = (i.commandApi?.url ?? ONENET_API).replace(/\/$/, '');
    const query = new URLSearchParams({
      device_id: deviceId,
      qos: '1',
      timeout: String(ttlOf(p, this.now(), ONENET_MAX_TTL)),
    });
    const frame = 'frame' in content;
    const answer = await platformPost(
      this.outbound,
      `${base}/cmds?${query}`,
      {
        'api-key': i.commandSecrets.apiKey ?? '',
        'content-type': frame ? 'application/octet-stream' : 'application/json',
      },
      'frame' in content ? Buffer.from(content.frame, 'hex') : JSON.stringify(content.json),
      TIMEOUT_MS,
    );
    const data = answer.json?.data as Record<string, unknown> | undefined;
    if (answer.json?.errno === 0 && typeof data?.cmd_uuid === 'string') return data.cmd_uuid;
    throw refusal('OneNET', answer, answer.json?.errno, answer.json?.error);
  }

  private async downlink(i: ActiveIntegration, devEui: string, content: Content): Promise<string> {
    if (!devEui) throw new CarrierRefused('the device has no devEui');
    const id = randomUUID();
    await this.chirpstack.downlink(i.id, devEui, {
      id,
      confirmed: true,
      fPort: i.commandApi?.fPort ?? 10,
      // a command frame as the FRMPayload; otherwise the device profile's codec encodes the object
      ...('frame' in content
        ? { data: Buffer.from(content.frame, 'hex').toString('base64') }
        : { object: content.json }),
    });
    return id;
  }
}

/** A platform's no: for good when it answered (4xx, an error code), worth retrying when it failed (5xx). */
function refusal(platform: string, a: PlatformAnswer, code: unknown, msg: unknown): Error {
  const text = `${platform} did not take the command: HTTP ${a.status}${code !== undefined ? `, code ${String(code).slice(0, 20)}` : ''}${typeof msg === 'string' ? `, ${msg.slice(0, 120)}` : ''}`;
  return a.status >= 500 || a.status === 429 ? new Error(text) : new CarrierRefused(text);
}
