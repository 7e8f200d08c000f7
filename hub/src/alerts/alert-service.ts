import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { appendAudit } from '../audit/audit-log.ts';
import { actorOf, covers, type Principal, requirePermission } from '../auth/principal.ts';
import type { AlertRequested, Bus } from '../bus.ts';
import { atLeast, moreSevere, type Severity } from '../contract/severity.ts';
import { parseTopic, topicFor } from '../contract/topics.ts';
import { GridhubError, isGridhubError } from '../errors.ts';
import { placeTargetScope } from '../grid/placement.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { OutboundPolicy } from '../outbound/address-policy.ts';
import type { PolicyService } from '../policies/policy-service.ts';
import type { StorageHealth } from '../store/storage-health.ts';
import type { Store } from '../store/store.ts';
import type { AlertRow, Database, WebhookTargetRow } from '../store/tables.ts';
import { titleView } from '../tickets/ticket-titles.ts';
import { isoTime } from '../time.ts';
import { AckLinks } from './ack-links.ts';
import { nameAlerts, nameDeliveries, storedTitle } from './alert-names.ts';
import type {
  AlertListQuery,
  AlertState,
  AlertView,
  DeliveryView,
  WebhookTargetBody,
} from './alert-schemas.ts';
import { alertMessage } from './message.ts';
import { PersonChannel, type PersonSessions } from './person-channel.ts';
import { VolatileAlerts } from './volatile-alerts.ts';
import { WebhookDeliverer } from './webhook-deliverer.ts';

/** The broker, as far as alerts need it: publish on a hub topic. */
export interface StaffPublisher {
  publishToStaff(topic: string, payload: unknown): void;
}

export interface AlertOptions {
  tickMs: number;
  webhookTimeoutMs: number;
  webhookRetries: number;
  webhookRetryBaseMs: number;
  linkTtlMs: number;
  linkSecret: string;
  publicUrl: () => string;
  /** told of storage failures; alerts are then held and delivered from memory */
  storage?: StorageHealth;
  /** where webhooks and robots may be reached (config `outbound.allow`) */
  outbound: OutboundPolicy;
}

export interface AlertChange {
  seq: number;
  action: string;
  alert: AlertView;
}

const iso = isoTime;
const CHANGE_LOG = 1000;

/**
 * Alerts to the people of a site's emergency unit (最小应急单元): point leader first, then members in
 * on-call order, then the grid leader, then the street duty room; re-notified until someone
 * acknowledges, escalating one person per step. Re-notification and escalation are stored due times
 * (DESIGN.md contract 7). Every delivery attempt is logged per recipient and channel; a failing
 * channel never blocks the others.
 */
