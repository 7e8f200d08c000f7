import { randomBytes } from 'node:crypto';
import { moreSevere } from '../contract/severity.ts';
import type { TitleSpec } from '../contract/titles.ts';
import type { Placement } from '../grid/placement.ts';
import type { TicketRow } from '../store/tables.ts';
import { FINISHED_STATE_LIST, LEVEL_NAMES } from './lifecycle.ts';
import type { TicketParts } from './ticket-parts.ts';
import type { Severity, TicketCategory, TicketView } from './ticket-schemas.ts';
import { storeTitle } from './ticket-titles.ts';

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

/**
 * Raising: open a ticket at its level with the level's assignee and deadline, or append to the open
 * one of the same incident (a worse repeat takes the severity and says so); idempotent per device
 * event (the rules run again after a crash); the recurrence flag (回头看). Rule tickets are accepted
 * and dispatched by the hub at once; people's tickets are reported.
 */
export class TicketRaising {
  constructor(private readonly p: TicketParts) {}

  /** Open a ticket, or append to the open one of the same incident. */
  async raise(input: RaiseTicket): Promise<{ ticket: TicketView; created: boolean }> {
    const { placement } = input;
    const ctx = this.p.ctx(placement);
    const title = await storeTitle(this.p.db, input.title, placement);
    const result = await this.p.db.transaction().execute(async (trx) => {
      const now = this.p.now();
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
          if (input.link) await this.p.tickets.link(trx, open.id, input.link);
          await this.p.tickets.timeline(trx, updated, {
            actor: input.actor,
            action: 'repeat',
            note: input.note ?? title.title,
            data: input.link ?? null,
          });
          return { row: updated, created: false, replay: false };
        }
      }
      const level = Math.min(4, Math.max(1, input.level ?? this.p.startLevel(input.category, ctx)));
      const minutes = input.levelMinutes ?? this.p.levelMinutes(input.category, ctx);
      const assignment = await this.p.routing.assign(
        trx,
        level,
        placement.gridPath,
        input.category,
        placement.siteId,
      );
      // 回头看: the same category at the same device or site keeps coming back.
      const windowMs = this.p.policies.value('ticket.recurrence.windowDays', ctx) * 86_400_000;
      const threshold = this.p.policies.value('ticket.recurrence.count', ctx);
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
      if (input.link) await this.p.tickets.link(trx, row.id, input.link);
      await this.p.tickets.timeline(trx, row, {
        actor: input.actor,
        action: 'report',
        to: auto ? 'reported' : row.state,
        note: input.note ?? null,
        data: { category: row.category, severity: row.severity, source: row.source },
      });
      if (auto) {
        await this.p.tickets.timeline(trx, row, {
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
        await this.p.tickets.timeline(trx, row, {
          actor: 'system',
          action: 'flag-recurring',
          note: `${previous + 1} tickets of this kind within the window (回头看)`,
        });
      return { row, created: true, replay: false };
    });
    if (!result.replay)
      this.p.changed({ ...result.row, path: placement.gridPath }, result.created ? 'created' : 'repeat');
    return { ticket: this.p.view(result.row), created: result.created };
  }

  /** A system note (rules: "smoke cleared at the device", "device back online"). */
  async note(
    id: string,
    actor: string,
    note: string,
    link?: { kind: string; ref: string; at?: number },
  ): Promise<void> {
    const row = await this.p.db.transaction().execute(async (trx) => {
      const r = await this.p.tickets.row(trx, id);
      if (link) await this.p.tickets.link(trx, id, link);
      await this.p.tickets.timeline(trx, r, { actor, action: 'note', note });
      return r;
    });
    this.p.changed(row, 'note');
  }
}
