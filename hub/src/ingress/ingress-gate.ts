import type { KnownDevice } from '../broker/device-directory.ts';
import type { PlatformCommandResult } from '../commands/command-carrier.ts';
import type { IdentityField } from '../devices/identities.ts';
import { applyMapping, type Decoded, decodeFrame, frameBytes } from '../devices/models/frame.ts';
import type { ModelCatalogue } from '../devices/models/index.ts';
import type { ErrorCode } from '../errors.ts';
import { CommissioningLog } from '../ingest/commissioning.ts';
import type { Ingest } from '../ingest/ingest.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { IdentityDirectory } from './identity-directory.ts';
import type { IntegrationKind } from './integration-schemas.ts';
import type { IntegrationStore } from './integration-store.ts';

/** What one platform message says, whatever the platform (OneNET, CTWing, ChirpStack). */
export interface PlatformMessage {
  /** identities to try, most specific first (the platform's device id, then the IMEI) */
  identities: { field: IdentityField; value: string }[];
  /**
   * announced: the platform says the device was added to it (listed as unmatched until registered);
   * removed: the platform deleted it (it will send nothing more)
   */
  kind: 'data' | 'online' | 'offline' | 'command-result' | 'announced' | 'removed' | 'ignored';
  /** the platform's time of the message, epoch ms */
  at: number;
  /** the platform's identity of this message (stable across its retries): the event id */
  messageId: string;
  /** raw device bytes as the platform gives them */
  frame?: { text: string; encoding: 'hex' | 'base64' };
  /** vendor JSON (decoded payload, data stream) */
  json?: Record<string, unknown>;
  /** transport readings merged into telemetry (LoRaWAN rssi/snr of the best gateway) */
  extra?: Record<string, number>;
  command?: PlatformCommandResult;
  /** the message as the platform sent it, for the commissioning view and the unmatched list */
  excerpt: string;
}

/** The integration as the gate needs it. */
export interface GateIntegration {
  id: string;
  kind: IntegrationKind;
  models: ReadonlySet<string>;
}

export type GateOutcome =
  | { ok: true; duplicate: boolean; durable: Promise<void> }
  | { ok: false; code: ErrorCode; reason: string; identity?: string };

/** Answers from devices to commands that a platform carried (OneNET type 7, CTWing commandResponse). */
export interface PlatformCommandSink {
  platformResult(device: KnownDevice, result: PlatformCommandResult, integrationId: string): Promise<void>;
}

export interface IngressCounts {
  accepted: number;
  duplicates: number;
  refused: number;
  unmatched: number;
}

const DONE: Promise<void> = Promise.resolve();

/**
 * Where platform messages enter the same ingest step as MQTT (DESIGN.md): the device is found by
 * its platform identity, its model must be one the integration carries, its frame or vendor JSON
 * becomes the model's payload, and `ingest.handle` does the rest (schema, normalisation, dedupe by
 * the platform's message id, journal, rules). The topic `ingress/<id>` and client id
 * `integration:<id>` show in the commissioning view where a message came from.
 */
export class IngressGate {
  private readonly counts = new Map<string, IngressCounts>();
  /**
   * device → the integration that last delivered a message of it (where its commands go) and the
   * platform's id of it in that message (a device registered by IMEI alone still gets commands)
   */
  private readonly heard = new Map<string, { integrationId: string; platformDeviceId?: string }>();
  commands: PlatformCommandSink | undefined;

