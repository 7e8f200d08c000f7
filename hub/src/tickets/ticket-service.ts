import { randomBytes } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import { appendAudit } from '../audit/audit-log.ts';
import { actorOf, covers, type Principal, requirePermission, requireScope } from '../auth/principal.ts';
import { roleAllows } from '../auth/roles.ts';
import type { Bus } from '../bus.ts';
import { moreSevere, worse } from '../contract/severity.ts';
import type { TitleSpec } from '../contract/titles.ts';
import { GridhubError } from '../errors.ts';
import { lookupNames } from '../grid/names.ts';
import { type Placement, placeDevice, placeGridNode, placeSite, under } from '../grid/placement.ts';
import type { Logger } from '../logger.ts';
import { POLICY_DEFINITIONS } from '../policies/definitions.ts';
import { type PolicyContext, type PolicyService, policyContext } from '../policies/policy-service.ts';
import type { Store } from '../store/store.ts';
import type { Database, TicketRow } from '../store/tables.ts';
import { isoTime } from '../time.ts';
import {
  allowedFrom,
  FINISHED_STATE_LIST,
  isOpen,
  LEVEL_NAMES,
  LIFECYCLE,
  stateAfterEscalation,
  TICKET_ACTIONS,
  type TicketAction,
  type TicketState,
  UNHANDLED_STATES,
} from './lifecycle.ts';
import type { TicketRouting } from './routing.ts';
import type {
  ActionBody,
  ManualTicketBody,
  Severity,
  TicketCategory,
  TicketListQuery,
  TicketStats,
  TicketView,
} from './ticket-schemas.ts';
import { nameTickets, storeTitle, ticketRefs, titleView, withTicketNames } from './ticket-titles.ts';

type Trx = Transaction<Database>;

/** Where a ticket is; the same shape rules get from a DeviceEvent. */
export type TicketPlacement = Placement;

export interface RaiseTicket {
  category: TicketCategory;
  source: 'device-rule' | 'manual' | 'node-red' | 'hotline';
  severity: Severity;
  /** a rule's title code (rendered in Chinese for the text, in the reader's language by the console), or a person's text */
  title: string | TitleSpec;
  description?: string;
  placement: TicketPlacement;
  /** one open ticket per incident key: a repeat appends to it instead of opening another */
  incidentKey?: string;
  level?: number;
  levelMinutes?: number;
  link?: { kind: string; ref: string; at?: number };
  note?: string;
  actor: string;
}

const iso = isoTime;

/**
 * Grid tickets (工单): raised by rules, people and flows; worked through the lifecycle in
 * lifecycle.ts; climbing the four levels when a level's time runs out or its handler declares the
 * matter beyond it. Every change is in the ticket's timeline and the audit log, in one transaction.
 */
