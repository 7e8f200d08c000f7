import { Ajv } from 'ajv';
import type { Transaction } from 'kysely';
import { appendAudit } from '../audit/audit-log.ts';
import { GridhubError } from '../errors.ts';
import type { Db } from '../store/store.ts';
import type { Database } from '../store/tables.ts';
import {
  ALLOWED_PARENT,
  CommunityFile,
  type GridNodeKind,
  type ImportProblem,
  type ImportSummary,
} from './community-schema.ts';
import { schemaProblems } from './schema-problems.ts';

const ajv = new Ajv({ allErrors: true, strict: false });
const validateCommunity = ajv.compile<CommunityFile>(CommunityFile);

type Counts = ImportSummary['gridNodes'];
const zero = (): Counts => ({ created: 0, updated: 0, unchanged: 0 });

interface ExistingNode {
  parent: string | null;
  kind: GridNodeKind;
  path: string;
}

/** What the store already holds, loaded once so the whole file is checked against file ∪ store. */
interface Known {
  nodes: Map<string, ExistingNode>;
  people: Set<string>;
  sites: Set<string>;
  units: Set<string>;
  siteUnit: Map<string, string>;
}

async function loadKnown(db: Db | Transaction<Database>): Promise<Known> {
  const [nodes, people, sites, unitSites, units] = await Promise.all([
    db.selectFrom('grid_nodes').select(['id', 'parent_id', 'kind', 'path']).execute(),
    db.selectFrom('people').select('id').execute(),
    db.selectFrom('sites').select('id').execute(),
    db.selectFrom('emergency_unit_sites').select(['unit_id', 'site_id']).execute(),
    db.selectFrom('emergency_units').select('id').execute(),
  ]);
  return {
    nodes: new Map(
      nodes.map((n) => [n.id, { parent: n.parent_id, kind: n.kind as GridNodeKind, path: n.path }]),
    ),
    people: new Set(people.map((p) => p.id)),
    sites: new Set(sites.map((s) => s.id)),
    units: new Set(units.map((u) => u.id)),
    siteUnit: new Map(unitSites.map((r) => [r.site_id, r.unit_id])),
  };
}

