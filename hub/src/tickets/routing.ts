import type { Kysely } from 'kysely';
import type { PolicyService } from '../policies/policy-service.ts';
import type { Database } from '../store/tables.ts';
import type { TicketCategory } from './ticket-schemas.ts';

export interface Assignment {
  assigneeId: string | null;
  departmentId: string | null;
}

/** Which grid-node kinds answer at each level, and the duty roles asked there, in order. */
const LEVEL_SEATS: Record<1 | 2 | 3, { kinds: string[]; roles: string[] }> = {
  1: { kinds: ['micro-grid', 'grid', 'exclusive'], roles: ['grid-worker', 'grid-leader'] },
  2: {
    kinds: ['grid', 'exclusive', 'community'],
    roles: ['grid-leader', 'grid-worker', 'community-secretary'],
  },
  3: { kinds: ['street'], roles: ['duty-room', 'street-leader'] },
};

/**
 * Who takes a ticket at a level, derived from the grid tree's duty contacts and the district's
 * departments: never a hand-kept list. A maintenance ticket at level 1 goes to the site's property
 * manager when there is one.
 */
export class TicketRouting {
  constructor(private readonly policies: PolicyService) {}

  /**
   * `db` is the caller's executor: inside a transaction it must be that transaction, since the
   * SQLite driver has one connection and a query beside the transaction would wait for it forever.
   */
  async assign(
    db: Kysely<Database>,
    level: number,
    gridPath: string,
    category: TicketCategory,
    siteId: string | null,
  ): Promise<Assignment> {
    const ids = gridPath.split('/').filter(Boolean);
    if (level === 1 && (category === 'maintenance' || category === 'recurring-fault') && siteId) {
      const people = await db
        .selectFrom('people')
        .select(['id', 'roles', 'scope_site_ids'])
        .where('active', '=', 1)
        .execute();
      const pm = people.find(
        (p) =>
          p.roles.includes('property-manager') && (JSON.parse(p.scope_site_ids) as string[]).includes(siteId),
      );
      if (pm) return { assigneeId: pm.id, departmentId: null };
    }
    if (level >= 4) {
      const kinds = this.policies.value('ticket.departments', { gridPath });
      const district = ids[0];
      const dept = district
        ? await db
            .selectFrom('departments')
            .select(['id', 'contact_person_id'])
            .where('district_id', '=', district)
            .where('kind', '=', kinds[category] ?? 'urban-management')
            .executeTakeFirst()
        : undefined;
      const duty = district ? await this.duty(db, district, ['district-duty']) : null;
      return { assigneeId: dept?.contact_person_id ?? duty, departmentId: dept?.id ?? null };
    }
    const seat = LEVEL_SEATS[level as 1 | 2 | 3];
    const nodes = ids.length
      ? await db.selectFrom('grid_nodes').select(['id', 'kind']).where('id', 'in', ids).execute()
      : [];
    const kindOf = new Map(nodes.map((n) => [n.id, n.kind]));
    for (const id of [...ids].reverse()) {
      if (!seat.kinds.includes(kindOf.get(id) ?? '')) continue;
      const person = await this.duty(db, id, seat.roles);
      if (person) return { assigneeId: person, departmentId: null };
    }
    return { assigneeId: null, departmentId: null };
  }

  private async duty(db: Kysely<Database>, nodeId: string, roles: string[]): Promise<string | null> {
    const rows = await db
      .selectFrom('grid_duty')
      .select(['role', 'person_id'])
      .where('grid_node_id', '=', nodeId)
      .where('role', 'in', roles)
      .orderBy('position')
      .execute();
    for (const role of roles) {
      const hit = rows.find((r) => r.role === role);
      if (hit) return hit.person_id;
    }
    return null;
  }
}
