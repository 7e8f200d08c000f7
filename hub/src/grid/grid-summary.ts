import { sql } from 'kysely';
import { covers, type Jurisdiction } from '../auth/principal.ts';
import { eachRange, maxRowid } from '../store/pages.ts';
import type { Db } from '../store/store.ts';
import { FINISHED_STATES } from '../tickets/lifecycle.ts';
import { timeSlicer } from '../yield.ts';

export interface GridSummaryRow {
  id: string;
  devices: number;
  offline: number;
  /** open tickets at level 1, 2, 3, 4 */
  openTickets: number[];
}

interface Counts {
  devices: number;
  offline: number;
  open: [number, number, number, number];
}

/** '/d/s/c/' → '/d/', '/d/s/', '/d/s/c/': the node and each of its ancestors. */
function* ancestorsAndSelf(path: string): Generator<string> {
  for (let i = path.indexOf('/', 1); i >= 0; i = path.indexOf('/', i + 1)) yield path.slice(0, i + 1);
}

/**
 * Devices, offline devices and open tickets under each of `nodes` (the caller's visible nodes),
 * counting only devices and tickets in the caller's jurisdiction. Counted in SQL per grid path and
 * site one rowid range at a time, then added up the tree once: each count goes to its node and
 * every ancestor (a path is a prefix of exactly its descendants' paths), instead of matching every
 * node against every count (135,000 nodes × as many counts).
 */
export async function gridSummary(
  db: Db,
  j: Jurisdiction,
  nodes: readonly { id: string; path: string }[],
): Promise<GridSummaryRow[]> {
  const slice = timeSlicer();
  const under = new Map<string, Counts>();
  const at = (path: string) => {
    const c = under.get(path) ?? { devices: 0, offline: 0, open: [0, 0, 0, 0] };
    under.set(path, c);
    return c;
  };
  await eachRange(
    await maxRowid(db, 'devices'),
    async (lo, hi) => {
      const rows = await db
        .selectFrom('devices')
        .innerJoin('grid_nodes', 'grid_nodes.id', 'devices.grid_node_id')
        .select((eb) => [
          'grid_nodes.path',
          'devices.site_id',
          eb.fn.countAll<number>().as('n'),
          // a count of a condition as sum(case …): PostgreSQL has no sum of booleans
          sql<number>`sum(case when devices.online = 0 then 1 else 0 end)`.as('offline'),
        ])
        .where('devices.status', '!=', 'decommissioned')
        .where(sql<number>`devices.rowid`, '>=', lo)
        .where(sql<number>`devices.rowid`, '<', hi)
        .groupBy(['grid_nodes.path', 'devices.site_id'])
        .execute();
      for (const d of rows) {
        if (!covers(j, { gridPath: d.path, siteId: d.site_id })) continue;
        for (const p of ancestorsAndSelf(d.path)) {
          const c = at(p);
          c.devices += Number(d.n);
          c.offline += Number(d.offline ?? 0);
        }
      }
    },
    slice,
  );
  await eachRange(
    await maxRowid(db, 'tickets'),
    async (lo, hi) => {
      const rows = await db
        .selectFrom('tickets')
        .innerJoin('grid_nodes', 'grid_nodes.id', 'tickets.grid_node_id')
        .select((eb) => [
          'grid_nodes.path',
          'tickets.site_id',
          'tickets.level',
          eb.fn.countAll<number>().as('n'),
        ])
        .where('tickets.state', 'not in', [...FINISHED_STATES])
        .where(sql<number>`tickets.rowid`, '>=', lo)
        .where(sql<number>`tickets.rowid`, '<', hi)
        .groupBy(['grid_nodes.path', 'tickets.site_id', 'tickets.level'])
        .execute();
      for (const t of rows) {
        if (!covers(j, { gridPath: t.path, siteId: t.site_id })) continue;
        const level = t.level - 1;
        if (level < 0 || level > 3) continue;
        for (const p of ancestorsAndSelf(t.path)) {
          const open = at(p).open;
          open[level] = (open[level] ?? 0) + Number(t.n);
        }
      }
    },
    slice,
  );
  const out: GridSummaryRow[] = [];
  for (const n of nodes) {
    await slice();
    const c = under.get(n.path);
    out.push({
      id: n.id,
      devices: c?.devices ?? 0,
      offline: c?.offline ?? 0,
      openTickets: c ? [...c.open] : [0, 0, 0, 0],
    });
  }
  return out;
}
