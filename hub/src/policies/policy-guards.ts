import { covers, type Jurisdiction, type Principal } from '../auth/principal.ts';
import { type Role, roleAllows } from '../auth/roles.ts';
import { GridhubError } from '../errors.ts';
import { type Placement, placeDevice, placeGridNode, placeSite, under } from '../grid/placement.ts';
import type { Db } from '../store/store.ts';
import type { ScopeKind } from './definitions.ts';

/** Roles that see alerts by jurisdiction (unit leaders see those of their units: alert-queries.ts). */
const STAFF: readonly Role[] = ['admin', 'grid-staff', 'street-duty', 'department', 'property-manager'];

/**
 * The `alert.chain` policy names who is paged, in order. Every name must be someone the caller may
 * put there and who can act on the page (red team: a street-duty user could page unknown ids, people
 * of another street, or an installer who can neither see nor acknowledge the alert):
 * - a known, active person with a role that may acknowledge alerts;
 * - inside the caller's jurisdiction (their grid scope, or every one of their sites, lies in it);
 * - able to see an alert raised at the policy's place: staff whose jurisdiction covers it, or a unit
 *   leader of a unit there (the site's or device's unit; for a grid, a unit inside it).
 * Global and device-type chains (admins only) are checked for the first point only.
 * Every problem is listed in one refusal (GH_ERR_POLICY_CHAIN_INVALID); nothing is changed.
 */
export async function checkAlertChain(
  db: Db,
  caller: Principal,
  kind: ScopeKind,
  scopeId: string,
  chain: readonly string[],
): Promise<void> {
  const ids = [...new Set(chain)];
  const problems: { index: number; person: string; reason: string }[] = [];
  if (ids.length !== chain.length)
    problems.push({ index: -1, person: '', reason: 'a person appears twice in the chain' });
  const people = new Map(
    (
      await db
        .selectFrom('people')
        .leftJoin('grid_nodes', 'grid_nodes.id', 'people.scope_grid_node_id')
        .select(['people.id', 'people.roles', 'people.active', 'people.scope_site_ids', 'grid_nodes.path'])
        .where('people.id', 'in', ids.length ? ids : [''])
        .execute()
    ).map((p) => [p.id, p]),
  );
  const place = await placeOf(db, kind, scopeId);
  const sitePaths = await pathsOfSites(
    db,
    [...people.values()].flatMap((p) => JSON.parse(p.scope_site_ids) as string[]),
  );
  for (const [index, id] of chain.entries()) {
    const p = people.get(id);
    const problem = (reason: string) => problems.push({ index, person: id, reason });
    if (!p) {
      problem('unknown person');
      continue;
    }
    const roles = JSON.parse(p.roles) as Role[];
    const sites = JSON.parse(p.scope_site_ids) as string[];
    if (p.active !== 1) problem('the person is not active');
    if (!roleAllows(roles, 'alert:ack'))
      problem(`no role that may acknowledge alerts (roles: ${roles.join(', ') || 'none'})`);
    const theirs: Jurisdiction = p.path
      ? { kind: 'grid', nodeId: '', path: p.path }
      : sites.length > 0 || !roles.includes('admin')
        ? { kind: 'sites', siteIds: sites }
        : { kind: 'all' };
    if (!inside(caller.jurisdiction, theirs, sitePaths)) problem('outside your jurisdiction');
    if (place && !(await seesAlertsAt(db, id, roles, theirs, place)))
      problem(`cannot see alerts at ${kind} '${scopeId}'`);
  }
  if (problems.length > 0)
    throw new GridhubError(
      'GH_ERR_POLICY_CHAIN_INVALID',
      problems
        .map((p) => (p.index < 0 ? p.reason : `chain[${p.index}] '${p.person}': ${p.reason}`))
        .join('; '),
      { problems },
    );
}

/**
 * How often a person may be paged, as set by anyone but an admin: a street-duty user (or a flow acting
 * as one) could set re-notification to a millisecond and page the street's leaders twice a second —
 * and push the chat robots over their rate limits, which then drop real alarms (red team: 21
 * messages in 10 s from one press). Admins may go lower (accelerated simulations, tests).
 */
const PAGING_FLOOR_SECONDS: Readonly<Record<string, number>> = {
  'alert.renotifySeconds': 10,
  'alert.stepDelaySeconds': 10,
};

export function checkPagingFloor(caller: Principal, key: string, value: unknown): void {
  const floor = PAGING_FLOOR_SECONDS[key];
  if (floor === undefined || caller.roles.includes('admin') || typeof value !== 'object' || value === null)
    return;
  const low = Object.entries(value as Record<string, number>).filter(([, v]) => v < floor);
  if (low.length > 0)
    throw new GridhubError(
      'GH_ERR_FORBIDDEN_ROLE',
      `${key}: below ${floor} s only an admin may set (${low.map(([s, v]) => `${s}: ${v}`).join(', ')})`,
    );
}

function placeOf(db: Db, kind: ScopeKind, id: string): Promise<Placement | undefined> {
  if (kind === 'grid') return placeGridNode(db, id);
  if (kind === 'site') return placeSite(db, id);
  if (kind === 'device') return placeDevice(db, id);
  return Promise.resolve(undefined);
}

async function pathsOfSites(db: Db, siteIds: string[]): Promise<Map<string, string>> {
  if (siteIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('sites')
    .innerJoin('grid_nodes', 'grid_nodes.id', 'sites.grid_node_id')
    .select(['sites.id', 'grid_nodes.path'])
    .where('sites.id', 'in', [...new Set(siteIds)])
    .execute();
  return new Map(rows.map((r) => [r.id, r.path]));
}

/** Is the person's jurisdiction `theirs` contained in the caller's? */
function inside(caller: Jurisdiction, theirs: Jurisdiction, sitePaths: Map<string, string>): boolean {
  if (caller.kind === 'all') return true;
  if (theirs.kind === 'all') return false;
  if (theirs.kind === 'grid') return caller.kind === 'grid' && theirs.path.startsWith(caller.path);
  return theirs.siteIds.every((s) => {
    const path = sitePaths.get(s);
    return path !== undefined && covers(caller, { gridPath: path, siteId: s });
  });
}

async function seesAlertsAt(
  db: Db,
  personId: string,
  roles: Role[],
  theirs: Jurisdiction,
  place: Placement,
): Promise<boolean> {
  const staff = roles.some((r) => STAFF.includes(r));
  if (staff && covers(theirs, { gridPath: place.gridPath, siteId: place.siteId })) return true;
  if (!roles.includes('unit-leader')) return false;
  let units = db
    .selectFrom('emergency_units')
    .innerJoin('grid_nodes', 'grid_nodes.id', 'emergency_units.grid_node_id')
    .leftJoin('emergency_unit_members', 'emergency_unit_members.unit_id', 'emergency_units.id')
    .select('emergency_units.id')
    .where((eb) =>
      eb.or([
        eb('emergency_units.leader_id', '=', personId),
        eb('emergency_unit_members.person_id', '=', personId),
      ]),
    );
  if (place.emergencyUnitId) units = units.where('emergency_units.id', '=', place.emergencyUnitId);
  else if (place.siteId) return false;
  else units = units.where(under('grid_nodes.path', place.gridPath));
  return (await units.executeTakeFirst()) !== undefined;
}
