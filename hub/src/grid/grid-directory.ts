import { sql } from 'kysely';
import { covers, type Jurisdiction, type Principal, requirePermission } from '../auth/principal.ts';
import type { Role } from '../auth/roles.ts';
import { GridhubError } from '../errors.ts';
import { eachPage, eachRowidPage, rowid } from '../store/pages.ts';
import type { Db } from '../store/store.ts';
import { timeSlicer } from '../yield.ts';
import type {
  DepartmentInput,
  EmergencyUnitInput,
  GridNodeInput,
  GridNodeKind,
  GridNodeView,
  PersonView,
  SiteView,
} from './community-schema.ts';

type Duty = NonNullable<GridNodeInput['duty']>[number];

const group = <K, V>(m: Map<K, V[]>, k: K, v: V) => {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
};

/**
 * Reads of the grid model, each filtered to the caller's jurisdiction, in the community-file shapes.
 * A city's model is large (135,000 grid nodes), so every read goes a page at a time and yields
 * between pages; `only` narrows a read to one entry (the `GET …/:id` routes).
 */
export class GridDirectory {
  constructor(private readonly db: Db) {}

  /** Paths the caller may see grid nodes under; for a property manager, the nodes of their sites. */
  private async visiblePaths(j: Jurisdiction): Promise<string[] | 'all'> {
    if (j.kind === 'all') return 'all';
    if (j.kind === 'grid') return [j.path];
    if (j.siteIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('sites')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'sites.grid_node_id')
      .select('grid_nodes.path')
      .where('sites.id', 'in', j.siteIds)
      .execute();
    return rows.map((r) => r.path);
  }

  /** Duty contacts per grid node, in call order (`only`: of one node). */
  private async duty(slice: () => Promise<void>, only?: string): Promise<Map<string, Duty[]>> {
    const byNode = new Map<string, { role: string; person_id: string; position: number }[]>();
    await eachRowidPage(
      (after, limit) => {
        let q = this.db
          .selectFrom('grid_duty')
          .select(['grid_node_id', 'role', 'person_id', 'position', rowid.as('rid')])
          .where(rowid, '>', after);
        if (only !== undefined) q = q.where('grid_node_id', '=', only);
        return q.orderBy(rowid).limit(limit).execute();
      },
      (rows) => {
        for (const d of rows) group(byNode, d.grid_node_id, d);
      },
      slice,
    );
    const out = new Map<string, Duty[]>();
    for (const [id, list] of byNode)
      out.set(
        id,
        list
          .sort((a, b) => a.position - b.position)
          .map((d) => ({ role: d.role as Duty['role'], person: d.person_id })),
      );
    return out;
  }

  async nodes(principal: Principal, only?: string): Promise<GridNodeView[]> {
    requirePermission(principal, 'grid:read');
    const slice = timeSlicer();
    const paths = await this.visiblePaths(principal.jurisdiction);
    if (paths !== 'all' && paths.length === 0) return [];
    const exact = principal.jurisdiction.kind === 'sites';
    const duty = await this.duty(slice, only);
    const out: GridNodeView[] = [];
    // Keyset pages in path order (paths are unique: each ends with the node's own id).
    await eachPage(
      (after: string | undefined, limit) => {
        let q = this.db.selectFrom('grid_nodes').selectAll();
        if (after !== undefined) q = q.where('path', '>', after);
        if (only !== undefined) q = q.where('id', '=', only);
        if (paths !== 'all')
          q = q.where((eb) =>
            eb.or(
              paths.map((p) =>
                exact ? eb('path', '=', p) : eb(sql<string>`substr(path, 1, ${p.length})`, '=', p),
              ),
            ),
          );
        return q.orderBy('path').limit(limit).execute();
      },
      (r) => r.path,
      (rows) => {
        for (const r of rows)
          out.push({
            id: r.id,
            kind: r.kind as GridNodeKind,
            name: r.name,
            parent: r.parent_id,
            ...(r.exclusive_type
              ? { exclusiveType: r.exclusive_type as NonNullable<GridNodeInput['exclusiveType']> }
              : {}),
            duty: duty.get(r.id) ?? [],
            path: r.path,
          });
      },
      slice,
    );
    return out;
  }

  async node(principal: Principal, id: string): Promise<GridNodeView> {
    const [node] = await this.nodes(principal, id);
    if (node) return node;
    const exists = await this.db
      .selectFrom('grid_nodes')
      .select('id')
      .where('id', '=', id)
      .executeTakeFirst();
    throw exists
      ? new GridhubError('GH_ERR_FORBIDDEN_SCOPE', `grid node '${id}' is outside your jurisdiction`)
      : new GridhubError('GH_ERR_GRID_NODE_UNKNOWN', `no grid node '${id}'`);
  }

  async sites(principal: Principal, only?: string): Promise<SiteView[]> {
    requirePermission(principal, 'grid:read');
    const slice = timeSlicer();
    const out: SiteView[] = [];
    await eachPage(
      (after: string | undefined, limit) => {
        let q = this.db
          .selectFrom('sites')
          .innerJoin('grid_nodes', 'grid_nodes.id', 'sites.grid_node_id')
          .leftJoin('emergency_unit_sites', 'emergency_unit_sites.site_id', 'sites.id')
          .selectAll('sites')
          .select(['grid_nodes.path', 'emergency_unit_sites.unit_id']);
        if (after !== undefined) q = q.where('sites.id', '>', after);
        if (only !== undefined) q = q.where('sites.id', '=', only);
        return q.orderBy('sites.id').limit(limit).execute();
      },
      (r) => r.id,
      (rows) => {
        for (const r of rows) {
          if (!covers(principal.jurisdiction, { gridPath: r.path, siteId: r.id })) continue;
          out.push({
            id: r.id,
            gridNode: r.grid_node_id,
            name: r.name,
            ...(r.kind ? { kind: r.kind } : {}),
            ...(r.building ? { building: r.building } : {}),
            ...(r.unit ? { unit: r.unit } : {}),
            ...(r.floor ? { floor: r.floor } : {}),
            ...(r.room ? { room: r.room } : {}),
            ...(r.address ? { address: r.address } : {}),
            ...(r.lat != null && r.lng != null ? { location: { lat: r.lat, lng: r.lng } } : {}),
            emergencyUnit: r.unit_id,
          });
        }
      },
      slice,
    );
    return out;
  }

