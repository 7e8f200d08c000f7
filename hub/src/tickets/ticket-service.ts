import type { Principal } from '../auth/principal.ts';
import type { Bus } from '../bus.ts';
import type { Logger } from '../logger.ts';
import type { PolicyService } from '../policies/policy-service.ts';
import type { Store } from '../store/store.ts';
import { TicketActions } from './actions.ts';
import { TicketEscalation } from './escalation.ts';
import type { TicketAction } from './lifecycle.ts';
import { TicketRaising } from './raising.ts';
import type { TicketRouting } from './routing.ts';
import { TicketParts } from './ticket-parts.ts';
import { TicketQueries } from './ticket-queries.ts';
import type { ActionBody, ManualTicketBody, TicketListQuery, TicketStats } from './ticket-schemas.ts';
import { TicketStatistics } from './ticket-stats.ts';
import { type PlacedTicket, TicketStore } from './ticket-store.ts';

export type { RaiseTicket, TicketPlacement } from './raising.ts';

/** What the rules may do with tickets (rules/rule.ts RuleContext): narrow on purpose. */
export interface RuleTickets {
  raise: TicketRaising['raise'];
  note: TicketRaising['note'];
  findOpen(incidentKey: string): Promise<PlacedTicket | undefined>;
  openOf: TicketStore['openOf'];
  links: TicketStore['links'];
  escalateTo: TicketEscalation['escalateTo'];
  resolveIfUnhandled: TicketEscalation['resolveIfUnhandled'];
  startLevel: TicketParts['startLevel'];
}

/**
 * Grid tickets (工单): raised by rules, people and flows; worked through the lifecycle
 * (lifecycle.ts, action-effects.ts); climbing the four levels when a level's time runs out or its
 * handler declares the matter beyond it. The service is its parts — raising.ts, escalation.ts,
 * actions.ts, ticket-queries.ts, ticket-stats.ts over ticket-store.ts — wired here. Every change is
 * in the ticket's timeline and the audit log, in one transaction, then on the bus.
 */
export class TicketService implements RuleTickets {
  private readonly parts: TicketParts;
  private readonly store: TicketStore;
  private readonly raising: TicketRaising;
  private readonly escalation: TicketEscalation;
  private readonly queries: TicketQueries;
  private readonly actions: TicketActions;
  private readonly statistics: TicketStatistics;
  private off: (() => void) | undefined;

  constructor(
    store: Store,
    policies: PolicyService,
    routing: TicketRouting,
    private readonly bus: Bus,
    private readonly logger: Logger,
    now: () => number = Date.now,
  ) {
    this.store = new TicketStore(store, now);
    this.parts = new TicketParts(this.store, policies, routing, bus, logger, now);
    this.raising = new TicketRaising(this.parts);
    this.escalation = new TicketEscalation(this.parts);
    this.queries = new TicketQueries(this.parts, this.raising);
    this.actions = new TicketActions(this.parts, this.queries, this.escalation);
    this.statistics = new TicketStatistics(store, this.store);
  }

  readonly raise: RuleTickets['raise'] = (input) => this.raising.raise(input);
  readonly note: RuleTickets['note'] = (...args) => this.raising.note(...args);
  readonly findOpen: RuleTickets['findOpen'] = (incidentKey) => this.store.findOpen(incidentKey);
  readonly openOf: RuleTickets['openOf'] = (category) => this.store.openOf(category);
  readonly links: RuleTickets['links'] = (id, kind) => this.store.links(id, kind);
  readonly escalateTo: RuleTickets['escalateTo'] = (...args) => this.escalation.escalateTo(...args);
  readonly resolveIfUnhandled: RuleTickets['resolveIfUnhandled'] = (...args) =>
    this.escalation.resolveIfUnhandled(...args);
  readonly startLevel: RuleTickets['startLevel'] = (...args) => this.parts.startLevel(...args);
  /** The scheduler: every ticket whose level deadline passed climbs one level. */
  escalateDue() {
    return this.escalation.escalateDue();
  }

  create(principal: Principal, body: ManualTicketBody) {
    return this.queries.create(principal, body);
  }
  detail(principal: Principal, id: string) {
    return this.queries.detail(principal, id);
  }
  list(principal: Principal, f: TicketListQuery) {
    return this.queries.list(principal, f);
  }
  act(principal: Principal, id: string, action: TicketAction, body: ActionBody = {}) {
    return this.actions.act(principal, id, action, body);
  }
  stats(principal: Principal, q: { grid?: string; from?: string; to?: string }): Promise<TicketStats> {
    return this.statistics.stats(principal, q);
  }

  async start(): Promise<void> {
    // An alert raised for a ticket (or joined to it after a disk outage) is one of its links; the
    // alerts say so on the bus and the tickets write their own table.
    this.off = this.bus.on('alert.changed', ({ action, alert }) => {
      if (!alert.ticketId || !['raised', 'linked', 'stored'].includes(action)) return;
      this.store
        .linkAlert(alert.ticketId, alert.id, Date.parse(alert.createdAt))
        .catch((err: unknown) =>
          this.logger.error({ err, alertId: alert.id }, 'linking an alert to its ticket failed'),
        );
    });
  }

  async stop(): Promise<void> {
    this.off?.();
  }
}
