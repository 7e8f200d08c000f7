import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { covers, type Principal } from '../auth/principal.ts';
import { DEVICE_TYPE_RECORDS } from '../contract/device-types.ts';
import type { ErrorCode } from '../errors.ts';
import type { Database } from '../store/tables.ts';
import type { RegisterDeviceBody } from './device-schemas.ts';
import { identityProblems } from './identities.ts';
import type { ModelCatalogue } from './models/index.ts';

type Trx = Transaction<Database> | Kysely<Database>;

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A problem with one field of a registration, in terms both the API and the CSV report use. */
interface FieldProblem {
  field: string;
  code: ErrorCode;
  reason: string;
}

export interface Planned {
  id: string;
  modelId: string;
  type: string;
  siteId: string;
  gridNodeId: string;
  emergencyUnitId: string | null;
}

/** Resolve model, site, grid node and emergency unit of a registration; every problem is listed. */
export async function planRegistration(
  trx: Trx,
  models: ModelCatalogue,
  principal: Principal,
  input: RegisterDeviceBody,
  takenIds: Set<string>,
  memo?: Map<string, Promise<unknown>>,
) {
  // A CSV import asks the same few sites, grid nodes and units for every row: one query each.
  const once = <T>(key: string, query: () => Promise<T>): Promise<T> => {
    if (!memo) return query();
    let hit = memo.get(key) as Promise<T> | undefined;
    if (!hit) {
      hit = query();
      memo.set(key, hit);
    }
    return hit;
  };
  const problems: FieldProblem[] = [];
  const model = models.find(input.model);
  if (!model)
    problems.push({
      field: 'model',
      code: 'GH_ERR_MODEL_UNKNOWN',
      reason: `unknown model '${input.model}'`,
    });

  let id = input.id;
  if (id !== undefined) {
    if (!ID_PATTERN.test(id))
      problems.push({ field: 'id', code: 'GH_ERR_VALIDATION', reason: `invalid id '${id}'` });
    else if (takenIds.has(id))
      problems.push({ field: 'id', code: 'GH_ERR_CONFLICT', reason: `id '${id}' appears twice` });
    else if (await trx.selectFrom('devices').select('id').where('id', '=', id).executeTakeFirst()) {
      problems.push({ field: 'id', code: 'GH_ERR_CONFLICT', reason: `device '${id}' already exists` });
    } else if (await trx.selectFrom('people').select('id').where('id', '=', id).executeTakeFirst()) {
      // A device's MQTT client id is its id, a staff client's its person id: one id, one identity.
      problems.push({
        field: 'id',
        code: 'GH_ERR_IDENTITY_ID_TAKEN',
        reason: `'${id}' is a person's id (GH_ERR_IDENTITY_ID_TAKEN): it would name the same MQTT client`,
      });
    }
  }

  problems.push(...(await identityProblems(trx, input, takenIds)));

  const site = await once(`site:${input.site}`, () =>
    trx
      .selectFrom('sites')
      .innerJoin('grid_nodes', 'grid_nodes.id', 'sites.grid_node_id')
      .select(['sites.id', 'sites.grid_node_id', 'grid_nodes.path'])
      .where('sites.id', '=', input.site)
      .executeTakeFirst(),
  );
  let gridNodeId = site?.grid_node_id;
  let emergencyUnitId: string | null = null;
  if (!site) {
    problems.push({ field: 'site', code: 'GH_ERR_SITE_UNKNOWN', reason: `unknown site '${input.site}'` });
  } else if (!covers(principal.jurisdiction, { gridPath: site.path, siteId: site.id })) {
    problems.push({
      field: 'site',
      code: 'GH_ERR_FORBIDDEN_SCOPE',
      reason: `site '${site.id}' is outside your jurisdiction`,
    });
  } else {
    if (input.gridNode !== undefined && input.gridNode !== site.grid_node_id) {
      // A device may be bound to a coarser grid than its site's (an ancestor), never to an unrelated
      // one: a device wired to the wrong grid is exactly what installers must never suffer.
      const gridNode = input.gridNode;
      const given = await once(`grid:${gridNode}`, () =>
        trx.selectFrom('grid_nodes').select('path').where('id', '=', gridNode).executeTakeFirst(),
      );
      if (!given)
        problems.push({
          field: 'gridNode',
          code: 'GH_ERR_GRID_NODE_UNKNOWN',
          reason: `unknown grid node '${input.gridNode}'`,
        });
      else if (
        !site.path.startsWith(given.path) ||
        !covers(principal.jurisdiction, { gridPath: given.path })
      ) {
        problems.push({
          field: 'gridNode',
          code: 'GH_ERR_VALIDATION',
          reason: `grid node '${input.gridNode}' does not contain site '${site.id}' within your jurisdiction`,
        });
      } else gridNodeId = input.gridNode;
    }
    const covering = await once(`covering:${site.id}`, () =>
      trx
        .selectFrom('emergency_unit_sites')
        .select('unit_id')
        .where('site_id', '=', site.id)
        .executeTakeFirst(),
    );
    if (input.emergencyUnit !== undefined) {
      const unitId = input.emergencyUnit;
      const unit = await once(`unit:${unitId}`, () =>
        trx
          .selectFrom('emergency_units')
          .innerJoin('grid_nodes', 'grid_nodes.id', 'emergency_units.grid_node_id')
          .select(['emergency_units.id', 'grid_nodes.path'])
          .where('emergency_units.id', '=', unitId)
          .executeTakeFirst(),
      );
      // The unit is who gets paged: it must be the site's own, or one in the caller's
      // jurisdiction whose grid contains the site — never another street's leaders.
      const own = unit !== undefined && covering?.unit_id === unit.id;
      if (!unit) {
        problems.push({
          field: 'emergencyUnit',
          code: 'GH_ERR_EMERGENCY_UNIT_UNKNOWN',
          reason: `unknown emergency unit '${input.emergencyUnit}'`,
        });
      } else if (!own && !covers(principal.jurisdiction, { gridPath: unit.path })) {
        problems.push({
          field: 'emergencyUnit',
          code: 'GH_ERR_FORBIDDEN_SCOPE',
          reason: `emergency unit '${unit.id}' is outside your jurisdiction`,
        });
      } else if (!own && !site.path.startsWith(unit.path)) {
        problems.push({
          field: 'emergencyUnit',
          code: 'GH_ERR_VALIDATION',
          reason: `emergency unit '${unit.id}' neither covers site '${site.id}' nor contains its grid`,
        });
      } else emergencyUnitId = unit.id;
    } else {
      emergencyUnitId = covering?.unit_id ?? null;
    }
  }
  if (problems.length > 0 || !model || !site || !gridNodeId) return { problems } as const;
  id ??= `${DEVICE_TYPE_RECORDS[model.type].idPrefix}-${randomBytes(6).toString('hex')}`;
  takenIds.add(id);
  const planned: Planned = {
    id,
    modelId: model.id,
    type: model.type,
    siteId: site.id,
    gridNodeId,
    emergencyUnitId,
  };
  return { problems, planned } as const;
}
