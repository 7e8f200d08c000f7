import type { Db } from '../store/store.ts';
import { FINISHED_STATE_LIST } from '../tickets/lifecycle.ts';

/** Open tickets per level and active alerts per severity, per grid node (the hub's own measures). */
export async function hubMeasures(db: Db): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  const add = (grid: string, key: string, n: number) => {
    const v = out.get(grid) ?? {};
    v[key] = (v[key] ?? 0) + n;
    out.set(grid, v);
  };
  const tickets = await db
    .selectFrom('tickets')
    .select(['grid_node_id', 'level', (eb) => eb.fn.countAll<number>().as('n')])
    .where('state', 'not in', FINISHED_STATE_LIST)
    .groupBy(['grid_node_id', 'level'])
    .execute();
  for (const r of tickets) add(r.grid_node_id, `openTicketsL${r.level}`, Number(r.n));
  const alerts = await db
    .selectFrom('alerts')
    .select(['grid_node_id', 'severity', (eb) => eb.fn.countAll<number>().as('n')])
    .where('state', '!=', 'resolved')
    .groupBy(['grid_node_id', 'severity'])
    .execute();
  for (const r of alerts) add(r.grid_node_id, `activeAlerts_${r.severity}`, Number(r.n));
  return out;
}
