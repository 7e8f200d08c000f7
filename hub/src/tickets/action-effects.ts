import { GridhubError } from '../errors.ts';
import type { TicketRow } from '../store/tables.ts';
import type { TicketAction } from './lifecycle.ts';
import type { Assignment } from './routing.ts';
import type { ActionBody } from './ticket-schemas.ts';
import type { PlacedTicket } from './ticket-store.ts';

/** What an effect may ask while its action's transaction is open. */
export interface EffectContext {
  now: number;
  /** the minutes the ticket's level has (its category's policy at its place) */
  levelMinutes(): number;
  /** who takes the ticket at its level, from the grid tree */
  assign(): Promise<Assignment>;
  personExists(id: string): Promise<boolean>;
}

/** The row changes an action makes besides its state, and the data its timeline entry records. */
export interface Effect {
  set: Partial<TicketRow>;
  data?: Record<string, unknown>;
}

type EffectOf = (r: PlacedTicket, body: ActionBody, c: EffectContext) => Effect | Promise<Effect>;

const finished =
  (resolution: string): EffectOf =>
  (_r, _b, c) => ({
    set: { closed_at: c.now, level_due_at: null, resolution },
  });

/**
 * Each lifecycle action's effect as data, beside lifecycle.ts (which says from which states, to
 * which state, for which roles). An action without an entry changes the state only; escalation is
 * its own (escalation.ts: a new level, assignee and deadline).
 */
export const ACTION_EFFECTS: Partial<Record<Exclude<TicketAction, 'escalate'>, EffectOf>> = {
  accept: (_r, _b, c) => ({ set: { accepted_at: c.now } }),
  dispatch: async (_r, body, c) => {
    const a =
      body.assignee || body.department
        ? { assigneeId: body.assignee ?? null, departmentId: body.department ?? null }
        : await c.assign();
    if (a.assigneeId && !(await c.personExists(a.assigneeId)))
      throw new GridhubError('GH_ERR_PERSON_UNKNOWN', `no person '${a.assigneeId}'`);
    return {
      set: { assignee_id: a.assigneeId, department_id: a.departmentId, dispatched_at: c.now },
      data: { assignee: a.assigneeId, department: a.departmentId },
    };
  },
  rework: (r) => ({ set: { rework_count: r.rework_count + 1 } }),
  close: finished('resolved'),
  reject: finished('rejected'),
  rate: (_r, body) => {
    if (body.rating === undefined) throw new GridhubError('GH_ERR_VALIDATION', 'rate needs a rating (1–5)');
    return { set: { satisfaction: body.rating }, data: { rating: body.rating } };
  },
  extend: (r, body, c) => {
    const minutes = body.minutes ?? c.levelMinutes();
    return {
      set: {
        extended: 1,
        level_due_at: (r.level_due_at ?? c.now) + minutes * 60_000,
        due_at: (r.due_at ?? c.now) + minutes * 60_000,
      },
      data: { minutes },
    };
  },
  park: () => ({ set: { parked: 1 } }),
  // the level's clock restarts when a parked job resumes
  unpark: (_r, _b, c) => ({ set: { parked: 0, level_due_at: c.now + c.levelMinutes() * 60_000 } }),
  supervise: () => ({ set: { supervised: 1 } }),
  remind: (r) => ({ set: { reminders: r.reminders + 1 } }),
};
