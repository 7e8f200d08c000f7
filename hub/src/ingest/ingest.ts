import { appendAudit } from '../audit/audit-log.ts';
import type { KnownDevice } from '../broker/device-directory.ts';
import type { Bus, DeviceStatusReport, RulesWork } from '../bus.ts';
import type { DeviceEvent, DeviceTelemetry } from '../contract/device-event.ts';
import type { DeviceTopicKind } from '../contract/topics.ts';
import type { ModelCatalogue } from '../devices/models/index.ts';
import type { ErrorCode } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { StorageHealth } from '../store/storage-health.ts';
import type { Store } from '../store/store.ts';
import { CommissioningLog } from './commissioning.ts';
import type { Committed, Journal, JournalEntry } from './journal.ts';
import { RecentEvents } from './recent-events.ts';
import { ingestSteps, type Message, type Rejection, type Step, type StepOptions } from './steps.ts';
import { PayloadValidators } from './validators.ts';

export type IngestOutcome =
  | {
      ok: true;
      duplicate: boolean;
      /** settles when the message is durable; the PUBACK waits for it. Rejects when it could not be stored. */
      durable: Promise<void>;
    }
  | { ok: false; code: ErrorCode; reason: string };

export interface IngestOptions extends StepOptions {
  /** how long an eventId is remembered for redelivery detection */
  dedupeRetentionMs: number;
}

type Subject = DeviceEvent | DeviceTelemetry | DeviceStatusReport;

const RECENT_EVENTS = 100_000;
const KNOWN: Promise<Committed> = Promise.resolve({ seq: null, duplicate: true });

/** What the hub needs around ingest: which messages are life-safety, and their InfluxDB points. */
export interface IngestHooks {
  lifeSafety(m: DeviceEvent | DeviceTelemetry): boolean;
  /** line-protocol points of a message, or undefined when no InfluxDB is configured */
  lines?(m: DeviceEvent | DeviceTelemetry): string[];
}

/**
 * Turns a device's MQTT message into a typed, validated, normalised message, or into a counted,
 * logged, explained rejection — synchronously, inside the broker's publish hook. An accepted
 * message is appended to the ingest journal; its PUBACK waits until the journal's group commit is
 * on disk (a PUBACK is a promise: what was acknowledged survives SIGKILL and power loss). A
 * life-safety message is handed to the rules before the commit, so an alarm never waits for a
 * disk; every other message after it, once the journal has said it is not a redelivery.
 */
export class Ingest {
  private readonly validators: PayloadValidators;
  private readonly steps: Step[];
  readonly commissioning: CommissioningLog;
  private readonly recent = new RecentEvents(RECENT_EVENTS);
  private pruneTimer: NodeJS.Timeout | undefined;
  private doneTimer: NodeJS.Timeout | undefined;
  private readonly logGate = new Map<string, { at: number; suppressed: number }>();
  /** journal positions whose rules have run, marked done in batches */
  private settled: number[] = [];
  private lastCheckpoint = 0;
  /** the journal position up to which every series consumer has durably taken the messages */
  consumedUpTo: () => number = () => 0;

  constructor(
    private readonly store: Store,
    private readonly models: ModelCatalogue,
    private readonly journal: Journal,
    private readonly bus: Bus,
    private readonly hooks: IngestHooks,
    private readonly storage: StorageHealth,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: IngestOptions,
  ) {
    this.validators = new PayloadValidators(models.models);
    this.steps = ingestSteps(this.validators, models, options);
    this.commissioning = new CommissioningLog(store, logger);
  }

  handle(
    device: KnownDevice,
    kind: Exclude<DeviceTopicKind, 'command'>,
    topic: string,
    payload: Buffer,
    clientId: string,
    qos: 0 | 1 | 2 = 1,
    receivedAt = Date.now(),
  ): IngestOutcome {
    const m: Message = {
      device,
      kind,
      topic,
      payload,
      receivedAt,
      json: {},
      body: {},
      cleared: false,
      clockCorrected: undefined,
    };
    for (const step of this.steps) {
      const rejected = step.run(m);
      if (rejected) {
        this.reject(m, clientId, rejected);
        return { ok: false, ...rejected };
      }
    }
    if (m.clockCorrected) this.clockCorrected(m);
    if (device.status === 'provisioned') this.activateDevice(device);
    if (m.cleared) {
      this.record(m, 'status cleared', false);
      return { ok: true, duplicate: false, durable: Promise.resolve() };
    }
    const subject = this.subject(m);
    const eventId = kind === 'event' ? String(m.body.eventId) : null;
    const earlier = eventId === null ? undefined : this.recent.get(device.deviceId, eventId);
    if (earlier) {
      // A redelivery of something this hub is committing or committed: acknowledge it when the
      // first copy is durable, and process nothing again.
      this.record(m, String(m.body.type), true);
      return { ok: true, duplicate: true, durable: earlier.then(() => undefined) };
    }
    const durable = this.accept(m, subject, eventId, qos);
    return { ok: true, duplicate: false, durable };
  }