  async emergencyUnits(principal: Principal, only?: string): Promise<EmergencyUnitInput[]> {
    requirePermission(principal, 'grid:read');
    const slice = timeSlicer();
    const members = new Map<string, { person_id: string; position: number }[]>();
    await eachRowidPage(
      (after, limit) => {
        let q = this.db
          .selectFrom('emergency_unit_members')
          .select(['unit_id', 'person_id', 'position', rowid.as('rid')])
          .where(rowid, '>', after);
        if (only !== undefined) q = q.where('unit_id', '=', only);
        return q.orderBy(rowid).limit(limit).execute();
      },
      (rows) => {
        for (const m of rows) group(members, m.unit_id, m);
      },
      slice,
    );
    const sites = new Map<string, string[]>();
    await eachRowidPage(
      (after, limit) => {
        let q = this.db
          .selectFrom('emergency_unit_sites')
          .select(['unit_id', 'site_id', rowid.as('rid')])
          .where(rowid, '>', after);
        if (only !== undefined) q = q.where('unit_id', '=', only);
        return q.orderBy(rowid).limit(limit).execute();
      },
      (rows) => {
        for (const s of rows) group(sites, s.unit_id, s.site_id);
      },
      slice,
    );
    for (const list of sites.values()) list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const j = principal.jurisdiction;
    const out: EmergencyUnitInput[] = [];
    await eachPage(
      (after: string | undefined, limit) => {
        let q = this.db
          .selectFrom('emergency_units')
          .innerJoin('grid_nodes', 'grid_nodes.id', 'emergency_units.grid_node_id')
          .selectAll('emergency_units')
          .select('grid_nodes.path');
        if (after !== undefined) q = q.where('emergency_units.id', '>', after);
        if (only !== undefined) q = q.where('emergency_units.id', '=', only);
        return q.orderBy('emergency_units.id').limit(limit).execute();
      },
      (u) => u.id,
      (units) => {
        for (const u of units) {
          const unitSites = sites.get(u.id) ?? [];
          // A property manager or unit leader scoped by sites sees units covering those sites.
          const visible =
            j.kind !== 'sites'
              ? covers(j, { gridPath: u.path })
              : unitSites.some((s) => j.siteIds.includes(s)) || u.leader_id === principal.personId;
          if (!visible) continue;
          out.push({
            id: u.id,
            name: u.name,
            kind: u.kind as EmergencyUnitInput['kind'],
            gridNode: u.grid_node_id,
            leader: u.leader_id,
            members: (members.get(u.id) ?? [])
              .sort((a, b) => a.position - b.position)
              .map((m) => m.person_id),
            sites: unitSites,
          });
        }
      },
      slice,
    );
    return out;
  }

  async departments(principal: Principal, only?: string): Promise<DepartmentInput[]> {
    requirePermission(principal, 'grid:read');
    const slice = timeSlicer();
    const out: DepartmentInput[] = [];
    await eachPage(
      (after: string | undefined, limit) => {
        let q = this.db.selectFrom('departments').selectAll();
        if (after !== undefined) q = q.where('id', '>', after);
        if (only !== undefined) q = q.where('id', '=', only);
        return q.orderBy('id').limit(limit).execute();
      },
      (d) => d.id,
      (rows) => {
        for (const d of rows)
          out.push({
            id: d.id,
            district: d.district_id,
            kind: d.kind as DepartmentInput['kind'],
            name: d.name,
            ...(d.phone ? { phone: d.phone } : {}),
            ...(d.contact_person_id ? { contact: d.contact_person_id } : {}),
          });
      },
      slice,
    );
    return out;
  }

  async people(principal: Principal, only?: string): Promise<PersonView[]> {
    requirePermission(principal, 'people:read');
    const slice = timeSlicer();
    const j = principal.jurisdiction;
    const out: PersonView[] = [];
    await eachPage(
      (after: string | undefined, limit) => {
        let q = this.db
          .selectFrom('people')
          .leftJoin('grid_nodes', 'grid_nodes.id', 'people.scope_grid_node_id')
          .selectAll('people')
          .select('grid_nodes.path');
        if (after !== undefined) q = q.where('people.id', '>', after);
        if (only !== undefined) q = q.where('people.id', '=', only);
        return q.orderBy('people.id').limit(limit).execute();
      },
      (p) => p.id,
      (rows) => {
        for (const p of rows) {
          if (!(j.kind === 'all' || (p.path != null && covers(j, { gridPath: p.path })))) continue;
          const sites = JSON.parse(p.scope_site_ids) as string[];
          const scope = {
            ...(p.scope_grid_node_id ? { gridNode: p.scope_grid_node_id } : {}),
            ...(sites.length > 0 ? { sites } : {}),
          };
          out.push({
            id: p.id,
            name: p.name,
            ...(p.phone ? { phone: p.phone } : {}),
            roles: JSON.parse(p.roles) as Role[],
            ...(Object.keys(scope).length > 0 ? { scope } : {}),
            active: p.active === 1,
          });
        }
      },
      slice,
    );
    return out;
  }
}
