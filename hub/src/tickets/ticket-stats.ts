import { covers, type Principal, requirePermission } from '../auth/principal.ts';
import { GridhubError } from '../errors.ts';
import { placeGridNode, under } from '../grid/placement.ts';
import type { Store } from '../store/store.ts';
import type { TicketRow } from '../store/tables.ts';
import type { TicketStats } from './ticket-schemas.ts';
import type { TicketStore } from './ticket-store.ts';

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
}
