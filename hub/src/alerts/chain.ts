import type { Kysely } from 'kysely';
import type { PolicyService } from '../policies/policy-service.ts';
import type { Database } from '../store/tables.ts';

/**
 * The escalation chain of an alert, derived from the grid model unless a site/grid policy
 * overrides it: the unit's point leader, its members in on-call order, the grid leader, the street
 * duty room (DESIGN.md; DOMAIN.md 最小应急单元).
 */
export async function chainFor(
  db: Kysely<Database>,
  policies: PolicyService,
  unitId: string | null,
  gridPath: string,
  siteId: string | null,
): Promise<string[]> {
  const override = policies.value('alert.chain', { gridPath, siteId });
  if (override) return override;
  const chain: string[] = [];
  if (unitId) {
    const unit = await db
      .selectFrom('emergency_units')
      .select('leader_id')
      .where('id', '=', unitId)
      .executeTakeFirst();
    if (unit) chain.push(unit.leader_id);
    const members = await db
      .selectFrom('emergency_unit_members')
      .select('person_id')
      .where('unit_id', '=', unitId)
      .orderBy('position')
      .execute();
    chain.push(...members.map((m) => m.person_id));
  }
  const ids = gridPath.split('/').filter(Boolean).reverse();
  const nodes = new Map(
    (
      await db
        .selectFrom('grid_nodes')
        .select(['id', 'kind'])
        .where('id', 'in', ids.length ? ids : [''])
        .execute()
    ).map((n) => [n.id, n.kind]),
  );
  const duty = await db
    .selectFrom('grid_duty')
    .selectAll()
    .where('grid_node_id', 'in', ids.length ? ids : [''])
    .orderBy('position')
    .execute();
  const first = (kinds: string[], role: string) => {
    for (const id of ids) {
      if (!kinds.includes(nodes.get(id) ?? '')) continue;
      const hit = duty.find((d) => d.grid_node_id === id && d.role === role);
      if (hit) return hit.person_id;
    }
    return undefined;
  };
  const gridLeader = first(['micro-grid', 'grid', 'exclusive', 'community'], 'grid-leader');
  const dutyRoom = first(['street'], 'duty-room');
  if (gridLeader) chain.push(gridLeader);
  if (dutyRoom) chain.push(dutyRoom);
  return [...new Set(chain)];
}
