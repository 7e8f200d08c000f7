import { Ajv, type ValidateFunction } from 'ajv';
import { appendAudit } from '../audit/audit-log.ts';
import { actorOf, type Principal, requirePermission } from '../auth/principal.ts';
import type { KnownDevice } from '../broker/device-directory.ts';
import type { CommandAckSink } from '../broker/session-hooks.ts';
import type { Bus } from '../bus.ts';
import { type CommandAckPayload, CommandAckSchema, type CommandPayload } from '../contract/payloads.ts';
import { filterMatches } from '../contract/topic-filter.ts';
import { topicFor } from '../contract/topics.ts';
import type { ModelCatalogue } from '../devices/models/index.ts';
import { GridhubError } from '../errors.ts';
import { schemaProblems } from '../grid/schema-problems.ts';
import type { CommissioningLog } from '../ingest/commissioning.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Db, Store } from '../store/store.ts';
import type { DeviceCommandRow } from '../store/tables.ts';
import { isoTime as iso } from '../time.ts';
import { AckLog } from './ack-log.ts';
import type { CommandCarrier, PlatformCommandResult } from './command-carrier.ts';
import { PlatformCommands } from './command-platform.ts';
import {
  type CommandRequest,
  type CommandState,
  type CommandView,
  modelCommandSchema,
  NEXT_COMMAND_STATES as NEXT,
  OPEN_COMMAND_STATES,
  RESULT_EVENTS,
} from './command-schemas.ts';
import { commandTarget } from './command-target.ts';
import { commandPayload, commandView, newCommandRow } from './command-view.ts';
import { commandIdOf, commandTypeOf, parseAck } from './command-wire.ts';
import { AcksInFlight, OpenCommands } from './open-commands.ts';

/** The broker, as far as commands need it. */
export interface CommandBroker {
  publishCommand(deviceId: string, payload: CommandPayload): Promise<void>;
  sessionQueue(clientId: string): Promise<{ topic: string; payload: Buffer }[]>;
}

const SWEEP_MS = 1000;

/**
 * Commands to devices (silence, self-test, configure): checked against the device's model, scoped
 * to the caller's jurisdiction, stored and audited, then published at QoS 1 to the device's `cmd`
 * topic, where the broker keeps it in the device's persistent session until the device connects
 * (also across a restart). A command still only queued is published again when the device's session
 * subscribes or comes back — unless the broker already holds it for that client. The log follows
 * the device: PUBACK (sent), cmd/ack (acknowledged, done, failed), the matching result event, or the
 * TTL (expired).
 */
export class CommandService implements CommandAckSink {
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly byModel = new Map<string, ValidateFunction>();
  private readonly validAck: ValidateFunction<CommandAckPayload>;
  private readonly unsubscribe: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> = Promise.resolve();
  /** command ids whose PUBACK arrived in this process (noted before the row is updated; see resend) */
  private readonly receipted = new Set<string>();
  /** commands to devices behind a carrier platform (issue 20) */
  private readonly platform: PlatformCommands;
  private readonly open = new OpenCommands();
  private readonly acking = new AcksInFlight();
  private readonly ackLog: AckLog;

  constructor(
    private readonly store: Store,
    private readonly models: ModelCatalogue,
    private readonly broker: CommandBroker,
    private readonly bus: Bus,
    commissioning: CommissioningLog,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.validAck = this.ajv.compile<CommandAckPayload>(CommandAckSchema);
    this.ackLog = new AckLog(commissioning, metrics, logger, now);
    this.platform = new PlatformCommands(
      () => this.db,
      (...a) => this.transition(...a),
      metrics,
      logger,
      now,
    );
  }

  /** Where commands for platform devices go (bound by the composition root: ingress is built later). */
  set carrier(c: CommandCarrier | undefined) {
    this.platform.carrier = c;
  }

  private get db(): Db {
    return this.store.db;
  }