  constructor(
    private readonly ingest: Ingest,
    private readonly identities: IdentityDirectory,
    private readonly models: ModelCatalogue,
    private readonly integrations: IntegrationStore,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  countsOf(integrationId: string): IngressCounts {
    let c = this.counts.get(integrationId);
    if (!c) {
      c = { accepted: 0, duplicates: 0, refused: 0, unmatched: 0 };
      this.counts.set(integrationId, c);
    }
    return c;
  }

  async handle(
    integration: GateIntegration,
    m: PlatformMessage,
    receivedAt = Date.now(),
  ): Promise<GateOutcome> {
    const out = await this.route(integration, m, receivedAt);
    const c = this.countsOf(integration.id);
    const outcome = out.ok ? (out.duplicate ? 'duplicate' : 'accepted') : out.code;
    if (out.ok) out.duplicate ? c.duplicates++ : c.accepted++;
    else if (out.code === 'GH_ERR_INGRESS_IDENTITY_UNKNOWN') c.unmatched++;
    else c.refused++;
    this.metrics.ingressMessages.inc({ integration: integration.id, kind: integration.kind, outcome });
    if (!out.ok) this.metrics.errors.inc({ code: out.code, source: 'ingress' });
    return out;
  }

  /** The integration that last delivered a message of this device since the hub started. */
  heardVia(deviceId: string): { integrationId: string; platformDeviceId?: string } | undefined {
    return this.heard.get(deviceId);
  }

  /** A message refused before it names a device (not the platform's format). */
  malformed(integration: GateIntegration, reason: string): void {
    this.countsOf(integration.id).refused++;
    this.metrics.ingressMessages.inc({
      integration: integration.id,
      kind: integration.kind,
      outcome: 'GH_ERR_INGRESS_MALFORMED',
    });
    this.metrics.errors.inc({ code: 'GH_ERR_INGRESS_MALFORMED', source: 'ingress' });
    this.ingest.logLimited(
      `${integration.id}:malformed`,
      { integration: integration.id, code: 'GH_ERR_INGRESS_MALFORMED', reason },
      'platform message refused',
    );
  }

  private async route(
    integration: GateIntegration,
    m: PlatformMessage,
    receivedAt: number,
  ): Promise<GateOutcome> {
    if (m.kind === 'ignored') return { ok: true, duplicate: false, durable: DONE };
    const device = await this.find(m);
    const topic = `ingress/${integration.id}`;
    if (m.kind === 'announced' || m.kind === 'removed')
      return this.lifecycle(integration, m, device, topic, receivedAt);
    if (!device) return this.unmatched(integration, m);
    const refuse = (code: ErrorCode, reason: string): GateOutcome => {
      this.ingest.commissioning.record(device.deviceId, 'rejected', {
        at: new Date(receivedAt).toISOString(),
        topic,
        what: m.kind,
        code,
        reason,
        excerpt: m.excerpt,
      });
      this.ingest.logLimited(
        `${device.deviceId}:${code}`,
        { deviceId: device.deviceId, integration: integration.id, code, reason },
        'platform message refused',
      );
      return { ok: false, code, reason };
    };
    if (device.status === 'decommissioned')
      return refuse('GH_ERR_DEVICE_DECOMMISSIONED', `device '${device.deviceId}' is decommissioned`);
    if (!integration.models.has(device.modelId))
      return refuse(
        'GH_ERR_INGRESS_MODEL_NOT_CARRIED',
        `integration '${integration.id}' does not carry model '${device.modelId}'`,
      );
    const platformDeviceId = m.identities.find((i) => i.field === 'platformDeviceId')?.value;
    this.heard.set(device.deviceId, {
      integrationId: integration.id,
      ...(platformDeviceId ? { platformDeviceId } : {}),
    });
    const client = `integration:${integration.id}`;
    const send = (kind: 'event' | 'telemetry' | 'status', body: Record<string, unknown>): GateOutcome => {
      const out = this.ingest.handle(
        device,
        kind,
        topic,
        Buffer.from(JSON.stringify(body)),
        client,
        1,
        receivedAt,
      );
      return out.ok ? out : { ok: false, code: out.code, reason: out.reason };
    };
    switch (m.kind) {
      case 'online':
      case 'offline':
        // A platform's offline notice is the device's last will as far as presence goes.
        return send('status', { state: m.kind, ts: m.at });
      case 'command-result': {
        const result = m.command;
        if (!result) return refuse('GH_ERR_INGRESS_MALFORMED', 'command result without a command id');
        this.ingest.commissioning.record(device.deviceId, 'accepted', {
          at: new Date(receivedAt).toISOString(),
          topic,
          what: `command ${result.outcome}`,
          excerpt: m.excerpt,
        });
        const durable = this.commands
          ? this.commands.platformResult(device, result, integration.id)
          : Promise.resolve();
        return { ok: true, duplicate: false, durable };
      }
      case 'data': {
        const decoded = this.decode(device, m);
        if (!decoded.ok) return refuse('GH_ERR_INGRESS_DECODE', decoded.reason);
        const raw = m.frame ? { raw: m.frame.text } : {};
        if (decoded.kind === 'event') {
          const eventId = typeof decoded.fields.eventId === 'string' ? decoded.fields.eventId : m.messageId;
          return send('event', { ts: m.at, ...decoded.fields, eventId, ...raw });
        }
        return send('telemetry', { ts: m.at, ...m.extra, ...decoded.fields, ...raw });
      }
    }
  }

  /** A platform's notice that it added or removed a device: not a refusal, and nothing for the rules. */
  private async lifecycle(
    integration: GateIntegration,
    m: PlatformMessage,
    device: KnownDevice | undefined,
    topic: string,
    receivedAt: number,
  ): Promise<GateOutcome> {
    if (!device) {
      // Added before anyone registered it: the installer finds it in the unmatched list. Removed
      // before anyone did: nothing to register any more.
      if (m.kind === 'announced') this.unmatched(integration, m);
      else
        try {
          for (const { value } of m.identities) await this.integrations.dropUnmatched(integration.id, value);
        } catch (err) {
          this.logger.error({ err, integration: integration.id }, 'unmatched identity not dropped');
        }
      return { ok: true, duplicate: false, durable: DONE };
    }
    this.ingest.commissioning.record(device.deviceId, 'accepted', {
      at: new Date(receivedAt).toISOString(),
      topic,
      what: m.kind === 'announced' ? 'added on the platform' : 'removed from the platform',
      excerpt: m.excerpt,
    });
    if (m.kind === 'removed')
      // The hub keeps the device (a removal by mistake must not silence a detector's record); its
      // silence past heartbeat + grace will show it offline, and the installer sees why here.
      this.logger.warn(
        { deviceId: device.deviceId, integration: integration.id },
        'the platform removed a registered device; it will report no more through this integration',
      );
    return { ok: true, duplicate: false, durable: DONE };
  }

  private async find(m: PlatformMessage): Promise<KnownDevice | undefined> {
    for (const { field, value } of m.identities) {
      const d = await this.identities.find(field, value);
      if (d) return d;
    }
    return undefined;
  }

  private decode(device: KnownDevice, m: PlatformMessage): Decoded {
    const model = this.models.find(device.modelId);
    if (!model) return { ok: false, reason: `no model '${device.modelId}'` };
    if (m.frame) {
      if (!model.frame) return { ok: false, reason: `model '${model.id}' declares no byte decoder` };
      const bytes = frameBytes(m.frame.text, m.frame.encoding);
      if (!bytes) return { ok: false, reason: `frame is not ${m.frame.encoding}` };
      return decodeFrame(model.frame, bytes);
    }
    return applyMapping(model.jsonMapping, m.json ?? {});
  }

  private unmatched(integration: GateIntegration, m: PlatformMessage): GateOutcome {
    const first = m.identities[0];
    if (!first) return { ok: false, code: 'GH_ERR_INGRESS_MALFORMED', reason: 'message names no device' };
    // The list offers the identity an installer would type: the IMEI or devEui when there is one.
    const shown = m.identities.find((i) => i.field !== 'platformDeviceId') ?? first;
    this.integrations
      .noteUnmatched(integration.id, shown.field, shown.value, m.excerpt)
      .catch((err: unknown) =>
        this.logger.error({ err, integration: integration.id }, 'unmatched identity not stored'),
      );
    this.ingest.logLimited(
      `${integration.id}:unmatched`,
      { integration: integration.id, identity: shown.value, field: shown.field },
      'platform message for an unregistered device',
    );
    return {
      ok: false,
      code: 'GH_ERR_INGRESS_IDENTITY_UNKNOWN',
      reason: `no device with ${shown.field} '${shown.value}'`,
      identity: shown.value,
    };
  }

  static excerpt(text: string): string {
    return CommissioningLog.excerpt(Buffer.from(text));
  }
}
