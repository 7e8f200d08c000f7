import { moreSevere, worse } from '../contract/severity.ts';
import type { TitleSpec } from '../contract/titles.ts';
import type { TicketRow } from '../store/tables.ts';
import {
  FINISHED_STATE_LIST,
  LEVEL_NAMES,
  stateAfterEscalation,
  type TicketState,
  UNHANDLED_STATES,
} from './lifecycle.ts';
import type { TicketParts } from './ticket-parts.ts';
import type { Severity, TicketCategory, TicketView } from './ticket-schemas.ts';
import type { PlacedTicket, Trx } from './ticket-store.ts';
import { storeTitle } from './ticket-titles.ts';

/**
 * Climbing the four levels (DOMAIN.md: micro-grid → grid → street 吹哨 → district department 报到):
 * when a level's stored deadline passes (the scheduler), when a rule raises a ticket straight to a
 * level, and the rules' auto-resolve when a cause went away before anybody started on it.
 */
export class TicketEscalation {
  constructor(private readonly p: TicketParts) {}

  /** Move a ticket up to `toLevel` (at most 4) with the new level's assignee and deadline. */
  async escalateIn(
    trx: Trx,
    row: TicketRow & { path: string },
    toLevel: number,
    actor: string,
    reason: string,
    severity?: Severity,
  ): Promise<PlacedTicket> {
    const level = Math.min(4, toLevel);
    const ctx = this.p.ctx({ gridPath: row.path, siteId: row.site_id, deviceId: row.device_id });
    const assignment = await this.p.routing.assign(
      trx,
      level,
      row.path,
      row.category as TicketCategory,
      row.site_id,
    );
    const state = stateAfterEscalation(row.state as TicketState);
    const now = this.p.now();
    const minutes = this.p.levelMinutes(row.category as TicketCategory, ctx);
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
    await this.p.tickets.timeline(trx, next, {
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
    const row = await this.p.db.transaction().execute(async (trx) => {
      const r = await this.p.tickets.row(trx, id);
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
    this.p.changed(row, 'escalate');
    return this.p.view(row);
  }

  /** Rules: the cause went away by itself; close the ticket if nobody has started on it. */
  async resolveIfUnhandled(incidentKey: string, actor: string, note: string): Promise<boolean> {
    const open = await this.p.tickets.findOpen(incidentKey);
    if (!open) return false;
    const unhandled = UNHANDLED_STATES.has(open.state as TicketState);
    const row = await this.p.db.transaction().execute(async (trx) => {
      if (!unhandled) {
        await this.p.tickets.timeline(trx, open, { actor, action: 'note', note });
        return open;
      }
      const now = this.p.now();
      const update = {
        state: 'closed',
        closed_at: now,
        updated_at: now,
        resolution: 'auto-resolved',
        level_due_at: null,
      };
      await trx.updateTable('tickets').set(update).where('id', '=', open.id).execute();
      const next = { ...open, ...update };
      await this.p.tickets.timeline(trx, next, {
        actor,
        action: 'auto-resolve',
        from: open.state,
        to: 'closed',
        note,
      });
      return next;
    });
    this.p.changed(row, unhandled ? 'auto-resolve' : 'note');
    return unhandled;
  }

  /** The scheduler: every ticket whose level deadline passed climbs one level (level 4 stays, marked overdue). */
  async escalateDue(): Promise<number> {
    const now = this.p.now();
    const due = await this.p.db
      .selectFrom('tickets')
      .select('id')
      .where('level_due_at', '<=', now)
      .where('parked', '=', 0)
      .where('state', 'not in', FINISHED_STATE_LIST)
      .execute();
    for (const { id } of due) {
      try {
        const row = await this.p.db.transaction().execute(async (trx) => {
          const r = await this.p.tickets.row(trx, id);
          if (r.level_due_at == null || r.level_due_at > now) return undefined; // changed meanwhile
          if (r.level >= 4) {
            await trx
              .updateTable('tickets')
              .set({ level_due_at: null, reminders: r.reminders + 1, updated_at: now })
              .where('id', '=', id)
              .execute();
            const next = { ...r, level_due_at: null, reminders: r.reminders + 1 };
            await this.p.tickets.timeline(trx, next, {
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
        if (row) this.p.changed(row, 'escalate');
      } catch (err) {
        this.p.logger.error({ err, ticketId: id }, 'escalation failed');
      }
    }
    return due.length;
  }
}