  private subject(m: Message): { kind: Message['kind']; value: Subject } {
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
    if (m.kind === 'event') return { kind: 'event', value: { ...base, event: body } as DeviceEvent };
    if (m.kind === 'telemetry')
      return { kind: 'telemetry', value: { ...base, values: body } as DeviceTelemetry };
    return { kind: 'status', value: { ...base, state: body.state as 'online' | 'offline' } };
  }

  private accept(
    m: Message,
    subject: { kind: Message['kind']; value: Subject },
    eventId: string | null,
    qos: 0 | 1 | 2,
  ): Promise<void> {
    const s = subject.value;
    const ruled = subject.kind === 'status' ? undefined : (s as DeviceEvent | DeviceTelemetry);
    const lifeSafety = ruled !== undefined && this.hooks.lifeSafety(ruled);
    let work: (RulesWork & { done: boolean }) | undefined;
    if (ruled) {
      work = {
        subject: ruled,
        lifeSafety,
        seq: null,
        done: false,
        settle: () => {
          if (!work || work.done) return;
          work.done = true;
          if (work.seq !== null) this.markSettled(work.seq);
        },
      };
    }
    // An alarm goes to the rules now; its journal commit runs alongside.
    if (lifeSafety && work) this.publish(subject.kind, s, work);
    const entry: JournalEntry = {
      deviceId: m.device.deviceId,
      eventId,
      kind: subject.kind,
      body: JSON.stringify(s),
      receivedAt: m.receivedAt,
      lines: ruled && this.hooks.lines ? this.hooks.lines(ruled) : [],
      rulesDone: work === undefined,
    };
    const committed = this.journal.append(entry);
    if (eventId !== null) this.recent.add(m.device.deviceId, eventId, committed);
    return committed.then(
      (c: Committed) => {
        this.record(m, subject.kind === 'event' ? String(m.body.type) : subject.kind, c.duplicate);
        if (c.duplicate || c.seq === null) {
          // Seen before this process started (the dedupe record is durable); nothing is redone.
          work?.settle();
          return;
        }
        if (work) {
          work.seq = c.seq;
          if (work.done) this.markSettled(c.seq);
        }
        this.bus.emit('journal.committed', { seq: c.seq, subject: s });
        if (!lifeSafety) this.publish(subject.kind, s, work);
      },
      (err: unknown) => {
        const code = this.storage.failed('journal', err) ?? 'GH_ERR_INTERNAL';
        this.recent.delete(m.device.deviceId, eventId);
        this.metrics.errors.inc({ code, source: 'mqtt' });
        this.logLimited(
          `${m.device.deviceId}:${code}`,
          { deviceId: m.device.deviceId, code },
          'message not stored; no PUBACK',
        );
        // QoS 0 promised nothing: the message is dropped (counted) rather than closing the
        // connection, which would also hold back the device's QoS 1 alarms behind it.
        if (qos > 0) throw err;
      },
    );
  }

  /** Hand a message to the bus: rules, presence, staff topics. */
  private publish(kind: Message['kind'], s: Subject, work: RulesWork | undefined): void {
    if (kind === 'event') this.bus.emit('device.event', s as DeviceEvent);
    else if (kind === 'telemetry') this.bus.emit('device.telemetry', s as DeviceTelemetry);
    else this.bus.emit('device.status', s as DeviceStatusReport);
    if (work) this.bus.emit('rules.work', work);
    this.metrics.ingestLatency.observe((Date.now() - s.receivedAt) / 1000);
  }

  private markSettled(seq: number): void {
    this.settled.push(seq);
    if (this.settled.length >= 1000) void this.flushSettled();
  }

  /** Mark settled messages done in the journal (so a restart does not run their rules again). */
  async flushSettled(): Promise<void> {
    if (this.settled.length === 0) {
      // People's writes (API) too reach the disk within a second: the store checkpoints nowhere else.
      if (Date.now() - this.lastCheckpoint < 1000) return;
      this.lastCheckpoint = Date.now();
      await this.journal.checkpoint().catch((err: unknown) => this.storage.failed('store', err));
      return;
    }
    this.lastCheckpoint = Date.now();
    const seqs = this.settled;
    this.settled = [];
    try {
      if (!(await this.journal.rulesDone(seqs))) this.settled.push(...seqs); // store busy: next time
    } catch (err) {
      // Not marked: they run again after a restart (rules are idempotent per event), never lost.
      this.storage.failed('journal', err);
      this.settled.push(...seqs);
    }
  }

