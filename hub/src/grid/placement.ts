import { type Kysely, sql } from 'kysely';
import { GridhubError } from '../errors.ts';
import type { Database } from '../store/tables.ts';

/** Where a device, site or grid node sits: what jurisdiction checks, policies and tickets need. */
export interface Placement {
  gridNodeId: string;
  gridPath: string;
  siteId: string | null;
  deviceId: string | null;
  emergencyUnitId: string | null;
  deviceType: string | null;
}

/** The one mapper to a Placement: what is not given is not known (null). */
export function placement(
  p: Pick<Placement, 'gridNodeId' | 'gridPath'> & Partial<Omit<Placement, 'gridNodeId' | 'gridPath'>>,
): Placement {
  return {
    gridNodeId: p.gridNodeId,
    gridPath: p.gridPath,
    siteId: p.siteId ?? null,
    deviceId: p.deviceId ?? null,
    emergencyUnitId: p.emergencyUnitId ?? null,
    deviceType: p.deviceType ?? null,
  };
}

export async function placeGridNode(db: Kysely<Database>, id: string): Promise<Placement> {
  const n = await db.selectFrom('grid_nodes').select(['id', 'path']).where('id', '=', id).executeTakeFirst();
  if (!n) throw new GridhubError('GH_ERR_GRID_NODE_UNKNOWN', `no grid node '${id}'`);
  return placement({ gridNodeId: n.id, gridPath: n.path });
}

export async function placeEmergencyUnit(db: Kysely<Database>, id: string): Promise<Placement> {
  const u = await db
    .selectFrom('emergency_units')
    .innerJoin('grid_nodes', 'grid_nodes.id', 'emergency_units.grid_node_id')
    .select(['grid_nodes.id as gridNodeId', 'grid_nodes.path'])
    .where('emergency_units.id', '=', id)
    .executeTakeFirst();
  if (!u) throw new GridhubError('GH_ERR_EMERGENCY_UNIT_UNKNOWN', `no emergency unit '${id}'`);
  return placement({ gridNodeId: u.gridNodeId, gridPath: u.path, emergencyUnitId: id });
}

/** Where a webhook target's scope (a grid node or an emergency unit) sits. */
export function placeTargetScope(db: Kysely<Database>, kind: string, id: string): Promise<Placement> {
  return kind === 'grid' ? placeGridNode(db, id) : placeEmergencyUnit(db, id);
}

export async function placeSite(db: Kysely<Database>, id: string): Promise<Placement> {
  const s = await db
    .selectFrom('sites')
    .innerJoin('grid_nodes', 'grid_nodes.id', 'sites.grid_node_id')
    .leftJoin('emergency_unit_sites', 'emergency_unit_sites.site_id', 'sites.id')
    .select(['sites.id', 'sites.grid_node_id', 'grid_nodes.path', 'emergency_unit_sites.unit_id'])
    .where('sites.id', '=', id)
    .executeTakeFirst();
  if (!s) throw new GridhubError('GH_ERR_SITE_UNKNOWN', `no site '${id}'`);
  return placement({
    gridNodeId: s.grid_node_id,
    gridPath: s.path,
    siteId: s.id,
    emergencyUnitId: s.unit_id,
  });
}

export async function placeDevice(db: Kysely<Database>, id: string): Promise<Placement> {
  const d = await db
    .selectFrom('devices')
    .innerJoin('grid_nodes', 'grid_nodes.id', 'devices.grid_node_id')
    .select([
      'devices.id',
      'devices.site_id',
      'devices.grid_node_id',
      'devices.emergency_unit_id',
      'devices.type',
      'grid_nodes.path',
    ])
    .where('devices.id', '=', id)
    .executeTakeFirst();
  if (!d) throw new GridhubError('GH_ERR_DEVICE_UNKNOWN', `no device '${id}'`);
  return placement({
    gridNodeId: d.grid_node_id,
    gridPath: d.path,
    siteId: d.site_id,
    deviceId: d.id,
    emergencyUnitId: d.emergency_unit_id,
    deviceType: d.type,
  });
}

/** SQL: the row's grid path (column `pathColumn`) lies under `path` (substr, not LIKE: ids may hold `_`). */
export function under(pathColumn: string, path: string) {
  return sql<boolean>`substr(${sql.ref(pathColumn)}, 1, ${path.length}) = ${path}`;
}