export class AlertService {
  private readonly unsubscribe: (() => void)[] = [];
  private readonly listeners = new Set<(c: AlertChange) => void>();
  private readonly changes: AlertChange[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private linkSecret = '';
  readonly deliverer: WebhookDeliverer;
  readonly links: AckLinks;
  /** alerts raised while the store refused writes */
  readonly volatile = new VolatileAlerts();
  private readonly persons: PersonChannel;

  constructor(
    private readonly store: Store,
    private readonly policies: PolicyService,
    private readonly bus: Bus,
    private readonly publisher: PersonSessions,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly options: AlertOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.links = new AckLinks(() => this.linkSecret, options.publicUrl, options.linkTtlMs);
    this.deliverer = new WebhookDeliverer(options, logger, options.outbound, now);
    this.persons = new PersonChannel(store, publisher, bus, metrics, logger, now);
  }

  private get db(): Kysely<Database> {
    return this.store.db;
  }

  view(r: AlertRow): AlertView {
    return {
      id: r.id,
      severity: r.severity as Severity,
      cause: r.cause,
      title: r.title,
      ...titleView(r),
      deviceId: r.device_id,
      deviceType: r.device_type,
      siteId: r.site_id,
      gridNodeId: r.grid_node_id,
      emergencyUnitId: r.emergency_unit_id,
      ticketId: r.ticket_id,
      state: r.state as AlertState,
      count: r.count,
      chain: JSON.parse(r.chain) as string[],
      step: r.step,
      nextStepAt: iso(r.next_step_at),
      ackedBy: r.acked_by,
      ackedAt: iso(r.acked_at),
      ackChannel: r.ack_channel,
      resolvedBy: r.resolved_by,
      resolvedAt: iso(r.resolved_at),
      resolution: r.resolution,
      reason: r.reason,
      createdAt: iso(r.created_at) as string,
      updatedAt: iso(r.updated_at) as string,
    };
  }

  // ---- change feed (SSE, MQTT unit topic) ----

  onChange(listener: (c: AlertChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Changes after `seq` still held in memory, for a console reconnecting with Last-Event-ID. */
  since(seq: number): AlertChange[] {
    return this.changes.filter((c) => c.seq > seq);
  }

  private changed(row: AlertRow, action: string): void {
    const change: AlertChange = { seq: ++this.seq, action, alert: this.view(row) };
    this.changes.push(change);
    if (this.changes.length > CHANGE_LOG) this.changes.shift();
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.logger.error({ err }, 'alert change listener failed');
      }
    }
    this.publisher.publishToStaff(
      topicFor('hubAlert', { gridNodeId: row.grid_node_id, siteId: row.site_id ?? '-', id: row.id }),
      change,
    );
  }

  // ---- raising ----

  private perSeverity(
    key: string,
    severity: string,
    at: { gridPath: string; siteId: string | null; deviceId: string | null },
  ): number {
    const map = this.policies.value<Record<string, number>>(key, at);
    return (map[severity] ?? map.critical ?? 60) * 1000;
  }

  /** The escalation chain, derived from the grid model unless a site/grid policy overrides it. */
  async chainFor(unitId: string | null, gridPath: string, siteId: string | null): Promise<string[]> {
    const override = this.policies.value<string[] | null>('alert.chain', { gridPath, siteId });
    if (override) return override;
    const chain: string[] = [];
    if (unitId) {
      const unit = await this.db
        .selectFrom('emergency_units')
        .select('leader_id')
        .where('id', '=', unitId)
        .executeTakeFirst();
      if (unit) chain.push(unit.leader_id);
      const members = await this.db
        .selectFrom('emergency_unit_members')
        .select('person_id')
        .where('unit_id', '=', unitId)
        .orderBy('position')
        .execute();
      chain.push(...members.map((m) => m.person_id));
    }
    const ids = gridPath.split('/').filter(Boolean).reverse();
    const nodes = new Map(
      (
        await this.db
          .selectFrom('grid_nodes')
          .select(['id', 'kind'])
          .where('id', 'in', ids.length ? ids : [''])
          .execute()
      ).map((n) => [n.id, n.kind]),
    );
    const duty = await this.db
      .selectFrom('grid_duty')
      .selectAll()
      .where('grid_node_id', 'in', ids.length ? ids : [''])
      .orderBy('position')
      .execute();
    const first = (kinds: string[], role: string) => {
      for (const id of ids) {
        if (!kinds.includes(nodes.get(id) ?? '')) continue;
        const hit = duty.find((d) => d.grid_node_id === id && d.role === role);
        if (hit) return hit.person_id;
      }
      return undefined;
    };
    const gridLeader = first(['micro-grid', 'grid', 'exclusive', 'community'], 'grid-leader');
    const dutyRoom = first(['street'], 'duty-room');
    if (gridLeader) chain.push(gridLeader);
    if (dutyRoom) chain.push(dutyRoom);
    return [...new Set(chain)];
  }

  /** What a repeat of an incident changes on its active alert (an upgrade takes the new severity). */
  private repeatOf(active: AlertRow, req: AlertRequested, now: number) {
    const upgraded = moreSevere(req.severity, active.severity as Severity);
    const update = {
      count: active.count + 1,
      updated_at: now,
      ...(upgraded ? { severity: req.severity, cause: req.cause, ...storedTitle(req) } : {}),
    };
    // A repeat while someone has acknowledged is news for them: the button was pressed again.
    const again = active.state === 'acknowledged' ? 'repeated-after-ack' : 'repeated';
    return { update, upgraded, action: upgraded ? 'upgraded' : again };
  }

  private freshRow(req: AlertRequested, incidentKey: string, chain: string[], now: number): AlertRow {
    const at = { gridPath: req.gridPath, siteId: req.siteId, deviceId: req.deviceId };
    return {
      id: `A${new Date(now).toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(4).toString('hex')}`,
      incident_key: incidentKey,
      severity: req.severity,
      cause: req.cause,
      ...storedTitle(req),
      device_id: req.deviceId,
      device_type: req.deviceType,
      site_id: req.siteId,
      grid_node_id: req.gridNodeId,
      grid_path: req.gridPath,
      emergency_unit_id: req.emergencyUnitId,
      ticket_id: req.ticketId,
      state: 'raised',
      count: 1,
      chain: JSON.stringify(chain),
      step: 0,
      next_step_at:
        chain.length > 1 ? now + this.perSeverity('alert.stepDelaySeconds', req.severity, at) : null,
      next_renotify_at: now + this.perSeverity('alert.renotifySeconds', req.severity, at),
      renotify_count: 0,
      acked_by: null,
      acked_at: null,
      ack_channel: null,
      resolved_by: null,
      resolved_at: null,
      resolution: null,
      reason: null,
      created_at: now,
      updated_at: now,
    };
  }

  async raise(req: AlertRequested): Promise<AlertView> {
    const incidentKey = req.ticketId ? `ticket:${req.ticketId}` : `${req.deviceId}:${req.cause}`;
    const held = this.volatile.find(req.eventRef, incidentKey);
    if (held && this.volatile.absorbed(held.id, req.eventRef)) {
      // Alerted from memory while the disk was full; the rules ran again on the event: store it now.
      if (req.ticketId && !held.ticket_id)
        this.volatile.update(held.id, { ticket_id: req.ticketId, incident_key: `ticket:${req.ticketId}` });
      await this.persistHeld();
      return this.view(this.volatile.get(held.id) ?? held);
    }
    if (req.eventRef) {
      // After a crash the rules run again on events they had not finished: one event, one alert.
      const prior = await this.db
        .selectFrom('alert_events')
        .innerJoin('alerts', 'alerts.id', 'alert_events.alert_id')
        .selectAll('alerts')
        .where('alert_events.event_ref', '=', req.eventRef)
        .executeTakeFirst();
      if (prior)
        return this.view(
          prior.ticket_id || !req.ticketId ? prior : await this.attachTicket(prior, req.ticketId),
        );
    }
    const chain = await this.chainFor(req.emergencyUnitId, req.gridPath, req.siteId);
    const now = this.now();
    let outcome: { row: AlertRow; action: string };
    if (held) outcome = this.repeatHeld(held, req, now);
    else {
      try {
        outcome = await this.db.transaction().execute(async (trx) => {
          const active = await trx
            .selectFrom('alerts')
            .selectAll()
            .where('incident_key', '=', incidentKey)
            .where('state', '!=', 'resolved')
            .executeTakeFirst();
          if (active) {
            const { update, upgraded, action } = this.repeatOf(active, req, now);
            const row = { ...active, ...update };
            await trx.updateTable('alerts').set(update).where('id', '=', active.id).execute();
            await appendAudit(trx, {
              actor: 'system',
              action: upgraded ? 'alert.upgrade' : 'alert.repeat',
              entityType: 'alert',
              entityId: active.id,
              data: { cause: req.cause, severity: req.severity },
            });
            await this.recordEvent(trx, row.id, req.eventRef);
            return { row, action };
          }
          const row = this.freshRow(req, incidentKey, chain, now);
          await trx.insertInto('alerts').values(row).execute();
          if (req.ticketId) {
            await trx
              .insertInto('ticket_links')
              .values({ ticket_id: req.ticketId, kind: 'alert', ref: row.id, at: now })
              .onConflict((oc) => oc.doNothing())
              .execute();
          }
          await appendAudit(trx, {
            actor: 'system',
            action: 'alert.raise',
            entityType: 'alert',
            entityId: row.id,
            data: { cause: req.cause, severity: req.severity, chain },
          });
          await this.recordEvent(trx, row.id, req.eventRef);
          return { row, action: 'raised' };
        });
      } catch (err) {
        if (!this.options.storage?.failed('store', err)) throw err;
        outcome = await this.raiseHeld(req, incidentKey, chain, now);
      }
    }
    const { row, action } = outcome;
    this.changed(row, action);
    if (action !== 'repeated' && row.state === 'raised')
      await this.notify(row, JSON.parse(row.chain).slice(0, row.step + 1), true);
    else if (row.state === 'acknowledged') {
      // The chain stopped at the acknowledgement; the person who took it on hears that it happened
      // again (and the groups hear of an upgrade, as on a raised alert).
      const acker = row.acked_by?.startsWith('person:') ? [row.acked_by.slice('person:'.length)] : [];
      await this.notify(row, acker, action === 'upgraded');
    }
    return this.view(row);
  }

  /** An alert raised without a ticket (from memory, the disk full) joins the ticket raised after recovery. */
  private async attachTicket(row: AlertRow, ticketId: string): Promise<AlertRow> {
    const update = { ticket_id: ticketId, incident_key: `ticket:${ticketId}`, updated_at: this.now() };
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('alerts').set(update).where('id', '=', row.id).execute();
      await trx
        .insertInto('ticket_links')
        .values({ ticket_id: ticketId, kind: 'alert', ref: row.id, at: row.created_at })
        .onConflict((oc) => oc.doNothing())
        .execute();
    });
    const next = { ...row, ...update };
    this.changed(next, 'linked');
    return next;
  }

  private async recordEvent(
    trx: Transaction<Database>,
    alertId: string,
    eventRef: string | null,
  ): Promise<void> {
    if (!eventRef) return;
    await trx
      .insertInto('alert_events')
      .values({ event_ref: eventRef, alert_id: alertId })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }

  // ---- from memory while the disk refuses writes ----

  /** The disk refused the alert: raise it (or count the repeat) in memory, delivered all the same. */
  private async raiseHeld(req: AlertRequested, incidentKey: string, chain: string[], now: number) {
    const stored = await this.db
      .selectFrom('alerts')
      .selectAll()
      .where('incident_key', '=', incidentKey)
      .where('state', '!=', 'resolved')
      .executeTakeFirst();
    if (stored) {
      this.volatile.add(stored, null);
      return this.repeatHeld(stored, req, now);
    }
    const row = this.freshRow(req, incidentKey, chain, now);
    this.volatile.add(row, req.eventRef);
    this.logger.error(
      { alertId: row.id, cause: req.cause },
      'alert raised from memory: the store refuses writes',
    );
    return { row, action: 'raised' };
  }

  private repeatHeld(held: AlertRow, req: AlertRequested, now: number): { row: AlertRow; action: string } {
    const { update, action } = this.repeatOf(held, req, now);
    // A ticket raised after recovery gives the held alert its place in the ticket's incident.
    const placed =
      req.ticketId && !held.ticket_id
        ? { ticket_id: req.ticketId, incident_key: `ticket:${req.ticketId}` }
        : {};
    const row = this.volatile.update(held.id, { ...update, ...placed }) as AlertRow;
    this.volatile.addEvent(held.id, req.eventRef);
    return { row, action };
  }

  /** Write what was held in memory once the store takes writes again. */
  async persistHeld(): Promise<void> {
    for (const { row, events, deliveries } of this.volatile.entries()) {
      try {
        await this.db.transaction().execute(async (trx) => {
          const exists = await trx
            .selectFrom('alerts')
            .select('id')
            .where('id', '=', row.id)
            .executeTakeFirst();
          const { id, ...rest } = row;
          await trx
            .insertInto('alerts')
            .values(row)
            .onConflict((oc) => oc.column('id').doUpdateSet(rest))
            .execute();
          for (const e of events) await this.recordEvent(trx, id, e);
          if (row.ticket_id)
            await trx
              .insertInto('ticket_links')
              .values({ ticket_id: row.ticket_id, kind: 'alert', ref: id, at: row.created_at })
              .onConflict((oc) => oc.doNothing())
              .execute();
          if (deliveries.length > 0) await trx.insertInto('alert_deliveries').values(deliveries).execute();
          await appendAudit(trx, {
            actor: 'system',
            action: exists ? 'alert.stored-after-outage' : 'alert.raise',
            entityType: 'alert',
            entityId: id,
            data: { heldInMemory: true, cause: row.cause, severity: row.severity, events },
          });
        });
        this.volatile.forget(row.id);
        this.changed(row, 'stored');
      } catch (err) {
        if (!this.options.storage?.failed('store', err))
          this.logger.error({ err, alertId: row.id }, 'storing a held alert failed');
        return;
      }
    }
  }

  // ---- delivery ----

  private async log(
    alertId: string,
    step: number,
    recipient: string,
    channel: string,
    attempt: number,
    result: DeliveryView['result'],
    detail: string | null,
  ): Promise<void> {
    const entry = { alert_id: alertId, step, recipient, channel, attempt, at: this.now(), result, detail };
    this.metrics.alertDeliveries.inc({ channel, result });
    // A held alert keeps its log in memory; a delivery must never fail because its log line could not.
    if (this.volatile.logDelivery(entry)) return;
    try {
      await this.db.insertInto('alert_deliveries').values(entry).execute();
    } catch (err) {
      if (!this.options.storage?.failed('store', err)) throw err;
    }
  }

  private quiet(row: AlertRow): boolean {
    if (row.severity === 'critical') return false;
    const q = this.policies.value<{ start: string; end: string } | null>('alert.quietHours', {
      gridPath: row.grid_path,
      siteId: row.site_id,
      deviceId: row.device_id,
    });
    if (!q) return false;
    const hm = new Date(this.now()).toLocaleTimeString('en-GB', {
      timeZone: 'Asia/Shanghai',
      hour: '2-digit',
      minute: '2-digit',
      hour12: false,
    });
    return q.start <= q.end ? hm >= q.start && hm < q.end : hm >= q.start || hm < q.end;
  }

  /**
   * One notification round: MQTT to each recipient's own topic, and (on raise, escalation and
   * upgrade, not on every re-notification) the group webhooks of the unit and its grid. MQTT goes
   * first and never waits for a webhook.
   */
  private async notify(row: AlertRow, recipients: string[], withWebhooks: boolean): Promise<void> {
    const view = this.view(row);
    const site = row.site_id
      ? ((await this.db.selectFrom('sites').select('name').where('id', '=', row.site_id).executeTakeFirst())
          ?.name ?? row.site_id)
      : row.grid_node_id;
    const names = await this.db
      .selectFrom('people')
      .select(['id', 'name'])
      .where('id', 'in', recipients.length ? recipients : [''])
      .execute();
    const who = recipients.map((r) => names.find((n) => n.id === r)?.name ?? r).join('、');
    const quiet = this.quiet(row);
    const unreachable = new Set<string>();
    for (const person of recipients) {
      if (quiet) {
        await this.log(row.id, row.step, person, 'mqtt', 1, 'suppressed', 'quiet hours (non-critical)');
        continue;
      }
      const message = alertMessage(view, site, this.links.url(row.id, person), who);
      const result = await this.persons.deliver(
        row.id,
        row.step,
        person,
        { alert: view, text: message.text, ackUrl: this.links.url(row.id, person) },
        (entry) => this.volatile.logDelivery(entry),
        (err) => this.options.storage?.failed('store', err) !== undefined,
      );
      if (result === 'no-channel') unreachable.add(person);
    }
    // Groups hear of the step that reaches someone, not of each person skipped on the way.
    if ((await this.skipUnreachable(row, unreachable)) || !withWebhooks || quiet) return;
    for (const target of await this.targetsFor(row)) {
      const message = alertMessage(view, site, this.links.url(row.id, `webhook:${target.id}`), who);
      this.send(row, target, message);
    }
  }

  /**
   * The person the chain has reached cannot be reached at all (no session, no token): page the
   * next one now instead of after the step delay. The step itself stays the stored-due-time
   * escalation (audited, once, restart-safe); only its due time moves to now.
   */
  private async skipUnreachable(row: AlertRow, unreachable: Set<string>): Promise<boolean> {
    const chain = JSON.parse(row.chain) as string[];
    const current = chain[row.step];
    if (current === undefined || !unreachable.has(current) || row.step >= chain.length - 1) return false;
    const now = this.now();
    if (this.volatile.get(row.id)) this.volatile.update(row.id, { next_step_at: now });
    else
      try {
        await this.db
          .updateTable('alerts')
          .set({ next_step_at: now })
          .where('id', '=', row.id)
          .where('state', '=', 'raised')
          .where('step', '=', row.step)
          .execute();
      } catch (err) {
        // The disk refused: the next person is paged at the step delay instead of now.
        if (!this.options.storage?.failed('store', err)) throw err;
        return false;
      }
    this.logger.info(
      { alertId: row.id, personId: current, step: row.step },
      'no channel; paging the next person',
    );
    this.schedule();
    return true;
  }

  private async targetsFor(row: AlertRow): Promise<WebhookTargetRow[]> {
    const grids = row.grid_path.split('/').filter(Boolean);
    const all = await this.db.selectFrom('webhook_targets').selectAll().execute();
    return all.filter(
      (t) =>
        atLeast(row.severity as Severity, t.min_severity as Severity) &&
        ((t.scope_kind === 'unit' && t.scope_id === row.emergency_unit_id) ||
          (t.scope_kind === 'grid' && grids.includes(t.scope_id))),
    );
  }

  /** One webhook message, through the shared deliverer; every attempt lands in this alert's log. */
  private send(row: AlertRow, target: WebhookTargetRow, message: ReturnType<typeof alertMessage>): void {
    this.deliverer.send(target, message, (attempt, result, detail) =>
      this.log(row.id, row.step, target.id, `webhook:${target.kind}`, attempt, result, detail),
    );
  }

  // ---- re-notification and escalation (stored due times) ----

  async tick(): Promise<void> {
    const now = this.now();
    const due = await this.db
      .selectFrom('alerts')
      .select('id')
      .where('state', '=', 'raised')
      .where((eb) => eb.or([eb('next_step_at', '<=', now), eb('next_renotify_at', '<=', now)]))
      .execute();
    for (const { id } of due) {
      if (this.volatile.get(id)) continue;
      try {
        await this.advance(id, now);
      } catch (err) {
        if (!this.options.storage?.failed('store', err)) {
          this.logger.error({ err, alertId: id }, 'alert escalation failed');
          continue;
        }
        // The disk refuses the step: take the alert into memory and escalate it from there.
        const row = await this.db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
        if (row) this.volatile.add(row, null);
      }
    }
    for (const row of this.volatile.all()) await this.advanceHeld(row, now);
  }

  /** The escalation step of a held alert, decided in memory exactly as advance() does on disk. */
  private async advanceHeld(r: AlertRow, now: number): Promise<void> {
    if (r.state !== 'raised') return;
    const step = this.nextStep(r, now);
    if (!step) return;
    const row = this.volatile.update(r.id, step.update) as AlertRow;
    if (!step.kind) return;
    this.changed(row, step.kind);
    await this.notify(row, step.recipients, step.kind === 'escalated');
  }

  /** The step an alert takes now, if any: escalate to the next person, or re-notify (both stored due times). */
  private nextStep(r: AlertRow, now: number) {
    const chain = JSON.parse(r.chain) as string[];
    const at = { gridPath: r.grid_path, siteId: r.site_id, deviceId: r.device_id };
    if (r.next_step_at != null && r.next_step_at <= now && r.step < chain.length - 1) {
      const step = r.step + 1;
      const update = {
        step,
        next_step_at:
          step < chain.length - 1 ? now + this.perSeverity('alert.stepDelaySeconds', r.severity, at) : null,
        next_renotify_at: now + this.perSeverity('alert.renotifySeconds', r.severity, at),
        updated_at: now,
      };
      return { update, kind: 'escalated' as const, recipients: [chain[step] as string], to: chain[step] };
    }
    if (r.next_renotify_at != null && r.next_renotify_at <= now) {
      const count = r.renotify_count + 1;
      const more = count < this.policies.value<number>('alert.maxRenotify', at);
      const update = {
        renotify_count: count,
        next_renotify_at: more ? now + this.perSeverity('alert.renotifySeconds', r.severity, at) : null,
        updated_at: now,
      };
      return { update, kind: 'renotified' as const, recipients: chain.slice(0, r.step + 1), to: undefined };
    }
    if (r.next_step_at != null && r.next_step_at <= now)
      return { update: { next_step_at: null }, kind: undefined, recipients: [], to: undefined };
    return undefined;
  }

  private async advance(id: string, now: number): Promise<void> {
    // The due times move on in the same transaction that decides the step, so a restart never
    // repeats a step (and a step that fell due while the hub was down happens at start).
    const outcome = await this.db.transaction().execute(async (trx) => {
      const r = await trx.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
      if (r?.state !== 'raised') return undefined;
      const step = this.nextStep(r, now);
      if (!step) return undefined;
      await trx.updateTable('alerts').set(step.update).where('id', '=', id).execute();
      if (step.kind === 'escalated')
        await appendAudit(trx, {
          actor: 'system',
          action: 'alert.escalate',
          entityType: 'alert',
          entityId: id,
          data: { step: r.step + 1, to: step.to },
        });
      return step.kind
        ? { row: { ...r, ...step.update }, kind: step.kind, recipients: step.recipients }
        : undefined;
    });
    if (!outcome) return;
    this.changed(outcome.row, outcome.kind);
    await this.notify(outcome.row, outcome.recipients, outcome.kind === 'escalated');
  }

  async gridPathOf(id: string): Promise<string> {
    return (
      (await this.db.selectFrom('alerts').select('grid_path').where('id', '=', id).executeTakeFirst())
        ?.grid_path ?? ''
    );
  }

  /** Alerts with names beside their ids (API responses, the console's stream). */
  named(views: AlertView[]): Promise<AlertView[]> {
    return nameAlerts(this.db, views);
  }

  async titleOf(id: string): Promise<string> {
    return (
      (await this.db.selectFrom('alerts').select('title').where('id', '=', id).executeTakeFirst())?.title ??
      id
    );
  }

  // ---- people's side ----

  private async unitsOf(personId: string): Promise<Set<string>> {
    const led = await this.db
      .selectFrom('emergency_units')
      .select('id')
      .where('leader_id', '=', personId)
      .execute();
    const member = await this.db
      .selectFrom('emergency_unit_members')
      .select('unit_id')
      .where('person_id', '=', personId)
      .execute();
    return new Set([...led.map((u) => u.id), ...member.map((m) => m.unit_id)]);
  }

  /** Staff see alerts in their jurisdiction; unit leaders those of the units they belong to. */
  async visibility(
    principal: Principal,
  ): Promise<
    (row: { grid_path: string; site_id: string | null; emergency_unit_id: string | null }) => boolean
  > {
    const staff = principal.roles.some((r) =>
      ['admin', 'grid-staff', 'street-duty', 'department', 'property-manager'].includes(r),
    );
    const units = principal.roles.includes('unit-leader')
      ? await this.unitsOf(principal.personId)
      : new Set<string>();
    return (row) =>
      (staff && covers(principal.jurisdiction, { gridPath: row.grid_path, siteId: row.site_id })) ||
      (row.emergency_unit_id != null && units.has(row.emergency_unit_id));
  }

  private async visible(principal: Principal, id: string): Promise<AlertRow> {
    requirePermission(principal, 'alert:read');
    const row =
      this.volatile.get(id) ??
      (await this.db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst());
    if (!row) throw new GridhubError('GH_ERR_NOT_FOUND', `no alert '${id}'`);
    if (!(await this.visibility(principal))(row))
      throw new GridhubError('GH_ERR_FORBIDDEN_SCOPE', `alert '${id}' is not one of yours`);
    return row;
  }

  async list(principal: Principal, q: AlertListQuery): Promise<{ total: number; items: AlertView[] }> {
    requirePermission(principal, 'alert:read');
    let query = this.db.selectFrom('alerts').selectAll();
    if (q.state) query = query.where('state', '=', q.state);
    if (q.active !== undefined) query = query.where('state', q.active ? '!=' : '=', 'resolved');
    if (q.severity) query = query.where('severity', '=', q.severity);
    if (q.unit) query = query.where('emergency_unit_id', '=', q.unit);
    const see = await this.visibility(principal);
    // Alerts held in memory (the disk refused them) are listed too, newest version first.
    const held = this.volatile
      .all()
      .filter(
        (r) =>
          (!q.state || r.state === q.state) &&
          (q.active === undefined || (r.state !== 'resolved') === q.active),
      )
      .filter(
        (r) => (!q.severity || r.severity === q.severity) && (!q.unit || r.emergency_unit_id === q.unit),
      );
    const heldIds = new Set(this.volatile.all().map((r) => r.id));
    const stored = (await query.orderBy('created_at', 'desc').execute()).filter((r) => !heldIds.has(r.id));
    const rows = [...held, ...stored].sort((a, b) => b.created_at - a.created_at).filter(see);
    const page = rows.slice(q.offset, q.offset + q.limit).map((r) => this.view(r));
    return { total: rows.length, items: await nameAlerts(this.db, page) };
  }

  async detail(principal: Principal, id: string): Promise<{ alert: AlertView; deliveries: DeliveryView[] }> {
    const row = await this.visible(principal, id);
    const deliveries = await this.db
      .selectFrom('alert_deliveries')
      .selectAll()
      .where('alert_id', '=', id)
      .orderBy('id')
      .execute();
    return nameDeliveries(
      this.db,
      this.view(row),
      deliveries.map((d) => ({
        step: d.step,
        recipient: d.recipient,
        channel: d.channel,
        attempt: d.attempt,
        at: iso(d.at) as string,
        result: d.result as DeliveryView['result'],
        detail: d.detail,
        confirmedAt: iso(d.confirmed_at),
      })),
    );
  }

  /**
   * A state change by a person or a device: decided from the current row, written with its audit
   * entry in one transaction — or, while the disk refuses writes, made on the alert in memory.
   */
  private async transition(
    id: string,
    actor: string,
    decide: (r: AlertRow) => Partial<AlertRow>,
    audit: { action: string; data: (r: AlertRow) => unknown },
    change: string,
  ): Promise<AlertView> {
    const held = this.volatile.get(id);
    let row: AlertRow;
    if (held) row = this.volatile.update(id, decide(held)) as AlertRow;
    else {
      try {
        row = await this.db.transaction().execute(async (trx) => {
          const r = await trx.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
          if (!r) throw new GridhubError('GH_ERR_NOT_FOUND', `no alert '${id}'`);
          const update = decide(r);
          await trx.updateTable('alerts').set(update).where('id', '=', id).execute();
          await appendAudit(trx, {
            actor,
            action: audit.action,
            entityType: 'alert',
            entityId: id,
            data: audit.data(r),
          });
          return { ...r, ...update };
        });
      } catch (err) {
        if (isGridhubError(err) || !this.options.storage?.failed('store', err)) throw err;
        const r = await this.db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
        if (!r) throw err;
        this.volatile.add(r, null);
        row = this.volatile.update(id, decide(r)) as AlertRow;
      }
    }
    this.changed(row, change);
    return this.view(row);
  }

  /** Acknowledge: stops re-notification and escalation for everyone. */
  async acknowledge(actor: string, id: string, channel: string): Promise<AlertView> {
    const now = this.now();
    return this.transition(
      id,
      actor,
      (r) => {
        if (r.state !== 'raised')
          throw new GridhubError('GH_ERR_INVALID_TRANSITION', `the alert is already ${r.state}`, {
            state: r.state,
          });
        return {
          state: 'acknowledged',
          acked_by: actor,
          acked_at: now,
          ack_channel: channel,
          next_step_at: null,
          next_renotify_at: null,
          updated_at: now,
        };
      },
      { action: 'alert.acknowledge', data: (r) => ({ channel, step: r.step }) },
      'acknowledged',
    );
  }

  /**
   * May a staff client publish here? Only the ack topic of an alert the person may see and
   * acknowledge (the broker closes the connection otherwise).
   */
  async mayPublish(principal: Principal, topic: string): Promise<boolean> {
    const ack = parseTopic('staffAck', topic);
    if (!ack) return false;
    try {
      requirePermission(principal, 'alert:ack');
      await this.visible(principal, ack.alertId);
      return true;
    } catch (err) {
      if (err instanceof GridhubError) return false;
      throw err;
    }
  }

  async acknowledgeAs(principal: Principal, id: string, channel: string): Promise<AlertView> {
    requirePermission(principal, 'alert:ack');
    await this.visible(principal, id);
    return (
      await nameAlerts(this.db, [await this.acknowledge(actorOf(principal), id, channel)])
    )[0] as AlertView;
  }

  async resolve(
    actor: string,
    id: string,
    resolution: 'restored' | 'resolved' | 'false-alarm',
    reason: string | null,
  ): Promise<AlertView> {
    const now = this.now();
    return this.transition(
      id,
      actor,
      (r) => {
        if (r.state === 'resolved')
          throw new GridhubError('GH_ERR_INVALID_TRANSITION', 'the alert is already resolved', {
            state: r.state,
          });
        return {
          state: 'resolved',
          resolved_by: actor,
          resolved_at: now,
          resolution,
          reason,
          next_step_at: null,
          next_renotify_at: null,
          updated_at: now,
        };
      },
      { action: `alert.${resolution}`, data: () => ({ reason }) },
      resolution,
    );
  }

  async resolveAs(
    principal: Principal,
    id: string,
    falseAlarm: boolean,
    reason: string | null,
  ): Promise<AlertView> {
    requirePermission(principal, 'alert:resolve');
    await this.visible(principal, id);
    if (falseAlarm && !reason) throw new GridhubError('GH_ERR_VALIDATION', 'a false alarm needs a reason');
    const view = await this.resolve(actorOf(principal), id, falseAlarm ? 'false-alarm' : 'resolved', reason);
    return (await nameAlerts(this.db, [view]))[0] as AlertView;
  }

  async stats(principal: Principal): Promise<
    {
      unitId: string | null;
      severity: string;
      alerts: number;
      acknowledged: number;
      meanSecondsToAck: number | null;
      ackedWithinDeadline: number | null;
    }[]
  > {
    requirePermission(principal, 'alert:read');
    const see = await this.visibility(principal);
    const rows = (await this.db.selectFrom('alerts').selectAll().execute()).filter(see);
    const groups = new Map<string, AlertRow[]>();
    for (const r of rows) {
      const k = `${r.emergency_unit_id ?? ''}\u0000${r.severity}`;
      groups.set(k, [...(groups.get(k) ?? []), r]);
    }
    return [...groups.entries()].map(([k, list]) => {
      const [unit, severity] = k.split('\u0000') as [string, string];
      const acked = list.filter((r) => r.acked_at != null);
      const secs = acked.map((r) => ((r.acked_at as number) - r.created_at) / 1000);
      const within = acked.filter(
        (r) =>
          (r.acked_at as number) - r.created_at <=
          this.perSeverity('alert.ackSeconds', r.severity, {
            gridPath: r.grid_path,
            siteId: r.site_id,
            deviceId: r.device_id,
          }),
      );
      return {
        unitId: unit || null,
        severity,
        alerts: list.length,
        acknowledged: acked.length,
        meanSecondsToAck: secs.length
          ? Math.round((secs.reduce((a, b) => a + b, 0) / secs.length) * 100) / 100
          : null,
        ackedWithinDeadline: list.length ? Math.round((within.length / list.length) * 10_000) / 10_000 : null,
      };
    });
  }

  // ---- webhook targets ----

  async addTarget(principal: Principal, body: WebhookTargetBody): Promise<WebhookTargetRow> {
    requirePermission(principal, 'webhook:write');
    const { gridPath: path } = await placeTargetScope(this.db, body.scope.kind, body.scope.id);
    if (!covers(principal.jurisdiction, { gridPath: path }))
      throw new GridhubError(
        'GH_ERR_FORBIDDEN_SCOPE',
        `${body.scope.kind} '${body.scope.id}' is outside your jurisdiction`,
      );
    await this.options.outbound.checkUrl(body.url);
    const row: WebhookTargetRow = {
      id: `wh-${randomBytes(5).toString('hex')}`,
      name: body.name,
      kind: body.kind,
      url: body.url,
      secret: body.secret ?? null,
      scope_kind: body.scope.kind,
      scope_id: body.scope.id,
      min_severity: body.minSeverity,
      created_by: actorOf(principal),
      created_at: new Date(this.now()).toISOString(),
    };
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('webhook_targets').values(row).execute();
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'webhook.create',
        entityType: 'webhook',
        entityId: row.id,
        data: { name: row.name, kind: row.kind, scope: body.scope },
      });
    });
    return row;
  }

  /** Targets whose unit or grid lies in the caller's jurisdiction (a target that cannot be placed: admins only). */
  async targets(principal: Principal): Promise<WebhookTargetRow[]> {
    requirePermission(principal, 'webhook:write');
    const rows = await this.db.selectFrom('webhook_targets').selectAll().orderBy('created_at').execute();
    const out: WebhookTargetRow[] = [];
    for (const t of rows) if (await this.targetInScope(principal, t)) out.push(t);
    return out;
  }

  private async targetInScope(principal: Principal, t: WebhookTargetRow): Promise<boolean> {
    if (principal.jurisdiction.kind === 'all') return true;
    const place = await placeTargetScope(this.db, t.scope_kind, t.scope_id).catch(() => undefined);
    return place !== undefined && covers(principal.jurisdiction, { gridPath: place.gridPath });
  }

  async removeTarget(principal: Principal, id: string): Promise<void> {
    requirePermission(principal, 'webhook:write');
    const target = await this.db
      .selectFrom('webhook_targets')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!target) throw new GridhubError('GH_ERR_NOT_FOUND', `no webhook '${id}'`);
    if (!(await this.targetInScope(principal, target)))
      throw new GridhubError('GH_ERR_FORBIDDEN_SCOPE', `webhook '${id}' is outside your jurisdiction`);
    await this.db.transaction().execute(async (trx) => {
      const res = await trx.deleteFrom('webhook_targets').where('id', '=', id).executeTakeFirst();
      if (res.numDeletedRows === 0n) throw new GridhubError('GH_ERR_NOT_FOUND', `no webhook '${id}'`);
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'webhook.delete',
        entityType: 'webhook',
        entityId: id,
      });
    });
  }

  // ---- lifecycle ----

  private async ensureLinkSecret(): Promise<void> {
    if (this.options.linkSecret) {
      this.linkSecret = this.options.linkSecret;
      return;
    }
    const stored = await this.db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', 'alerts.linkSecret')
      .executeTakeFirst();
    if (stored) {
      this.linkSecret = stored.value;
      return;
    }
    this.linkSecret = randomBytes(32).toString('base64url');
    await this.db
      .insertInto('settings')
      .values({ key: 'alerts.linkSecret', value: this.linkSecret })
      .execute();
  }

  private schedule(): void {
    this.ticking = this.ticking
      .then(() => this.tick())
      .catch((err: unknown) => this.logger.error({ err }, 'alert tick failed'));
  }

  async start(): Promise<void> {
    await this.ensureLinkSecret();
    this.persons.start();
    const guard = (what: string) => (err: unknown) => this.logger.error({ err }, what);
    this.unsubscribe.push(
      this.bus.on('alert.requested', (req) => {
        this.raise(req).catch(guard('raising an alert failed'));
      }),
      // A device's own restore resolves its alert (the ticket stays for people to verify).
      this.bus.on('device.event', (e) => {
        const restores: Record<string, (cause: string) => boolean> = {
          'smoke.clear': (c) => c === 'smoke-alarm',
          'leak.clear': (c) => c === 'water-leak',
          'fault.clear': (c) => c === 'elevator-entrapment' && 'code' in e.event && e.event.code === '11',
        };
        const matches = restores[e.event.type];
        if (!matches) return;
        this.db
          .selectFrom('alerts')
          .selectAll()
          .where('device_id', '=', e.deviceId)
          .where('state', '!=', 'resolved')
          .execute()
          .then(async (rows) => {
            for (const r of rows)
              if (matches(r.cause))
                await this.resolve(
                  `device:${e.deviceId}`,
                  r.id,
                  'restored',
                  `${e.event.type} reported by the device`,
                );
          })
          .catch(guard('resolving on restore failed'));
      }),
      // Acknowledgement from a leader app over MQTT: gh/v1/hub/ack/<alertId>.
      this.bus.on('staff.message', ({ principal, topic }) => {
        const ack = parseTopic('staffAck', topic);
        if (!ack) return;
        this.acknowledgeAs(principal, ack.alertId, 'mqtt').catch((err: unknown) =>
          this.logger.info(
            { err: (err as Error).message, alertId: ack.alertId, personId: principal.personId },
            'MQTT acknowledgement refused',
          ),
        );
      }),
    );
    this.schedule();
    await this.ticking;
    this.timer = setInterval(() => this.schedule(), this.options.tickMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const off of this.unsubscribe.splice(0)) off();
    this.persons.stop();
    this.deliverer.stop();
    await this.ticking;
    this.listeners.clear();
  }
}
