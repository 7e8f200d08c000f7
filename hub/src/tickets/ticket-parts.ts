import type { Bus } from '../bus.ts';
import type { Logger } from '../logger.ts';
import { isPolicyKey, type PolicyKey } from '../policies/definitions.ts';
import { type PolicyContext, type PolicyService, policyContext } from '../policies/policy-service.ts';
import type { TicketRow } from '../store/tables.ts';
import type { TicketRouting } from './routing.ts';
import type { TicketCategory, TicketView } from './ticket-schemas.ts';
import type { PlacedTicket, TicketStore } from './ticket-store.ts';
import { ticketView } from './ticket-view.ts';

type StartLevelKey = Extract<PolicyKey, `ticket.${string}.startLevel`>;
type LevelMinutesKey = Extract<PolicyKey, `ticket.${string}.levelMinutes`>;

/** What the parts of the ticket service share: its store, knobs, routing, bus and clock. */
export class TicketParts {
  constructor(
    readonly tickets: TicketStore,
    readonly policies: PolicyService,
    readonly routing: TicketRouting,
    readonly bus: Bus,
    readonly logger: Logger,
    readonly now: () => number,
  ) {}

  get db() {
    return this.tickets.db;
  }

  view(row: TicketRow): TicketView {
    return ticketView(row, this.now());
  }

  ctx(p: Parameters<typeof policyContext>[0]): PolicyContext {
    return policyContext(p);
  }

  /** The level a category starts at (a policy per category; 1 when it has none). */
  startLevel(category: TicketCategory, ctx: PolicyContext): number {
    const key = `ticket.${category}.startLevel`;
    return isPolicyKey(key) ? this.policies.value(key as StartLevelKey, ctx) : 1;
  }

  /** The minutes a level has before the ticket climbs (entrapments: the arrival deadline). */
  levelMinutes(category: TicketCategory, ctx: PolicyContext): number {
    if (category === 'elevator-rescue') return this.policies.value('elevator.rescue.arrivalMinutes', ctx);
    const key = `ticket.${category}.levelMinutes`;
    return this.policies.value(
      isPolicyKey(key) ? (key as LevelMinutesKey) : 'ticket.manual.levelMinutes',
      ctx,
    );
  }

  /** A change on the bus with its delivery scope; `actor` and `note` say who did it (not published). */
  changed(row: PlacedTicket, action: string, by?: { actor: string; note: string | null }): void {
    this.bus.emit('ticket.changed', {
      ticket: ticketView(row, this.now()),
      action,
      scope: { gridPath: row.path, siteId: row.site_id, emergencyUnitId: row.emergency_unit_id },
      ...(by ? { by } : {}),
    });
  }
}