  private validator(modelId: string): ValidateFunction {
    let v = this.byModel.get(modelId);
    if (!v) {
      v = this.ajv.compile(modelCommandSchema(this.models.get(modelId)));
      this.byModel.set(modelId, v);
    }
    return v;
  }

  async create(principal: Principal, deviceId: string, body: CommandRequest): Promise<CommandView> {
    requirePermission(principal, 'device:command');
    const d = await commandTarget(this.db, principal, deviceId);
    if (d.status === 'decommissioned')
      throw new GridhubError('GH_ERR_DEVICE_DECOMMISSIONED', `device '${deviceId}' is decommissioned`);
    const model = this.models.get(d.model_id);
    if (!model.commands.includes(body.type))
      throw new GridhubError(
        'GH_ERR_COMMAND_UNSUPPORTED',
        `model '${model.id}' does not take '${body.type}' (it takes: ${model.commands.join(', ') || 'none'})`,
        { supported: model.commands },
      );
    const validate = this.validator(model.id);
    if (!validate(body)) {
      const problems = schemaProblems(validate.errors).map((p) => ({ ...p, path: `body.${p.path}` }));
      throw new GridhubError('GH_ERR_VALIDATION', problems.map((p) => `${p.path}: ${p.message}`).join('; '), {
        problems,
      });
    }
    const via = await this.platform.routeFor({ id: deviceId, modelId: model.id }, body.type);
    const now = this.now();
    const row = newCommandRow(actorOf(principal), deviceId, body, via, now);
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('device_commands').values(row).execute();
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'device.command',
        entityType: 'device',
        entityId: deviceId,
        data: {
          commandId: row.id,
          type: row.type,
          settings: body.settings ?? null,
          expiresAt: iso(row.expires_at),
          ...(via ? { via } : {}),
        },
      });
    });
    this.open.opened(row);
    this.metrics.deviceCommands.inc({ type: row.type, state: 'queued' });
    if (via) await this.platform.send(row, model.id);
    else await this.publish(row);
    return commandView((await this.row(deviceId, row.id)) ?? row);
  }

  async list(principal: Principal, deviceId: string, limit: number): Promise<CommandView[]> {
    requirePermission(principal, 'device:read');
    await commandTarget(this.db, principal, deviceId);
    const rows = await this.db
      .selectFrom('device_commands')
      .selectAll()
      .where('device_id', '=', deviceId)
      .orderBy('created_at', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => commandView(r));
  }

  async get(principal: Principal, deviceId: string, id: string): Promise<CommandView> {
    requirePermission(principal, 'device:read');
    await commandTarget(this.db, principal, deviceId);
    const r = await this.row(deviceId, id);
    if (!r) throw new GridhubError('GH_ERR_COMMAND_UNKNOWN', `no command '${id}' for device '${deviceId}'`);
    return commandView(r);
  }

  private row(deviceId: string, id: string): Promise<DeviceCommandRow | undefined> {
    return this.db
      .selectFrom('device_commands')
      .selectAll()
      .where('id', '=', id)
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
  }

  private async publish(row: DeviceCommandRow): Promise<void> {
    try {
      await this.broker.publishCommand(row.device_id, commandPayload(row));
    } catch (err) {
      // Stays queued: it goes out when the device's session next subscribes or the hub restarts.
      this.logger.warn(
        { err, commandId: row.id, deviceId: row.device_id },
        'command not handed to the broker',
      );
    }
  }

  /** Move a command on (once: the row is re-read in the transaction), audited. */
  private async transition(
    id: string,
    to: CommandState,
    actor: string,
    result: CommandView['result'],
  ): Promise<DeviceCommandRow | undefined> {
    const now = this.now();
    const moved = await this.db.transaction().execute(async (trx) => {
      const r = await trx.selectFrom('device_commands').selectAll().where('id', '=', id).executeTakeFirst();
      if (!r || !NEXT[r.state as CommandState].includes(to)) return undefined;
      const update = {
        state: to,
        updated_at: now,
        ...(to === 'sent' ? { sent_at: now } : {}),
        ...(to === 'acknowledged' ? { acknowledged_at: now, sent_at: r.sent_at ?? now } : {}),
        ...(to === 'done' || to === 'failed' || to === 'expired' ? { finished_at: now } : {}),
        // an outcome from the device means it had the command, whether or not its PUBACK was seen
        ...((to === 'done' || to === 'failed') && actor.startsWith('device:')
          ? { sent_at: r.sent_at ?? now }
          : {}),
        ...(result ? { result: JSON.stringify(result) } : {}),
      };
      // conditional on the state read: two nodes (or two events) moving it at once move it once
      const u = await trx
        .updateTable('device_commands')
        .set(update)
        .where('id', '=', id)
        .where('state', '=', r.state)
        .executeTakeFirst();
      if (u.numUpdatedRows === 0n) return undefined;
      await appendAudit(trx, {
        actor,
        action: `device.command.${to}`,
        entityType: 'device',
        entityId: r.device_id,
        data: { commandId: id, type: r.type, ...(result ? { result } : {}) },
      });
      return { ...r, ...update };
    });
    if (moved) this.metrics.deviceCommands.inc({ type: moved.type, state: to });
    this.open.moved(moved, to);
    return moved;
  }

  // ---- what devices say ----

  /** A platform's result push for a command it carried (the ingress gate calls it). */
  platformResult(device: KnownDevice, result: PlatformCommandResult, integrationId: string): Promise<void> {
    return this.platform.result(device, result, integrationId);
  }

  /** A device's cmd/ack (before the broker acknowledges it); its result event waits for it. */
  commandAck(device: KnownDevice, payload: Buffer, clientId: string): Promise<void> {
    return this.acking.track(device.deviceId, this.answer(device, payload, clientId));
  }

  private async answer(device: KnownDevice, payload: Buffer, _clientId: string): Promise<void> {
    const ack = parseAck(payload, this.validAck);
    if ('code' in ack) return this.ackLog.refused(device, ack.code, ack.reason, payload);
    const r = await this.row(device.deviceId, ack.commandId);
    if (!r)
      return this.ackLog.refused(
        device,
        'GH_ERR_COMMAND_UNKNOWN',
        `no command '${ack.commandId}' for this device`,
        payload,
      );
    const to: CommandState =
      ack.status === 'accepted' ? 'acknowledged' : ack.status === 'done' ? 'done' : 'failed';
    const result =
      ack.status === 'accepted'
        ? null
        : { status: ack.status, ...(ack.reason ? { reason: ack.reason } : {}) };
    // the device has it: its result event may follow at once, on this node (see OpenCommands.delivered)
    if (to === 'acknowledged') this.open.opened(r);
    await this.transition(r.id, to, `device:${device.deviceId}`, result);
    this.ackLog.accepted(device, ack.status, payload);
  }

  /** The device's client acknowledged (PUBACK) a command message: it has it. */
  private async received(deviceId: string, payload: Buffer): Promise<void> {
    const id = commandIdOf(payload);
    if (id) {
      this.receipted.add(id);
      if (this.receipted.size > 10_000) this.receipted.delete(this.receipted.values().next().value as string);
    }
    const r = id ? await this.row(deviceId, id) : undefined;
    if (r?.state === 'queued') await this.transition(r.id, 'sent', `device:${deviceId}`, null);
  }

  /**
   * A self-test result or a "silenced" report finishes the oldest command of that type the device
   * has received (sent or acknowledged). Detectors also self-test on their own schedule, so a
   * command the device never got, or one that expired, is not taken as done by such an event.
   */
  private async resultEvent(deviceId: string, type: string, outcome: string | undefined): Promise<void> {
    const command = RESULT_EVENTS[type];
    if (!command) return;
    await this.acking.settled(deviceId);
    if (!this.open.has(deviceId, command)) return;
    const open = await this.db
      .selectFrom('device_commands')
      .selectAll()
      .where('device_id', '=', deviceId)
      .where('type', '=', command)
      .where('state', 'in', [...OPEN_COMMAND_STATES])
      .orderBy('created_at')
      .execute();
    // queued but already acknowledged by the client in this process: its 'sent' is on its way
    // (a platform that took the command holds it for the device's next wake-up)
    const r = open.find(
      (c) => c.state !== 'queued' || this.receipted.has(c.id) || c.platform_command_id !== null,
    );
    if (!r) return;
    await this.transition(r.id, 'done', `device:${deviceId}`, {
      event: type,
      ...(outcome ? { selftest: outcome } : {}),
    });
  }

  /** Publish what is still only queued for a device, unless its session already holds it. */
  private async resend(deviceId: string): Promise<void> {
    const queued = await this.db
      .selectFrom('device_commands')
      .selectAll()
      .where('device_id', '=', deviceId)
      .where('state', '=', 'queued')
      .where('via_integration', 'is', null)
      .where('expires_at', '>', this.now())
      .orderBy('created_at')
      .execute();
    if (queued.length === 0) return;
    // The device's client id is its device id (broker admission), so its session is found by it.
    const held = new Set((await this.broker.sessionQueue(deviceId)).map((m) => commandIdOf(m.payload)));
    for (const r of queued) if (!held.has(r.id) && !this.receipted.has(r.id)) await this.publish(r);
  }

  /** Expire what is due; the open commands read for it are the in-memory index's new state. */
  async expire(): Promise<void> {
    const open = await this.open.rebuild(() =>
      this.db
        .selectFrom('device_commands')
        .select(['id', 'device_id', 'type', 'expires_at'])
        .where('state', 'in', [...OPEN_COMMAND_STATES])
        .execute(),
    );
    const now = this.now();
    for (const c of open) if (c.expires_at <= now) await this.transition(c.id, 'expired', 'system', null);
  }

  private sweep(): void {
    this.sweeping = this.sweeping
      .then(() => this.expire())
      .then(() => this.platform.retry())
      .catch((err: unknown) => this.logger.error({ err }, 'command expiry failed'));
  }

  async start(): Promise<void> {
    const guard = (what: string) => (err: unknown) => this.logger.error({ err }, what);
    this.unsubscribe.push(
      this.bus.on('mqtt.receipt', ({ owner, topic, payload }) => {
        if (owner.kind !== 'device' || topic !== topicFor('command', owner)) return;
        this.open.delivered(owner.deviceId, commandIdOf(payload), commandTypeOf(payload));
        this.received(owner.deviceId, payload).catch(guard('command receipt failed'));
      }),
      this.bus.on('mqtt.session', ({ owner, filters }) => {
        if (owner.kind !== 'device') return;
        const topic = topicFor('command', owner);
        if (filters.some((f) => filterMatches(f, topic)))
          this.resend(owner.deviceId).catch(guard('command re-send failed'));
      }),
      this.bus.on('device.event', (e) => {
        if (e.event.type in RESULT_EVENTS)
          this.resultEvent(
            e.deviceId,
            e.event.type,
            'result' in e.event ? String(e.event.result) : undefined,
          ).catch(guard('command result failed'));
      }),
    );
    this.sweep();
    await this.sweeping;
    // Queued before a restart: back into the broker for devices whose session does not hold them.
    const waiting = await this.db
      .selectFrom('device_commands')
      .select('device_id')
      .distinct()
      .where('state', '=', 'queued')
      .where('via_integration', 'is', null)
      .execute();
    for (const { device_id } of waiting) await this.resend(device_id);
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const off of this.unsubscribe.splice(0)) off();
    await this.sweeping;
  }
}
