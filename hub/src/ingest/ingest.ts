import type { Statement } from 'better-sqlite3';
import { appendAudit } from '../audit/audit-log.ts';
import type { KnownDevice } from '../broker/device-directory.ts';
import type { Bus } from '../bus.ts';
import type { DeviceEvent, DeviceTelemetry } from '../contract/device-event.ts';
import type { DeviceTopicKind } from '../contract/topics.ts';
import type { ModelCatalogue } from '../devices/models/index.ts';
import type { ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/store.ts';
import { CommissioningLog } from './commissioning.ts';
import { describeErrors, PayloadValidators, pick } from './validators.ts';

export type IngestOutcome = { ok: true; duplicate: boolean } | { ok: false; code: ErrorCode; reason: string };

/** One message on its way through the steps. */
interface Message {
  device: KnownDevice;
  kind: Exclude<DeviceTopicKind, 'command'>;
  topic: string;
  payload: Buffer;
  receivedAt: number;
  json: Record<string, unknown>;
  body: Record<string, unknown>;
  duplicate: boolean;
}

type Rejection = { code: ErrorCode; reason: string };
interface Step {
  name: string;
  run(m: Message): Rejection | undefined;
}

export interface IngestOptions {
  maxPayloadBytes: number;
  /** how long an eventId is remembered for redelivery detection */
  dedupeRetentionMs: number;
}

/**
 * Turns a device's MQTT message into a typed, validated, normalised event on the bus, or into a
 * counted, logged, explained rejection. Runs synchronously inside the broker's publish hook, so a
 * QoS 1 event is deduplicated in the store before its PUBACK is sent.
 */
export class Ingest {
  private readonly validators: PayloadValidators;
  readonly commissioning: CommissioningLog;
  private seenInsert: Statement<[string, string, number]> | undefined;
  private activate: Statement<[string, string]> | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private readonly logGate = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly store: Store,
    private readonly models: ModelCatalogue,
    private readonly bus: Bus,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: IngestOptions,
  ) {
    this.validators = new PayloadValidators(models.models);
    this.commissioning = new CommissioningLog(store, logger);
  }

  private readonly steps: Step[] = [
    {
      name: 'size',
      run: (m) =>
        m.payload.length > this.options.maxPayloadBytes
          ? {
              code: 'GH_ERR_PAYLOAD_TOO_LARGE',
              reason: `${m.payload.length} bytes > ${this.options.maxPayloadBytes}`,
            }
          : undefined,
    },
    {
      name: 'json',
      run: (m) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(m.payload.toString('utf8'));
        } catch (err) {
          return { code: 'GH_ERR_PAYLOAD_NOT_JSON', reason: (err as Error).message };
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          return { code: 'GH_ERR_PAYLOAD_NOT_JSON', reason: 'payload must be a JSON object' };
        }
        m.json = parsed as Record<string, unknown>;
        return undefined;
      },
    },
    {
      name: 'schema',
      run: (m) => {
        if (m.kind === 'status') {
          const v = this.validators.status;
          if (!v.validate(m.json))
            return { code: 'GH_ERR_PAYLOAD_SCHEMA', reason: describeErrors(v.validate.errors) };
          m.body = pick(m.json, v.fields);
          return undefined;
        }
        const compiled = this.validators.forModel(m.device.modelId)?.[m.kind];
        if (!compiled) return { code: 'GH_ERR_MODEL_UNKNOWN', reason: `no model '${m.device.modelId}'` };
        if (compiled.byType) {
          const type = m.json.type;
          const member = typeof type === 'string' ? compiled.byType.get(type) : undefined;
          if (!member) {
            return {
              code: 'GH_ERR_EVENT_TYPE_UNKNOWN',
              reason: `event type ${JSON.stringify(type)} is not one of ${[...compiled.byType.keys()].join(', ')}`,
            };
          }
          if (!member.validate(m.json))
            return { code: 'GH_ERR_PAYLOAD_SCHEMA', reason: describeErrors(member.validate.errors) };
          m.body = pick(m.json, member.fields);
          return undefined;
        }
        if (!compiled.validate(m.json))
          return { code: 'GH_ERR_PAYLOAD_SCHEMA', reason: describeErrors(compiled.validate.errors) };
        m.body = pick(m.json, compiled.fields);
        return undefined;
      },
    },
    {
      name: 'normalise',
      run: (m) => {
        // Vendor polarity and codes are mapped to the generic payload here, never in rules.
        const model = this.models.find(m.device.modelId);
        const decode =
          m.kind === 'event'
            ? model?.decodeEvent
            : m.kind === 'telemetry'
              ? model?.decodeTelemetry
              : undefined;
        if (decode) m.body = decode(m.body);
        return undefined;
      },
    },
    {
      name: 'dedupe',
      run: (m) => {
        if (m.kind !== 'event') return undefined;
        const eventId = String(m.body.eventId);
        m.duplicate = this.seen().run(m.device.deviceId, eventId, m.receivedAt).changes === 0;
        return undefined;
      },
    },
  ];

  private seen(): Statement<[string, string, number]> {
    this.seenInsert ??= this.store.sqlite.prepare(
      'INSERT OR IGNORE INTO device_events_seen (device_id, event_id, received_at) VALUES (?, ?, ?)',
    );
    return this.seenInsert;
  }

  handle(
    device: KnownDevice,
    kind: Exclude<DeviceTopicKind, 'command'>,
    topic: string,
    payload: Buffer,
    clientId: string,
    receivedAt = Date.now(),
  ): IngestOutcome {
    const m: Message = { device, kind, topic, payload, receivedAt, json: {}, body: {}, duplicate: false };
    for (const step of this.steps) {
      const rejected = step.run(m);
      if (rejected) {
        this.reject(m, clientId, rejected);
        return { ok: false, ...rejected };
      }
    }
    const what = kind === 'event' ? String(m.body.type ?? 'event') : kind;
    this.commissioning.record(device.deviceId, 'accepted', {
      at: new Date(receivedAt).toISOString(),
      topic,
      what,
      ...(m.duplicate ? { duplicate: true } : {}),
      excerpt: CommissioningLog.excerpt(payload),
    });
    this.metrics.mqttMessages.inc({ kind: m.duplicate ? 'duplicate' : kind });
    if (device.status === 'provisioned') this.activateDevice(device);
    if (!m.duplicate) this.emit(m);
    return { ok: true, duplicate: m.duplicate };
  }

  private emit(m: Message): void {
    const { device, body, receivedAt } = m;
    const base = {
      deviceId: device.deviceId,
      modelId: device.modelId,
      siteId: device.siteId,
      gridNodeId: device.gridNodeId,
      gridPath: device.gridPath,
      emergencyUnitId: device.emergencyUnitId,
      receivedAt,
      at: typeof body.ts === 'number' ? body.ts : receivedAt,
      deviceType: device.deviceType,
    };
    if (m.kind === 'event') this.bus.emit('device.event', { ...base, event: body } as DeviceEvent);
    else if (m.kind === 'telemetry')
      this.bus.emit('device.telemetry', { ...base, values: body } as DeviceTelemetry);
    else this.bus.emit('device.status', { ...base, state: body.state as 'online' | 'offline' });
    this.metrics.ingestLatency.observe((Date.now() - receivedAt) / 1000);
  }

  private reject(m: Message, clientId: string, r: Rejection): void {
    this.metrics.errors.inc({ code: r.code, source: 'mqtt' });
    this.commissioning.record(m.device.deviceId, 'rejected', {
      at: new Date(m.receivedAt).toISOString(),
      topic: m.topic,
      what: m.kind,
      code: r.code,
      reason: r.reason,
      excerpt: CommissioningLog.excerpt(m.payload),
    });
    this.bus.emit('ingest.rejected', {
      deviceId: m.device.deviceId,
      clientId,
      topic: m.topic,
      code: r.code,
      reason: r.reason,
    });
    this.logLimited(
      `${m.device.deviceId}:${r.code}`,
      { deviceId: m.device.deviceId, topic: m.topic, code: r.code, reason: r.reason },
      'device message refused',
    );
  }

  /** At most one line per key every 10 s, with the count of lines it held back. */
  logLimited(key: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const gate = this.logGate.get(key);
    if (gate && now - gate.at < 10_000) {
      gate.suppressed++;
      return;
    }
    this.logger.warn({ ...fields, suppressed: gate?.suppressed ?? 0 }, msg);
    this.logGate.set(key, { at: now, suppressed: 0 });
    if (this.logGate.size > 10_000) this.logGate.clear();
  }

  /** A device's first valid message moves it from provisioned to active. */
  private activateDevice(device: KnownDevice): void {
    this.activate ??= this.store.sqlite.prepare(
      "UPDATE devices SET status = 'active', updated_at = ? WHERE id = ? AND status = 'provisioned'",
    );
    device.status = 'active';
    if (this.activate.run(new Date().toISOString(), device.deviceId).changes === 0) return;
    this.store.db
      .transaction()
      .execute((trx) =>
        appendAudit(trx, {
          actor: `device:${device.deviceId}`,
          action: 'device.activate',
          entityType: 'device',
          entityId: device.deviceId,
        }),
      )
      .catch((err: unknown) =>
        this.logger.error({ err, deviceId: device.deviceId }, 'audit of activation failed'),
      );
    this.bus.emit('device.changed', { deviceId: device.deviceId, change: 'status' });
  }

  async start(): Promise<void> {
    this.commissioning.start();
    const prune = () => {
      const cutoff = Date.now() - this.options.dedupeRetentionMs;
      this.store.sqlite.prepare('DELETE FROM device_events_seen WHERE received_at < ?').run(cutoff);
    };
    prune();
    this.pruneTimer = setInterval(prune, 3600_000);
    this.pruneTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.pruneTimer);
    await this.commissioning.stop();
    this.seenInsert = undefined;
    this.activate = undefined;
  }
}
