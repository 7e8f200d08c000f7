import { actorOf, type Principal, requirePermission } from '../auth/principal.ts';
import { GridhubError } from '../errors.ts';
import { ACTION_EFFECTS, type EffectContext } from './action-effects.ts';
import type { TicketEscalation } from './escalation.ts';
import { allowedFrom, LIFECYCLE, type TicketAction, type TicketState } from './lifecycle.ts';
import type { TicketParts } from './ticket-parts.ts';
import type { TicketQueries } from './ticket-queries.ts';
import type { ActionBody, TicketCategory, TicketView } from './ticket-schemas.ts';
import type { PlacedTicket, Trx } from './ticket-store.ts';
import { nameTickets } from './ticket-titles.ts';
import { ticketView } from './ticket-view.ts';

/**
 * A person acts on a ticket: role, jurisdiction, then the lifecycle (lifecycle.ts) decides whether
 * the action is allowed from the ticket's state, and its effect (action-effects.ts) what else
 * changes; the change and its timeline entry commit together, then go on the bus.
 */
export class TicketActions {
  constructor(
    private readonly p: TicketParts,
    private readonly queries: TicketQueries,
    private readonly escalation: TicketEscalation,
  ) {}

  private effectContext(trx: Trx, r: PlacedTicket, now: number): EffectContext {
    const category = r.category as TicketCategory;
    return {
      now,
      levelMinutes: () =>
        this.p.levelMinutes(
          category,
          this.p.ctx({ gridPath: r.path, siteId: r.site_id, deviceId: r.device_id }),
        ),
      assign: () => this.p.routing.assign(trx, r.level, r.path, category, r.site_id),
      personExists: async (id) =>
        (await trx.selectFrom('people').select('id').where('id', '=', id).executeTakeFirst()) !== undefined,
    };
  }

  async act(
    principal: Principal,
    id: string,
    action: TicketAction,
    body: ActionBody = {},
  ): Promise<TicketView> {
    await this.queries.visible(principal, id);
    requirePermission(principal, LIFECYCLE[action].permission);
    const actor = actorOf(principal);
    const tickets = this.p.tickets;
    const row = await tickets.db.transaction().execute(async (trx) => {
      const r = await tickets.row(trx, id);
      const from = r.state as TicketState;
      if (!allowedFrom(action, from))
        throw new GridhubError('GH_ERR_INVALID_TRANSITION', `cannot ${action} a ticket that is ${from}`, {
          state: from,
          action,
        });
      if (action === 'escalate') {
        if (r.level >= 4)
          throw new GridhubError('GH_ERR_INVALID_TRANSITION', 'the ticket is already at district level', {
            state: from,
            action,
          });
        return this.escalation.escalateIn(
          trx,
          r,
          r.level + 1,
          actor,
          body.note ?? 'beyond the capability of this level (超出本级解决能力)',
        );
      }
      const now = this.p.now();
      const to = LIFECYCLE[action].to ?? from;
      const effect = await ACTION_EFFECTS[action]?.(r, body, this.effectContext(trx, r, now));
      const set = { ...effect?.set, state: to, updated_at: now };
      await trx.updateTable('tickets').set(set).where('id', '=', id).execute();
      const next = { ...r, ...set };
      await tickets.timeline(trx, next, {
        actor,
        action,
        from,
        to: to === from ? null : to,
        note: body.note ?? null,
        ...(effect?.data ? { data: effect.data } : {}),
      });
      return next;
    });
    // Who closed it and why go with the change: closing an elevator's maintenance ticket is its
    // maintenance visit (elevators/maintenance-visits.ts).
    this.p.changed(row, action, { actor, note: body.note ?? null });
    return (await nameTickets(tickets.db, [ticketView(row, this.p.now())]))[0] as TicketView;
  }
}