/** Check everything before writing anything; returns every problem found, in file order. */
function check(doc: CommunityFile, known: Known): { problems: ImportProblem[]; paths: Map<string, string> } {
  const problems: ImportProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });

  const dupes = (list: { id: string }[] | undefined, name: string) => {
    const first = new Map<string, number>();
    list?.forEach((item, i) => {
      const at = first.get(item.id);
      if (at === undefined) first.set(item.id, i);
      else add(`${name}[${i}].id`, `duplicate id '${item.id}' (also ${name}[${at}])`);
    });
  };
  dupes(doc.gridNodes, 'gridNodes');
  dupes(doc.people, 'people');
  dupes(doc.departments, 'departments');
  dupes(doc.sites, 'sites');
  dupes(doc.emergencyUnits, 'emergencyUnits');

  // The grid tree after this import: stored nodes overlaid with the file's.
  const kind = new Map<string, GridNodeKind>();
  const parent = new Map<string, string | null>();
  for (const [id, n] of known.nodes) {
    kind.set(id, n.kind);
    parent.set(id, n.parent);
  }
  for (const n of doc.gridNodes ?? []) {
    kind.set(n.id, n.kind);
    parent.set(n.id, n.parent ?? null);
  }
  const people = new Set([...known.people, ...(doc.people ?? []).map((p) => p.id)]);
  const sites = new Set([...known.sites, ...(doc.sites ?? []).map((s) => s.id)]);
  const person = (path: string, id: string | undefined) => {
    if (id !== undefined && !people.has(id)) add(path, `unknown person '${id}'`);
  };
  const node = (path: string, id: string) => {
    if (!kind.has(id)) add(path, `unknown grid node '${id}'`);
  };

  doc.gridNodes?.forEach((n, i) => {
    const at = `gridNodes[${i}]`;
    const p = n.parent ?? null;
    if (p !== null && !kind.has(p)) add(`${at}.parent`, `unknown grid node '${p}'`);
    else if (!ALLOWED_PARENT[n.kind].includes(p === null ? null : (kind.get(p) as GridNodeKind))) {
      add(
        `${at}.parent`,
        p === null
          ? `a ${n.kind} needs a parent (${ALLOWED_PARENT[n.kind].join(' or ')})`
          : `a ${n.kind} cannot hang under a ${kind.get(p)} ('${p}')`,
      );
    }
    if (n.kind === 'exclusive' && !n.exclusiveType)
      add(`${at}.exclusiveType`, 'an exclusive grid needs exclusiveType');
    for (const [j, d] of (n.duty ?? []).entries()) person(`${at}.duty[${j}].person`, d.person);
  });

  // Materialised paths; a parent chain that loops is a problem, not an endless walk.
  const paths = new Map<string, string>();
  const pathOf = (id: string): string | undefined => {
    const chain: string[] = [];
    const seen = new Set<string>();
    let cur: string | null | undefined = id;
    while (cur != null) {
      if (seen.has(cur)) return undefined;
      seen.add(cur);
      chain.unshift(cur);
      cur = parent.get(cur);
    }
    return `/${chain.join('/')}/`;
  };
  for (const id of kind.keys()) {
    const path = pathOf(id);
    if (path === undefined) {
      const i = doc.gridNodes?.findIndex((n) => n.id === id) ?? -1;
      if (i >= 0) add(`gridNodes[${i}].parent`, `grid node '${id}' is its own ancestor`);
    } else paths.set(id, path);
  }

  doc.people?.forEach((p, i) => {
    const at = `people[${i}]`;
    if (p.scope?.gridNode) node(`${at}.scope.gridNode`, p.scope.gridNode);
    p.scope?.sites?.forEach((s, j) => {
      if (!sites.has(s)) add(`${at}.scope.sites[${j}]`, `unknown site '${s}'`);
    });
    const onlyAdmin = p.roles.every((r) => r === 'admin');
    if (!onlyAdmin && !p.scope?.gridNode && !p.scope?.sites?.length) {
      add(`${at}.scope`, 'every role but admin needs a jurisdiction: scope.gridNode or scope.sites');
    }
    if (p.roles.includes('property-manager') && !p.scope?.sites?.length && !p.scope?.gridNode) {
      add(`${at}.scope.sites`, 'a property manager needs the sites they manage');
    }
  });

  doc.departments?.forEach((d, i) => {
    const at = `departments[${i}]`;
    if (!kind.has(d.district)) add(`${at}.district`, `unknown grid node '${d.district}'`);
    else if (kind.get(d.district) !== 'district') add(`${at}.district`, `'${d.district}' is not a district`);
    person(`${at}.contact`, d.contact);
  });

  for (const [i, s] of (doc.sites ?? []).entries()) node(`sites[${i}].gridNode`, s.gridNode);

  const claimed = new Map<string, string>(known.siteUnit);
  for (const u of doc.emergencyUnits ?? []) for (const s of u.sites ?? []) claimed.delete(s);
  doc.emergencyUnits?.forEach((u, i) => {
    const at = `emergencyUnits[${i}]`;
    node(`${at}.gridNode`, u.gridNode);
    person(`${at}.leader`, u.leader);
    for (const [j, m] of (u.members ?? []).entries()) person(`${at}.members[${j}]`, m);
    u.sites?.forEach((s, j) => {
      if (!sites.has(s)) add(`${at}.sites[${j}]`, `unknown site '${s}'`);
      const other = claimed.get(s);
      if (other !== undefined && other !== u.id)
        add(`${at}.sites[${j}]`, `site '${s}' is already covered by unit '${other}'`);
      claimed.set(s, u.id);
    });
  });

  return { problems, paths };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * What an import changed beyond its own rows, for whoever must act on it after the commit: people
 * whose roles, jurisdiction, activity or unit membership changed (their live sessions end), and
 * devices whose grid path, site placement or emergency unit changed (their MQTT sessions end, so
 * they come back with the new placement).
 */
