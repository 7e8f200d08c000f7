import { sql } from 'kysely';
import { covers, type Jurisdiction, type Principal, requirePermission } from '../auth/principal.ts';
import type { Role } from '../auth/roles.ts';
import { GridhubError } from '../errors.ts';
import type { Db } from '../store/store.ts';
import type {
  DepartmentInput,
  EmergencyUnitInput,
  GridNodeInput,
  GridNodeKind,
  GridNodeView,
  PersonView,
  SiteView,
} from './community-schema.ts';

/** Reads of the grid model, each filtered to the caller's jurisdiction, in the community-file shapes. */
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

  async nodes(principal: Principal): Promise<GridNodeView[]> {
    requirePermission(principal, 'grid:read');
    const paths = await this.visiblePaths(principal.jurisdiction);
    let q = this.db.selectFrom('grid_nodes').selectAll();
    if (paths !== 'all') {
      if (paths.length === 0) return [];
      const exact = principal.jurisdiction.kind === 'sites';
      q = q.where((eb) =>
        eb.or(
          paths.map((p) =>
            exact ? eb('path', '=', p) : eb(sql<string>`substr(path, 1, ${p.length})`, '=', p),
          ),
        ),
      );
    }
    const rows = await q.orderBy('path').execute();
    const duty = await this.db.selectFrom('grid_duty').selectAll().orderBy('position').execute();
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind as GridNodeKind,
      name: r.name,
      parent: r.parent_id,
      ...(r.exclusive_type
        ? { exclusiveType: r.exclusive_type as NonNullable<GridNodeInput['exclusiveType']> }
        : {}),
      duty: duty
        .filter((d) => d.grid_node_id === r.id)
        .map((d) => ({
          role: d.role as NonNullable<GridNodeInput['duty']>[number]['role'],
          person: d.person_id,
        })),
      path: r.path,
    }));
  }

  async node(principal: Principal, id: string): Promise<GridNodeView> {
    const node = (await this.nodes(principal)).find((n) => n.id === id);
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

  async sites(principal: Principal, gridNode?: string): Promise<SiteView[]> {
    requirePermission(principal, 'grid:read');
    let q = this.db
      .selectFrom('sites')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'sites.grid_node_id')
      .leftJoin('emergency_unit_sites', 'emergency_unit_sites.site_id', 'sites.id')
      .selectAll('sites')
      .select(['grid_nodes.path', 'emergency_unit_sites.unit_id']);
    if (gridNode) q = q.where('sites.grid_node_id', '=', gridNode);
    const rows = await q.orderBy('sites.id').execute();
    return rows
      .filter((r) => covers(principal.jurisdiction, { gridPath: r.path, siteId: r.id }))
      .map((r) => ({
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
      }));
  }

  async emergencyUnits(principal: Principal): Promise<EmergencyUnitInput[]> {
    requirePermission(principal, 'grid:read');
    const units = await this.db
      .selectFrom('emergency_units')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'emergency_units.grid_node_id')
      .selectAll('emergency_units')
      .select('grid_nodes.path')
      .orderBy('emergency_units.id')
      .execute();
    const members = await this.db
      .selectFrom('emergency_unit_members')
      .selectAll()
      .orderBy('position')
      .execute();
    const sites = await this.db.selectFrom('emergency_unit_sites').selectAll().orderBy('site_id').execute();
    const j = principal.jurisdiction;
    return units
      .filter((u) => {
        if (j.kind !== 'sites') return covers(j, { gridPath: u.path });
        // A property manager or unit leader scoped by sites sees units covering those sites.
        return (
          sites.some((s) => s.unit_id === u.id && j.siteIds.includes(s.site_id)) ||
          u.leader_id === principal.personId
        );
      })
      .map((u) => ({
        id: u.id,
        name: u.name,
        kind: u.kind as EmergencyUnitInput['kind'],
        gridNode: u.grid_node_id,
        leader: u.leader_id,
        members: members.filter((m) => m.unit_id === u.id).map((m) => m.person_id),
        sites: sites.filter((s) => s.unit_id === u.id).map((s) => s.site_id),
      }));
  }

  async departments(principal: Principal): Promise<DepartmentInput[]> {
    requirePermission(principal, 'grid:read');
    const rows = await this.db.selectFrom('departments').selectAll().orderBy('id').execute();
    return rows.map((d) => ({
      id: d.id,
      district: d.district_id,
      kind: d.kind as DepartmentInput['kind'],
      name: d.name,
      ...(d.phone ? { phone: d.phone } : {}),
      ...(d.contact_person_id ? { contact: d.contact_person_id } : {}),
    }));
  }

  async people(principal: Principal): Promise<PersonView[]> {
    requirePermission(principal, 'people:read');
    const rows = await this.db
      .selectFrom('people')
      .leftJoin('grid_nodes', 'grid_nodes.id', 'people.scope_grid_node_id')
      .selectAll('people')
      .select('grid_nodes.path')
      .orderBy('people.id')
      .execute();
    const j = principal.jurisdiction;
    return rows
      .filter((p) => j.kind === 'all' || (p.path != null && covers(j, { gridPath: p.path })))
      .map((p) => {
        const sites = JSON.parse(p.scope_site_ids) as string[];
        const scope = {
          ...(p.scope_grid_node_id ? { gridNode: p.scope_grid_node_id } : {}),
          ...(sites.length > 0 ? { sites } : {}),
        };
        return {
          id: p.id,
          name: p.name,
          ...(p.phone ? { phone: p.phone } : {}),
          roles: JSON.parse(p.roles) as Role[],
          ...(Object.keys(scope).length > 0 ? { scope } : {}),
          active: p.active === 1,
        };
      });
  }
}