export class TicketService {
  constructor(
    private readonly store: Store,
    private readonly policies: PolicyService,
    private readonly routing: TicketRouting,
    private readonly bus: Bus,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  private ctx(p: Parameters<typeof policyContext>[0]): PolicyContext {
    return policyContext(p);
  }

  startLevel(category: TicketCategory, ctx: PolicyContext): number {
    const key = `ticket.${category}.startLevel`;
    return POLICY_DEFINITIONS.has(key) ? this.policies.value<number>(key, ctx) : 1;
  }

  levelMinutes(category: TicketCategory, ctx: PolicyContext): number {
    if (category === 'elevator-rescue')
      return this.policies.value<number>('elevator.rescue.arrivalMinutes', ctx);
    const key = `ticket.${category}.levelMinutes`;
    return this.policies.value<number>(POLICY_DEFINITIONS.has(key) ? key : 'ticket.manual.levelMinutes', ctx);
  }

  view(row: TicketRow): TicketView {
    return {
      id: row.id,
      category: row.category as TicketCategory,
      source: row.source as TicketView['source'],
      severity: row.severity as Severity,
      level: row.level,
      state: row.state as TicketState,
      title: row.title,
      ...titleView(row),
      description: row.description,
      gridNodeId: row.grid_node_id,
      siteId: row.site_id,
      deviceId: row.device_id,
      emergencyUnitId: row.emergency_unit_id,
      assigneeId: row.assignee_id,
      departmentId: row.department_id,
      levelDueAt: iso(row.level_due_at),
      overdue: isOpen(row.state as TicketState) && row.due_at != null && row.due_at < this.now(),
      parked: row.parked === 1,
      extended: row.extended === 1,
      supervised: row.supervised === 1,
      reminders: row.reminders,
      reworkCount: row.rework_count,
      recurring: row.recurring === 1,
      occurrences: row.occurrences,
      satisfaction: row.satisfaction,
      resolution: row.resolution,
      createdAt: iso(row.created_at) as string,
      updatedAt: iso(row.updated_at) as string,
      closedAt: iso(row.closed_at),
    };
  }

  private async timeline(
    trx: Trx,
    row: TicketRow,
    entry: {
      actor: string;
      action: string;
      from?: string | null;
      to?: string | null;
      note?: string | null;
      data?: unknown;
    },
  ): Promise<void> {
    await trx
      .insertInto('ticket_timeline')
      .values({
        ticket_id: row.id,
        at: this.now(),
        actor: entry.actor,
        action: entry.action,
        from_state: entry.from ?? null,
        to_state: entry.to ?? null,
        level: row.level,
        note: entry.note ?? null,
        data: entry.data === undefined ? null : JSON.stringify(entry.data),
      })
      .execute();
    await appendAudit(trx, {
      actor: entry.actor,
      action: `ticket.${entry.action}`,
      entityType: 'ticket',
      entityId: row.id,
      data: {
        from: entry.from ?? null,
        to: entry.to ?? null,
        level: row.level,
        note: entry.note ?? null,
        ...(entry.data ? { data: entry.data } : {}),
      },
    });
  }

  private async row(trx: Trx | Store['db'], id: string): Promise<TicketRow & { path: string }> {
    const row = await trx
      .selectFrom('tickets')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'tickets.grid_node_id')
      .selectAll('tickets')
      .select('grid_nodes.path')
      .where('tickets.id', '=', id)
      .executeTakeFirst();
    if (!row) throw new GridhubError('GH_ERR_NOT_FOUND', `no ticket '${id}'`);
    return row;
  }

  private changed(row: TicketRow, action: string): void {
    this.bus.emit('ticket.changed', { ticket: this.view(row), action });
  }

  /**
   * A link's time is the latest time its ref was linked: the smoke rule counts the detectors whose
   * last alarm lies within the confirmation window, so a detector that alarms again after an earlier
   * alarm (a fire flaring up after a resolve) counts again.
   */
  private async link(trx: Trx, id: string, link: { kind: string; ref: string; at?: number }): Promise<void> {
    await trx
      .insertInto('ticket_links')
      .values({ ticket_id: id, kind: link.kind, ref: link.ref, at: link.at ?? this.now() })
      .onConflict((oc) =>
        oc.columns(['ticket_id', 'kind', 'ref']).doUpdateSet({ at: sql<number>`max(at, excluded.at)` }),
      )
      .execute();
  }

  async findOpen(incidentKey: string): Promise<TicketRow | undefined> {
    return this.store.db
      .selectFrom('tickets')
      .selectAll()
      .where('incident_key', '=', incidentKey)
      .where('state', 'not in', FINISHED_STATE_LIST)
      .executeTakeFirst();
  }

