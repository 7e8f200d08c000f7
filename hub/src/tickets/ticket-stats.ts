import { sql } from 'kysely';
import { covers, type Principal, requirePermission } from '../auth/principal.ts';
import { GridhubError } from '../errors.ts';
import { placeGridNode, under } from '../grid/placement.ts';
import { eachRange, maxRowid } from '../store/pages.ts';
import type { Store } from '../store/store.ts';
import { timeSlicer } from '../yield.ts';
import type { TicketStats } from './ticket-schemas.ts';
import type { TicketStore } from './ticket-store.ts';

/** Sums per grid node and level, as the SQL of one rowid range gives them. */
export interface TicketCounts {
  tickets: number;
  closed: number;
  onTime: number;
  rework: number;
  rated: number;
  satisfied: number;
  accepted: number;
  acceptMs: number;
  closeMs: number;
}
export type TicketCountRow = { grid_node_id: string; level: number } & {
  [K in keyof TicketCounts]: number | null;
};

/** The selection that sums one range's tickets per grid node and level (tickets joined as `tickets`). */
export const TICKET_COUNTS = [
  'tickets.grid_node_id',
  'tickets.level',
  sql<number>`count(*)`.as('tickets'),
  sql<number>`count(tickets.closed_at)`.as('closed'),
  // counts of a condition as `sum(case …)`: PostgreSQL has no sum of booleans (SQLite sums 0/1)
  sql<number>`sum(case when tickets.closed_at is not null and (tickets.due_at is null or tickets.closed_at <= tickets.due_at) then 1 else 0 end)`.as(
    'onTime',
  ),
  sql<number>`sum(case when tickets.closed_at is not null and tickets.rework_count > 0 then 1 else 0 end)`.as(
    'rework',
  ),
  sql<number>`count(tickets.satisfaction)`.as('rated'),
  sql<number>`sum(case when tickets.satisfaction >= 4 then 1 else 0 end)`.as('satisfied'),
  sql<number>`count(tickets.accepted_at)`.as('accepted'),
  sql<number>`sum(tickets.accepted_at - tickets.created_at)`.as('acceptMs'),
  sql<number>`sum(tickets.closed_at - tickets.created_at)`.as('closeMs'),
] as const;

const KEYS = [
  'tickets',
  'closed',
  'onTime',
  'rework',
  'rated',
  'satisfied',
  'accepted',
  'acceptMs',
  'closeMs',
] as const;
const none = (): TicketCounts => ({
  tickets: 0,
  closed: 0,
  onTime: 0,
  rework: 0,
  rated: 0,
  satisfied: 0,
  accepted: 0,
  acceptMs: 0,
  closeMs: 0,
});

function rates(c: TicketCounts): TicketStats['total'] {
  const ratio = (n: number, d: number) => (d === 0 ? null : Math.round((n / d) * 10_000) / 10_000);
  const mean = (sum: number, n: number) => (n === 0 ? null : Math.round((sum / n / 60_000) * 100) / 100);
  return {
    tickets: c.tickets,
    closed: c.closed,
    closureRate: ratio(c.closed, c.tickets),
    onTimeRate: ratio(c.onTime, c.closed),
    reworkRate: ratio(c.rework, c.closed),
    satisfactionRate: ratio(c.satisfied, c.rated),
    meanMinutesToAccept: mean(c.acceptMs, c.accepted),
    meanMinutesToClose: mean(c.closeMs, c.closed),
  };
}

/**
 * Ticket statistics summed in SQL one rowid range at a time (`range(lo, hi)` runs TICKET_COUNTS
 * over the caller's filtered query), yielding between ranges: loading 200,000 tickets to count them
 * in memory held the event loop for seconds. Totals, per grid node and per level.
 */
export async function ticketStats(
  maxRowid: number,
  range: (lo: number, hi: number) => Promise<TicketCountRow[]>,
): Promise<TicketStats> {
  const total = none();
  const byGrid = new Map<string, TicketCounts>();
  const byLevel = new Map<number, TicketCounts>();
  const add = <K>(m: Map<K, TicketCounts>, k: K) => {
    const c = m.get(k) ?? none();
    m.set(k, c);
    return c;
  };
  await eachRange(
    maxRowid,
    async (lo, hi) => {
      for (const r of await range(lo, hi))
        for (const into of [total, add(byGrid, r.grid_node_id), add(byLevel, r.level)])
          for (const k of KEYS) into[k] += Number(r[k] ?? 0);
    },
    timeSlicer(),
  );
  const sorted = <K extends string | number>(m: Map<K, TicketCounts>) =>
    [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  return {
    total: rates(total),
    byGrid: sorted(byGrid).map(([gridNodeId, c]) => ({ gridNodeId, ...rates(c) })),
    byLevel: sorted(byLevel).map(([level, c]) => ({ level, ...rates(c) })),
  };
}

/**
 * Ticket statistics per grid node and level (GET /api/v1/stats/tickets, DOMAIN.md measures): closure,
 * on-time, rework and satisfaction rates, mean minutes to accept and to close.
 */
export class TicketStatistics {
  constructor(
    private readonly store: Store,
    private readonly tickets: TicketStore,
  ) {}

  private scoped(principal: Principal) {
    return this.tickets.scoped(principal);
  }

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
    const filtered = query.where('tickets.state', '!=', 'rejected');
    return ticketStats(await maxRowid(this.store.db, 'tickets'), (lo, hi) =>
      filtered
        .select(TICKET_COUNTS)
        .where(sql<number>`tickets.rowid`, '>=', lo)
        .where(sql<number>`tickets.rowid`, '<', hi)
        .groupBy(['tickets.grid_node_id', 'tickets.level'])
        .execute(),
    );
  }
}