  /** Journaled work whose rules have not run (replay after a restart or a storage failure). */
  async pending(afterSeq: number, limit: number): Promise<RulesWork[]> {
    const rows = await this.journal.pending(afterSeq, limit);
    return rows
      .filter((r) => r.kind !== 'status')
      .map((r) => {
        const subject = JSON.parse(r.body) as DeviceEvent | DeviceTelemetry;
        const work: RulesWork & { done: boolean } = {
          subject,
          lifeSafety: this.hooks.lifeSafety(subject),
          seq: r.seq,
          done: false,
          settle: () => {
            if (work.done) return;
            work.done = true;
            this.markSettled(r.seq);
          },
        };
        return work;
      });
  }

  private record(m: Message, what: string, duplicate: boolean): void {
    this.commissioning.record(m.device.deviceId, 'accepted', {
      at: new Date(m.receivedAt).toISOString(),
      topic: m.topic,
      what,
      ...(duplicate ? { duplicate: true } : {}),
      ...(m.clockCorrected
        ? {
            code: 'GH_ERR_DEVICE_CLOCK' as const,
            reason: `device ts ${m.clockCorrected.ts} replaced by the receive time`,
          }
        : {}),
      excerpt: CommissioningLog.excerpt(m.payload),
    });
    this.metrics.mqttMessages.inc({ kind: duplicate ? 'duplicate' : m.kind });
  }

  private clockCorrected(m: Message): void {
    this.metrics.errors.inc({ code: 'GH_ERR_DEVICE_CLOCK', source: 'mqtt' });
    this.logLimited(
      `${m.device.deviceId}:GH_ERR_DEVICE_CLOCK`,
      {
        deviceId: m.device.deviceId,
        code: 'GH_ERR_DEVICE_CLOCK',
        ts: m.clockCorrected?.ts,
        receivedAt: m.receivedAt,
      },
      'device clock out of bounds; receive time used',
    );
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
    this.logLimited(
      `${m.device.deviceId}:${r.code}`,
      { deviceId: m.device.deviceId, clientId, topic: m.topic, code: r.code, reason: r.reason },
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

  /** A device's first valid message moves it from provisioned to active (written in the background). */
  private activateDevice(device: KnownDevice): void {
    device.status = 'active';
    void this.storeActivation(device);
  }

  private async storeActivation(device: KnownDevice): Promise<void> {
    try {
      const r = await this.store.db
        .updateTable('devices')
        .set({ status: 'active', updated_at: Date.now() })
        .where('id', '=', device.deviceId)
        .where('status', '=', 'provisioned')
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return;
    } catch (err) {
      // A full disk must not refuse the device's message; the activation is retried next message.
      device.status = 'provisioned';
      if (!this.storage.failed('store', err))
        this.logger.error({ err, deviceId: device.deviceId }, 'activation not stored');
      return;
    }
    try {
      await this.store.db.transaction().execute((trx) =>
        appendAudit(trx, {
          actor: `device:${device.deviceId}`,
          action: 'device.activate',
          entityType: 'device',
          entityId: device.deviceId,
        }),
      );
    } catch (err) {
      this.logger.error({ err, deviceId: device.deviceId }, 'audit of activation failed');
    }
    this.bus.emit('device.changed', { deviceId: device.deviceId, change: 'status' });
  }

  private async prune(): Promise<void> {
    await this.flushSettled();
    const out = await this.journal.prune(this.consumedUpTo(), Date.now() - this.options.dedupeRetentionMs);
    if (out.inbox + out.seen > 0) this.logger.debug(out, 'journal pruned');
  }

  async start(): Promise<void> {
    // Redeliveries come soon after a reconnect, often after a restart: recognise the recent ones
    // without a trip to the journal, so an alarm redelivered after a restart is not handled again.
    for (const [deviceId, eventId] of await this.journal.recentSeen(RECENT_EVENTS))
      this.recent.add(deviceId, eventId, KNOWN);
    this.commissioning.start();
    const guard = (what: string) => (err: unknown) => {
      if (!this.storage.failed('journal', err)) this.logger.error({ err }, what);
    };
    this.doneTimer = setInterval(() => void this.flushSettled(), 200);
    this.pruneTimer = setInterval(() => this.prune().catch(guard('journal prune failed')), 60_000);
    this.pruneTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.pruneTimer);
    clearInterval(this.doneTimer);
    await this.flushSettled();
    await this.commissioning.stop();
  }
}