export interface ImportEffects {
  people: Set<string>;
  devices: Set<string>;
}

/**
 * Load a community into the store. Idempotent: entries are upserted by id and an unchanged entry is
 * not written (nor audited) again. All-or-nothing: any problem refuses the whole document with every
 * problem listed. Entries absent from the document are left as they are.
 */
export async function importCommunity(
  db: Db,
  input: unknown,
  actor: string,
  effects: ImportEffects = { people: new Set(), devices: new Set() },
): Promise<ImportSummary> {
  if (!validateCommunity(input)) {
    const problems = schemaProblems(validateCommunity.errors);
    throw new GridhubError('GH_ERR_COMMUNITY_INVALID', `community file has ${problems.length} problem(s)`, {
      problems,
    });
  }
  const doc = input;
  return db.transaction().execute(async (trx) => {
    const known = await loadKnown(trx);
    const { problems, paths } = check(doc, known);
    if (problems.length > 0) {
      throw new GridhubError('GH_ERR_COMMUNITY_INVALID', `community file has ${problems.length} problem(s)`, {
        problems,
      });
    }
    const now = new Date().toISOString();
    const summary: ImportSummary = {
      gridNodes: zero(),
      people: zero(),
      departments: zero(),
      sites: zero(),
      emergencyUnits: zero(),
    };
    const audit = (action: string, entityType: string, entityId: string, data: unknown) =>
      appendAudit(trx, { actor, action, entityType, entityId, data });

    // Grid nodes: the row, and its duty contacts.
    const nodeIds = new Set((doc.gridNodes ?? []).map((n) => n.id));
    const movedNodes = new Set<string>();
    for (const n of doc.gridNodes ?? []) {
      const row = {
        parent_id: n.parent ?? null,
        kind: n.kind,
        exclusive_type: n.exclusiveType ?? null,
        name: n.name,
        path: paths.get(n.id) as string,
      };
      const duty = (n.duty ?? []).map((d, position) => ({ role: d.role, person_id: d.person, position }));
      const old = await trx.selectFrom('grid_nodes').selectAll().where('id', '=', n.id).executeTakeFirst();
      const oldDuty = await trx
        .selectFrom('grid_duty')
        .select(['role', 'person_id', 'position'])
        .where('grid_node_id', '=', n.id)
        .orderBy('position')
        .execute();
      const rowSame =
        old &&
        same(
          [old.parent_id, old.kind, old.exclusive_type, old.name, old.path],
          [row.parent_id, row.kind, row.exclusive_type, row.name, row.path],
        );
      if (rowSame && same(oldDuty, duty)) {
        summary.gridNodes.unchanged++;
        continue;
      }
      if (old && old.path !== row.path) movedNodes.add(n.id);
      if (old)
        await trx
          .updateTable('grid_nodes')
          .set({ ...row, updated_at: now })
          .where('id', '=', n.id)
          .execute();
      else
        await trx
          .insertInto('grid_nodes')
          .values({ id: n.id, ...row, created_at: now, updated_at: now })
          .execute();
      summary.gridNodes[old ? 'updated' : 'created']++;
      await audit(old ? 'grid-node.update' : 'grid-node.create', 'grid-node', n.id, n);
    }
    // A moved node moves its stored descendants with it.
    for (const [id, existing] of known.nodes) {
      const path = paths.get(id);
      if (!nodeIds.has(id) && path && path !== existing.path) {
        await trx.updateTable('grid_nodes').set({ path, updated_at: now }).where('id', '=', id).execute();
        movedNodes.add(id);
      }
    }
    if (movedNodes.size > 0) {
      // Jurisdiction of people scoped there, and placement of devices there, changed with the path.
      const ids = [...movedNodes];
      for (const p of await trx
        .selectFrom('people')
        .select('id')
        .where('scope_grid_node_id', 'in', ids)
        .execute())
        effects.people.add(p.id);
      for (const d of await trx.selectFrom('devices').select('id').where('grid_node_id', 'in', ids).execute())
        effects.devices.add(d.id);
    }

    for (const p of doc.people ?? []) {
      const row = {
        name: p.name,
        phone: p.phone ?? null,
        roles: JSON.stringify(p.roles),
        scope_grid_node_id: p.scope?.gridNode ?? null,
        scope_site_ids: JSON.stringify(p.scope?.sites ?? []),
      };
      const old = await trx.selectFrom('people').selectAll().where('id', '=', p.id).executeTakeFirst();
      // `active` absent: unchanged (a new person is active); false deactivates.
      const active = p.active === undefined ? (old?.active ?? 1) : p.active ? 1 : 0;
      const fresh = { ...row, active };
      if (
        old &&
        same(
          [old.name, old.phone, old.roles, old.scope_grid_node_id, old.scope_site_ids, old.active],
          Object.values(fresh),
        )
      ) {
        summary.people.unchanged++;
        continue;
      }
      if (
        old &&
        !same(
          [old.roles, old.scope_grid_node_id, old.scope_site_ids, old.active],
          [fresh.roles, fresh.scope_grid_node_id, fresh.scope_site_ids, fresh.active],
        )
      )
        effects.people.add(p.id);
      if (old)
        await trx
          .updateTable('people')
          .set({ ...fresh, updated_at: now })
          .where('id', '=', p.id)
          .execute();
      else
        await trx
          .insertInto('people')
          .values({ id: p.id, ...fresh, created_at: now, updated_at: now })
          .execute();
      summary.people[old ? 'updated' : 'created']++;
      await audit(old ? 'person.update' : 'person.create', 'person', p.id, p);
    }

    // Duty rows reference people, so they are written after people exist.
    for (const n of doc.gridNodes ?? []) {
      const duty = (n.duty ?? []).map((d, position) => ({
        grid_node_id: n.id,
        role: d.role,
        person_id: d.person,
        position,
      }));
      await trx.deleteFrom('grid_duty').where('grid_node_id', '=', n.id).execute();
      if (duty.length > 0) await trx.insertInto('grid_duty').values(duty).execute();
    }

    for (const d of doc.departments ?? []) {
      const row = {
        district_id: d.district,
        kind: d.kind,
        name: d.name,
        phone: d.phone ?? null,
        contact_person_id: d.contact ?? null,
      };
      const old = await trx.selectFrom('departments').selectAll().where('id', '=', d.id).executeTakeFirst();
      if (
        old &&
        same([old.district_id, old.kind, old.name, old.phone, old.contact_person_id], Object.values(row))
      ) {
        summary.departments.unchanged++;
        continue;
      }
      if (old)
        await trx
          .updateTable('departments')
          .set({ ...row, updated_at: now })
          .where('id', '=', d.id)
          .execute();
      else
        await trx
          .insertInto('departments')
          .values({ id: d.id, ...row, created_at: now, updated_at: now })
          .execute();
      summary.departments[old ? 'updated' : 'created']++;
      await audit(old ? 'department.update' : 'department.create', 'department', d.id, d);
    }

    for (const s of doc.sites ?? []) {
      const row = {
        grid_node_id: s.gridNode,
        name: s.name,
        kind: s.kind ?? null,
        building: s.building ?? null,
        unit: s.unit ?? null,
        floor: s.floor ?? null,
        room: s.room ?? null,
        address: s.address ?? null,
        lat: s.location?.lat ?? null,
        lng: s.location?.lng ?? null,
      };
      const old = await trx.selectFrom('sites').selectAll().where('id', '=', s.id).executeTakeFirst();
      if (
        old &&
        same(
          [
            old.grid_node_id,
            old.name,
            old.kind,
            old.building,
            old.unit,
            old.floor,
            old.room,
            old.address,
            old.lat,
            old.lng,
          ],
          Object.values(row),
        )
      ) {
        summary.sites.unchanged++;
        continue;
      }
      if (old) {
        await trx
          .updateTable('sites')
          .set({ ...row, updated_at: now })
          .where('id', '=', s.id)
          .execute();
        // Devices follow their site to its grid node, so jurisdiction stays true.
        if (old.grid_node_id !== s.gridNode) {
          for (const d of await trx.selectFrom('devices').select('id').where('site_id', '=', s.id).execute())
            effects.devices.add(d.id);
          await trx
            .updateTable('devices')
            .set({ grid_node_id: s.gridNode, updated_at: now })
            .where('site_id', '=', s.id)
            .execute();
        }
      } else
        await trx
          .insertInto('sites')
          .values({ id: s.id, ...row, created_at: now, updated_at: now })
          .execute();
      summary.sites[old ? 'updated' : 'created']++;
      await audit(old ? 'site.update' : 'site.create', 'site', s.id, s);
    }

    for (const u of doc.emergencyUnits ?? []) {
      const row = { name: u.name, kind: u.kind, grid_node_id: u.gridNode, leader_id: u.leader };
      const members = u.members ?? [];
      const unitSites = [...(u.sites ?? [])].sort();
      const old = await trx
        .selectFrom('emergency_units')
        .selectAll()
        .where('id', '=', u.id)
        .executeTakeFirst();
      const oldMembers = (
        await trx
          .selectFrom('emergency_unit_members')
          .select('person_id')
          .where('unit_id', '=', u.id)
          .orderBy('position')
          .execute()
      ).map((m) => m.person_id);
      const oldSites = (
        await trx
          .selectFrom('emergency_unit_sites')
          .select('site_id')
          .where('unit_id', '=', u.id)
          .orderBy('site_id')
          .execute()
      ).map((s) => s.site_id);
      if (
        old &&
        same([old.name, old.kind, old.grid_node_id, old.leader_id], Object.values(row)) &&
        same(oldMembers, members) &&
        same(oldSites, unitSites)
      ) {
        summary.emergencyUnits.unchanged++;
        continue;
      }
      if (old)
        await trx
          .updateTable('emergency_units')
          .set({ ...row, updated_at: now })
          .where('id', '=', u.id)
          .execute();
      else
        await trx
          .insertInto('emergency_units')
          .values({ id: u.id, ...row, created_at: now, updated_at: now })
          .execute();
      // Unit leaders see the alerts of their units: membership is part of their grant.
      if (!old || old.leader_id !== u.leader || !same(oldMembers, members))
        for (const person of [old?.leader_id, u.leader, ...oldMembers, ...members])
          if (person) effects.people.add(person);
      await trx.deleteFrom('emergency_unit_members').where('unit_id', '=', u.id).execute();
      if (members.length > 0) {
        await trx
          .insertInto('emergency_unit_members')
          .values(members.map((person_id, position) => ({ unit_id: u.id, person_id, position })))
          .execute();
      }
      await trx.deleteFrom('emergency_unit_sites').where('unit_id', '=', u.id).execute();
      if (unitSites.length > 0) {
        await trx.deleteFrom('emergency_unit_sites').where('site_id', 'in', unitSites).execute();
        await trx
          .insertInto('emergency_unit_sites')
          .values(unitSites.map((site_id) => ({ unit_id: u.id, site_id })))
          .execute();
      }
      // Devices at the unit's sites answer to this unit from now on.
      const rebound = await trx
        .selectFrom('devices')
        .select('id')
        .where((eb) =>
          eb.or([
            eb('emergency_unit_id', '=', u.id),
            ...(unitSites.length > 0 ? [eb('site_id', 'in', unitSites)] : []),
          ]),
        )
        .execute();
      if (!same(oldSites, unitSites)) for (const d of rebound) effects.devices.add(d.id);
      await trx
        .updateTable('devices')
        .set({ emergency_unit_id: null })
        .where('emergency_unit_id', '=', u.id)
        .execute();
      if (unitSites.length > 0) {
        await trx
          .updateTable('devices')
          .set({ emergency_unit_id: u.id })
          .where('site_id', 'in', unitSites)
          .execute();
      }
      summary.emergencyUnits[old ? 'updated' : 'created']++;
      await audit(old ? 'emergency-unit.update' : 'emergency-unit.create', 'emergency-unit', u.id, u);
    }
    return summary;
  });
}
