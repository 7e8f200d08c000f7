import { covers, type Principal } from '../auth/principal.ts';
import { GridhubError } from '../errors.ts';
import type { Db } from '../store/store.ts';

/** The device a command is for, as the caller may see it (404 / 403 otherwise). */
export async function commandTarget(db: Db, principal: Principal, deviceId: string) {
  const d = await db
    .selectFrom('devices')
    .innerJoin('grid_nodes', 'grid_nodes.id', 'devices.grid_node_id')
    .select(['devices.id', 'devices.model_id', 'devices.site_id', 'devices.status', 'grid_nodes.path'])
    .where('devices.id', '=', deviceId)
    .executeTakeFirst();
  if (!d) throw new GridhubError('GH_ERR_DEVICE_UNKNOWN', `no device '${deviceId}'`);
  if (!covers(principal.jurisdiction, { gridPath: d.path, siteId: d.site_id }))
    throw new GridhubError('GH_ERR_FORBIDDEN_SCOPE', `device '${deviceId}' is outside your jurisdiction`);
  return d;
}