  /** Open tickets of one category with their grid path (rules that revisit their tickets on a tick). */
  async openOf(category: TicketCategory): Promise<(TicketRow & { path: string })[]> {
    return this.store.db
      .selectFrom('tickets')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'tickets.grid_node_id')
      .selectAll('tickets')
      .select('grid_nodes.path')
      .where('tickets.category', '=', category)
      .where('tickets.state', 'not in', FINISHED_STATE_LIST)
      .execute();
  }

  /** Open a ticket, or append to the open one of the same incident. */
  async raise(input: RaiseTicket): Promise<{ ticket: TicketView; created: boolean }> {
    const { placement } = input;
    const ctx = this.ctx(placement);
    const title = await storeTitle(this.store.db, input.title, placement);
    const result = await this.store.db.transaction().execute(async (trx) => {
      const now = this.now();
      if (input.link?.kind === 'event') {
        // The rules run again on an event after a crash: what this event already did is found by
        // the event, and nothing is counted twice. `created` tells the rule the event opened it.
        const prior = await trx
          .selectFrom('ticket_links')
          .innerJoin('tickets', 'tickets.id', 'ticket_links.ticket_id')
          .selectAll('tickets')
          .where('ticket_links.kind', '=', 'event')
          .where('ticket_links.ref', '=', input.link.ref)
          // one event may raise several tickets (a fault, and the recurring-fault it completes)
          .where((eb) =>
            input.incidentKey
              ? eb('tickets.incident_key', '=', input.incidentKey)
              : eb('tickets.category', '=', input.category),
          )
          .executeTakeFirst();
        if (prior) return { row: prior, created: prior.origin_ref === input.link.ref, replay: true };
      }
      if (input.incidentKey) {
        const open = await trx
          .selectFrom('tickets')
          .selectAll()
          .where('incident_key', '=', input.incidentKey)
          .where('state', 'not in', FINISHED_STATE_LIST)
          .executeTakeFirst();
        if (open) {
          const upgraded = moreSevere(input.severity, open.severity as Severity);
          const severity = upgraded ? input.severity : open.severity;
          // A worse repeat says what is worse now (水位预警 → 水位告警); a same-or-milder one keeps the title.
          const set = {
            occurrences: open.occurrences + 1,
            severity,
            updated_at: now,
            ...(upgraded && title.title_code ? title : {}),
          };
          await trx.updateTable('tickets').set(set).where('id', '=', open.id).execute();
          const updated = { ...open, ...set };
          if (input.link) await this.link(trx, open.id, input.link);
          await this.timeline(trx, updated, {
            actor: input.actor,
            action: 'repeat',
            note: input.note ?? title.title,
            data: input.link ?? null,
          });
          return { row: updated, created: false, replay: false };
        }
      }
      const level = Math.min(4, Math.max(1, input.level ?? this.startLevel(input.category, ctx)));
      const minutes = input.levelMinutes ?? this.levelMinutes(input.category, ctx);
      const assignment = await this.routing.assign(
        trx,
        level,
        placement.gridPath,
        input.category,
        placement.siteId,
      );
      // 回头看: the same category at the same device or site keeps coming back.
      const windowMs = this.policies.value<number>('ticket.recurrence.windowDays', ctx) * 86_400_000;
      const threshold = this.policies.value<number>('ticket.recurrence.count', ctx);
      let previous = 0;
      if (placement.deviceId || placement.siteId) {
        const q = await trx
          .selectFrom('tickets')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('category', '=', input.category)
          .where('created_at', '>=', now - windowMs)
          .where((eb) =>
            placement.deviceId
              ? eb('device_id', '=', placement.deviceId)
              : eb('site_id', '=', placement.siteId as string),
          )
          .executeTakeFirstOrThrow();
        previous = Number(q.n);
      }
      // Rule tickets are accepted and dispatched by the hub at once; people's tickets are reported.
      const auto = input.source === 'device-rule';
      const row: TicketRow = {
        id: `T${new Date(now).toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(4).toString('hex')}`,
        category: input.category,
        source: input.source,
        severity: input.severity,
        level,
        state: auto ? 'dispatched' : 'reported',
        ...title,
        description: input.description ?? null,
        grid_node_id: placement.gridNodeId,
        site_id: placement.siteId,
        device_id: placement.deviceId,
        emergency_unit_id: placement.emergencyUnitId,
        incident_key: input.incidentKey ?? null,
        assignee_id: assignment.assigneeId,
        department_id: assignment.departmentId,
        level_due_at: now + minutes * 60_000,
        due_at: now + minutes * 60_000,
        parked: 0,
        extended: 0,
        supervised: 0,
        reminders: 0,
        rework_count: 0,
        recurring: previous + 1 >= threshold ? 1 : 0,
        occurrences: 1,
        satisfaction: null,
        created_at: now,
        updated_at: now,
        accepted_at: auto ? now : null,
        dispatched_at: auto ? now : null,
        closed_at: null,
        resolution: null,
        origin_ref: input.link?.kind === 'event' ? input.link.ref : null,
      };
      await trx.insertInto('tickets').values(row).execute();
      if (input.link) await this.link(trx, row.id, input.link);
      await this.timeline(trx, row, {
        actor: input.actor,
        action: 'report',
        to: auto ? 'reported' : row.state,
        note: input.note ?? null,
        data: { category: row.category, severity: row.severity, source: row.source },
      });
      if (auto) {
        await this.timeline(trx, row, {
          actor: 'system',
          action: 'dispatch',
          from: 'reported',
          to: 'dispatched',
          data: {
            level,
            levelName: LEVEL_NAMES[level as 1],
            assignee: row.assignee_id,
            department: row.department_id,
          },
        });
      }
      if (row.recurring)
        await this.timeline(trx, row, {
          actor: 'system',
          action: 'flag-recurring',
          note: `${previous + 1} tickets of this kind within the window (回头看)`,
        });
      return { row, created: true, replay: false };
    });
    if (!result.replay) this.changed(result.row, result.created ? 'created' : 'repeat');
    return { ticket: this.view(result.row), created: result.created };
  }

  /** A system note (rules: "smoke cleared at the device", "device back online"). */
  async note(
    id: string,
    actor: string,
    note: string,
    link?: { kind: string; ref: string; at?: number },
  ): Promise<void> {
    const row = await this.store.db.transaction().execute(async (trx) => {
      const r = await this.row(trx, id);
      if (link) await this.link(trx, id, link);
      await this.timeline(trx, r, { actor, action: 'note', note });
      return r;
    });
    this.changed(row, 'note');
  }

  async links(id: string, kind: string): Promise<{ ref: string; at: number }[]> {
    return this.store.db
      .selectFrom('ticket_links')
      .select(['ref', 'at'])
      .where('ticket_id', '=', id)
      .where('kind', '=', kind)
      .execute();
  }

  /** Move a ticket up to `toLevel` (at most 4) with the new level's assignee and deadline. */
  private async escalateIn(
    trx: Trx,
    row: TicketRow & { path: string },
    toLevel: number,
    actor: string,
    reason: string,
    severity?: Severity,
  ): Promise<TicketRow> {
    const level = Math.min(4, toLevel);
    const ctx = this.ctx({ gridPath: row.path, siteId: row.site_id, deviceId: row.device_id });
    const assignment = await this.routing.assign(
      trx,
      level,
      row.path,
      row.category as TicketCategory,
      row.site_id,
    );
    const state = stateAfterEscalation(row.state as TicketState);
    const now = this.now();
    const minutes = this.levelMinutes(row.category as TicketCategory, ctx);
    const update = {
      level,
      state,
      assignee_id: assignment.assigneeId,
      department_id: assignment.departmentId,
      level_due_at: now + minutes * 60_000,
      severity: severity ? worse(severity, row.severity as Severity) : row.severity,
      updated_at: now,
    };
    await trx.updateTable('tickets').set(update).where('id', '=', row.id).execute();
    const next = { ...row, ...update };
    await this.timeline(trx, next, {
      actor,
      action: 'escalate',
      from: row.state,
      to: state,
      note: reason,
      data: {
        fromLevel: row.level,
        toLevel: level,
        levelName: LEVEL_NAMES[level as 1],
        assignee: assignment.assigneeId,
        department: assignment.departmentId,
      },
    });
    return next;
  }

  /**
   * Rules: raise a ticket straight to a level (a confirmed fire goes to the district's fire
   * department); `title` is what the ticket has become (烟感报警 → 确认火警).
   */
  async escalateTo(
    id: string,
    level: number,
    actor: string,
    reason: string,
    severity?: Severity,
    title?: TitleSpec,
  ): Promise<TicketView> {
    const row = await this.store.db.transaction().execute(async (trx) => {
      const r = await this.row(trx, id);
      const next =
        r.level >= level && !(severity && moreSevere(severity, r.severity as Severity))
          ? r
          : await this.escalateIn(trx, r, Math.max(level, r.level), actor, reason, severity);
      if (!title) return next;
      const stored = await storeTitle(trx, title, {
        gridNodeId: r.grid_node_id,
        siteId: r.site_id,
        deviceId: r.device_id,
      });
      await trx.updateTable('tickets').set(stored).where('id', '=', id).execute();
      return { ...next, ...stored };
    });
    this.changed(row, 'escalate');
    return this.view(row);
  }

  /** Rules: the cause went away by itself; close the ticket if nobody has started on it. */
  async resolveIfUnhandled(incidentKey: string, actor: string, note: string): Promise<boolean> {
    const open = await this.findOpen(incidentKey);
    if (!open) return false;
    const unhandled = UNHANDLED_STATES.has(open.state as TicketState);
    const row = await this.store.db.transaction().execute(async (trx) => {
      if (!unhandled) {
        await this.timeline(trx, open, { actor, action: 'note', note });
        return open;
      }
      const now = this.now();
      const update = {
        state: 'closed',
        closed_at: now,
        updated_at: now,
        resolution: 'auto-resolved',
        level_due_at: null,
      };
      await trx.updateTable('tickets').set(update).where('id', '=', open.id).execute();
      const next = { ...open, ...update };
      await this.timeline(trx, next, { actor, action: 'auto-resolve', from: open.state, to: 'closed', note });
      return next;
    });
    this.changed(row, unhandled ? 'auto-resolve' : 'note');
    return unhandled;
  }

  /** The scheduler: every ticket whose level deadline passed climbs one level (level 4 stays, marked overdue). */
  async escalateDue(): Promise<number> {
    const now = this.now();
    const due = await this.store.db
      .selectFrom('tickets')
      .select('id')
      .where('level_due_at', '<=', now)
      .where('parked', '=', 0)
      .where('state', 'not in', FINISHED_STATE_LIST)
      .execute();
    for (const { id } of due) {
      try {
        const row = await this.store.db.transaction().execute(async (trx) => {
          const r = await this.row(trx, id);
          if (r.level_due_at == null || r.level_due_at > now) return undefined; // changed meanwhile
          if (r.level >= 4) {
            await trx
              .updateTable('tickets')
              .set({ level_due_at: null, reminders: r.reminders + 1, updated_at: now })
              .where('id', '=', id)
              .execute();
            const next = { ...r, level_due_at: null, reminders: r.reminders + 1 };
            await this.timeline(trx, next, {
              actor: 'system',
              action: 'overdue',
              note: 'deadline passed at district level; no higher level to climb to',
            });
            return next;
          }
          return this.escalateIn(
            trx,
            r,
            r.level + 1,
            'system',
            `level ${r.level} (${LEVEL_NAMES[r.level as 1]}) deadline passed`,
          );
        });
        if (row) this.changed(row, 'escalate');
      } catch (err) {
        this.logger.error({ err, ticketId: id }, 'escalation failed');
      }
    }
    return due.length;
  }

  // ---- people's side ----

  async create(principal: Principal, body: ManualTicketBody): Promise<TicketView> {
    requirePermission(principal, 'ticket:create');
    const db = this.store.db;
    let placement: TicketPlacement;
    if (body.device) placement = await placeDevice(db, body.device);
    else if (body.site) placement = await placeSite(db, body.site);
    else if (body.gridNode) placement = await placeGridNode(db, body.gridNode);
    else throw new GridhubError('GH_ERR_VALIDATION', 'a ticket needs a device, a site or a grid node');
    requireScope(principal, { gridPath: placement.gridPath, siteId: placement.siteId }, 'the ticket’s place');
    const { ticket } = await this.raise({
      category: body.category,
      source: body.source,
      severity: body.severity,
      title: body.title,
      ...(body.description ? { description: body.description } : {}),
      placement,
      ...(body.level ? { level: body.level } : {}),
      actor: actorOf(principal),
    });
    return (await nameTickets(this.store.db, [ticket]))[0] as TicketView;
  }

  private async visible(principal: Principal, id: string): Promise<TicketRow & { path: string }> {
    requirePermission(principal, 'ticket:read');
    const row = await this.row(this.store.db, id);
    requireScope(principal, { gridPath: row.path, siteId: row.site_id }, `ticket '${id}'`);
    return row;
  }

  async detail(principal: Principal, id: string) {
    const row = await this.visible(principal, id);
    const db = this.store.db;
    const timeline = await db
      .selectFrom('ticket_timeline')
      .selectAll()
      .where('ticket_id', '=', id)
      .orderBy('seq')
      .execute();
    const links = await db
      .selectFrom('ticket_links')
      .selectAll()
      .where('ticket_id', '=', id)
      .orderBy('at')
      .execute();
    // Devices of event links (`deviceId:eventId`; device ids have no colon) and device links.
    const linkDevice = (l: { kind: string; ref: string }) =>
      l.kind === 'device' ? l.ref : l.kind === 'event' ? (l.ref.split(':')[0] ?? null) : null;
    const view = this.view(row);
    const refs = ticketRefs([view]);
    const names = await lookupNames(db, {
      ...refs,
      person: [...(refs.person ?? []), ...timeline.map((t) => /^person:(.+)$/.exec(t.actor)?.[1])],
      device: [...(refs.device ?? []), ...links.map(linkDevice)],
    });
    return {
      ticket: withTicketNames(view, names),
      timeline: timeline.map((t) => ({
        at: iso(t.at) as string,
        actor: t.actor,
        actorName: names.actor(t.actor),
        action: t.action,
        fromState: t.from_state,
        toState: t.to_state,
        level: t.level,
        note: t.note,
        data: t.data ? (JSON.parse(t.data) as unknown) : null,
      })),
      links: links.map((l) => ({
        kind: l.kind,
        ref: l.ref,
        name: names.get('device', linkDevice(l)),
        at: iso(l.at) as string,
      })),
      allowedActions: TICKET_ACTIONS.filter(
        (a) =>
          roleAllows(principal.roles, LIFECYCLE[a].permission) && allowedFrom(a, row.state as TicketState),
      ),
    };
  }

  private scoped(principal: Principal) {
    let q = this.store.db
      .selectFrom('tickets')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'tickets.grid_node_id');
    const j = principal.jurisdiction;
    if (j.kind === 'grid') q = q.where(under('grid_nodes.path', j.path));
    if (j.kind === 'sites')
      q = q.where('tickets.site_id', 'in', j.siteIds.length > 0 ? j.siteIds : ['\u0000']);
    return q;
  }

  async list(principal: Principal, f: TicketListQuery): Promise<{ total: number; items: TicketView[] }> {
    requirePermission(principal, 'ticket:read');
    let q = this.scoped(principal);
    if (f.grid) {
      const node = { path: (await placeGridNode(this.store.db, f.grid)).gridPath };
      q = q.where(under('grid_nodes.path', node.path));
    }
    if (f.level) q = q.where('tickets.level', '=', f.level);
    if (f.state) q = q.where('tickets.state', '=', f.state);
    if (f.open !== undefined) q = q.where('tickets.state', f.open ? 'not in' : 'in', FINISHED_STATE_LIST);
    if (f.category) q = q.where('tickets.category', '=', f.category);
    if (f.device) q = q.where('tickets.device_id', '=', f.device);
    if (f.overdue !== undefined) {
      const now = this.now();
      q = f.overdue
        ? q.where('tickets.due_at', '<', now).where('tickets.state', 'not in', FINISHED_STATE_LIST)
        : q.where((eb) =>
            eb.or([eb('tickets.due_at', '>=', now), eb('tickets.state', 'in', FINISHED_STATE_LIST)]),
          );
    }
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await q
      .selectAll('tickets')
      .orderBy('tickets.created_at', 'desc')
      .limit(f.limit)
      .offset(f.offset)
      .execute();
    return {
      total: Number(total.n),
      items: await nameTickets(
        this.store.db,
        rows.map((r) => this.view(r)),
      ),
    };
  }

  /** A person acts on a ticket: role, jurisdiction, then the lifecycle decide. */
  async act(
    principal: Principal,
    id: string,
    action: TicketAction,
    body: ActionBody = {},
  ): Promise<TicketView> {
    const current = await this.visible(principal, id);
    requirePermission(principal, LIFECYCLE[action].permission);
    const actor = actorOf(principal);
    const row = await this.store.db.transaction().execute(async (trx) => {
      const r = await this.row(trx, id);
      const from = r.state as TicketState;
      if (!allowedFrom(action, from)) {
        throw new GridhubError('GH_ERR_INVALID_TRANSITION', `cannot ${action} a ticket that is ${from}`, {
          state: from,
          action,
        });
      }
      const now = this.now();
      if (action === 'escalate') {
        if (r.level >= 4)
          throw new GridhubError('GH_ERR_INVALID_TRANSITION', 'the ticket is already at district level', {
            state: from,
            action,
          });
        return this.escalateIn(
          trx,
          r,
          r.level + 1,
          actor,
          body.note ?? 'beyond the capability of this level (超出本级解决能力)',
        );
      }
      const to = LIFECYCLE[action].to ?? from;
      const set: Partial<TicketRow> = { state: to, updated_at: now };
      let data: Record<string, unknown> | undefined;
      switch (action) {
        case 'accept':
          set.accepted_at = now;
          break;
        case 'dispatch': {
          const a =
            body.assignee || body.department
              ? { assigneeId: body.assignee ?? null, departmentId: body.department ?? null }
              : await this.routing.assign(trx, r.level, r.path, r.category as TicketCategory, r.site_id);
          if (
            a.assigneeId &&
            !(await trx.selectFrom('people').select('id').where('id', '=', a.assigneeId).executeTakeFirst())
          ) {
            throw new GridhubError('GH_ERR_PERSON_UNKNOWN', `no person '${a.assigneeId}'`);
          }
          set.assignee_id = a.assigneeId;
          set.department_id = a.departmentId;
          set.dispatched_at = now;
          data = { assignee: a.assigneeId, department: a.departmentId };
          break;
        }
        case 'rework':
          set.rework_count = r.rework_count + 1;
          break;
        case 'close':
          set.closed_at = now;
          set.level_due_at = null;
          set.resolution = 'resolved';
          break;
        case 'reject':
          set.closed_at = now;
          set.level_due_at = null;
          set.resolution = 'rejected';
          break;
        case 'rate':
          if (body.rating === undefined)
            throw new GridhubError('GH_ERR_VALIDATION', 'rate needs a rating (1–5)');
          set.satisfaction = body.rating;
          data = { rating: body.rating };
          break;
        case 'extend': {
          const minutes =
            body.minutes ??
            this.levelMinutes(
              r.category as TicketCategory,
              this.ctx({ gridPath: r.path, siteId: r.site_id, deviceId: r.device_id }),
            );
          set.extended = 1;
          set.level_due_at = (r.level_due_at ?? now) + minutes * 60_000;
          set.due_at = (r.due_at ?? now) + minutes * 60_000;
          data = { minutes };
          break;
        }
        case 'park':
          set.parked = 1;
          break;
        case 'unpark':
          set.parked = 0;
          // the level's clock restarts when a parked job resumes
          set.level_due_at =
            now +
            this.levelMinutes(
              r.category as TicketCategory,
              this.ctx({ gridPath: r.path, siteId: r.site_id, deviceId: r.device_id }),
            ) *
              60_000;
          break;
        case 'supervise':
          set.supervised = 1;
          break;
        case 'remind':
          set.reminders = r.reminders + 1;
          break;
        default:
          break;
      }
      await trx.updateTable('tickets').set(set).where('id', '=', id).execute();
      const next = { ...r, ...set };
      await this.timeline(trx, next, {
        actor,
        action,
        from,
        to: to === from ? null : to,
        note: body.note ?? null,
        ...(data ? { data } : {}),
      });
      // Closing a maintenance ticket of an elevator counts as its maintenance visit.
      if (
        action === 'close' &&
        r.device_id &&
        (r.category === 'maintenance' || r.category === 'recurring-fault')
      ) {
        const isElevator = await trx
          .selectFrom('devices')
          .select('type')
          .where('id', '=', r.device_id)
          .executeTakeFirst();
        if (isElevator?.type === 'elevator-monitor') {
          await trx
            .insertInto('maintenance_visits')
            .values({
              device_id: r.device_id,
              at: now,
              by: actor,
              notes: body.note ?? 'maintenance ticket closed',
              ticket_id: id,
            })
            .execute();
        }
      }
      return next;
    });
    void current;
    this.changed(row, action);
    return (await nameTickets(this.store.db, [this.view(row)]))[0] as TicketView;
  }

  // ---- statistics ----

  async stats(principal: Principal, q: { grid?: string; from?: string; to?: string }): Promise<TicketStats> {
    requirePermission(principal, 'ticket:read');
    let query = this.scoped(principal);
    if (q.grid) {
      const node = { path: (await placeGridNode(this.store.db, q.grid)).gridPath };
      if (!covers(principal.jurisdiction, { gridPath: node.path }))
        throw new GridhubError(
          'GH_ERR_FORBIDDEN_SCOPE',
          `grid node '${q.grid}' is outside your jurisdiction`,
        );
      query = query.where(under('grid_nodes.path', node.path));
    }
    if (q.from) query = query.where('tickets.created_at', '>=', Date.parse(q.from));
    if (q.to) query = query.where('tickets.created_at', '<', Date.parse(q.to));
    const rows = await query.selectAll('tickets').where('tickets.state', '!=', 'rejected').execute();
    const rates = (list: TicketRow[]) => {
      const closed = list.filter((t) => t.closed_at != null);
      const rated = list.filter((t) => t.satisfaction != null);
      const accepted = list.filter((t) => t.accepted_at != null);
      const ratio = (n: number, d: number) => (d === 0 ? null : Math.round((n / d) * 10_000) / 10_000);
      const mean = (xs: number[]) =>
        xs.length === 0 ? null : Math.round((xs.reduce((a, b) => a + b, 0) / xs.length / 60_000) * 100) / 100;
      return {
        tickets: list.length,
        closed: closed.length,
        closureRate: ratio(closed.length, list.length),
        onTimeRate: ratio(
          closed.filter((t) => t.due_at == null || (t.closed_at as number) <= t.due_at).length,
          closed.length,
        ),
        reworkRate: ratio(closed.filter((t) => t.rework_count > 0).length, closed.length),
        satisfactionRate: ratio(rated.filter((t) => (t.satisfaction as number) >= 4).length, rated.length),
        meanMinutesToAccept: mean(accepted.map((t) => (t.accepted_at as number) - t.created_at)),
        meanMinutesToClose: mean(closed.map((t) => (t.closed_at as number) - t.created_at)),
      };
    };
    const group = <K extends string | number>(key: (t: TicketRow) => K) => {
      const m = new Map<K, TicketRow[]>();
      for (const t of rows) m.set(key(t), [...(m.get(key(t)) ?? []), t]);
      return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    };
    return {
      total: rates(rows),
      byGrid: group((t) => t.grid_node_id).map(([gridNodeId, list]) => ({ gridNodeId, ...rates(list) })),
      byLevel: group((t) => t.level).map(([level, list]) => ({ level, ...rates(list) })),
    };
  }

  /** Record an elevator maintenance visit (property manager or maintenance company). */
  async recordVisit(
    principal: Principal,
    deviceId: string,
    visit: { at?: string; notes?: string },
  ): Promise<void> {
    requirePermission(principal, 'maintenance:record');
    const d = await this.store.db
      .selectFrom('devices')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'devices.grid_node_id')
      .select(['devices.type', 'devices.site_id', 'grid_nodes.path'])
      .where('devices.id', '=', deviceId)
      .executeTakeFirst();
    if (!d) throw new GridhubError('GH_ERR_DEVICE_UNKNOWN', `no device '${deviceId}'`);
    requireScope(principal, { gridPath: d.path, siteId: d.site_id }, `device '${deviceId}'`);
    if (d.type !== 'elevator-monitor')
      throw new GridhubError('GH_ERR_VALIDATION', 'maintenance visits are recorded for elevators');
    const at = visit.at ? Date.parse(visit.at) : this.now();
    await this.store.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('maintenance_visits')
        .values({
          device_id: deviceId,
          at,
          by: actorOf(principal),
          notes: visit.notes ?? null,
          ticket_id: null,
        })
        .execute();
      await appendAudit(trx, {
        actor: actorOf(principal),
        action: 'elevator.maintenance-visit',
        entityType: 'device',
        entityId: deviceId,
        data: { at: iso(at), notes: visit.notes ?? null },
      });
    });
  }
}
