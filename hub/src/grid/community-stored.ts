import { eachRowidPage, rowid } from '../store/pages.ts';
import type { Db } from '../store/store.ts';
import type { GridNodeKind } from './community-schema.ts';

export interface StoredNode {
  parent_id: string | null;
  kind: GridNodeKind;
  exclusive_type: string | null;
  name: string;
  path: string;
}
export interface StoredDuty {
  role: string;
  person_id: string;
  position: number;
}
export interface StoredPerson {
  name: string;
  phone: string | null;
  roles: string;
  scope_grid_node_id: string | null;
  scope_site_ids: string;
  active: number;
}
export interface StoredDepartment {
  district_id: string;
  kind: string;
  name: string;
  phone: string | null;
  contact_person_id: string | null;
}
export interface StoredSite {
  grid_node_id: string;
  name: string;
  kind: string | null;
  building: string | null;
  unit: string | null;
  floor: string | null;
  room: string | null;
  address: string | null;
  lat: number | null;
  lng: number | null;
}
export interface StoredUnit {
  name: string;
  kind: string;
  grid_node_id: string;
  leader_id: string;
}

/**
 * The grid model as stored, read a page at a time before an import: the whole file is checked
 * against file ∪ store and diffed against it in memory, so nothing is read row by row while
 * writing and no connection is held while it is read.
 */
export interface Stored {
  nodes: Map<string, StoredNode>;
  /** duty contacts per grid node, in position order */
  duty: Map<string, StoredDuty[]>;
  people: Map<string, StoredPerson>;
  departments: Map<string, StoredDepartment>;
  sites: Map<string, StoredSite>;
  units: Map<string, StoredUnit>;
  /** on-call order per unit */
  unitMembers: Map<string, string[]>;
  /** which unit covers each site */
  siteUnit: Map<string, string>;
}

const push = <K, V>(m: Map<K, V[]>, k: K, v: V) => {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
};

export async function loadStored(db: Db, slice: () => Promise<void>): Promise<Stored> {
  const s: Stored = {
    nodes: new Map(),
    duty: new Map(),
    people: new Map(),
    departments: new Map(),
    sites: new Map(),
    units: new Map(),
    unitMembers: new Map(),
    siteUnit: new Map(),
  };
  const after = (a: number) => [rowid, '>', a] as const;
  await eachRowidPage(
    (a, limit) =>
      db
        .selectFrom('grid_nodes')
        .select(['id', 'parent_id', 'kind', 'exclusive_type', 'name', 'path', rowid.as('rid')])
        .where(...after(a))
        .orderBy(rowid)
        .limit(limit)
        .execute(),
    (rows) => {
      for (const { id, rid: _, ...n } of rows) s.nodes.set(id, { ...n, kind: n.kind as GridNodeKind });
    },
    slice,
  );
  const duty = new Map<string, StoredDuty[]>();
  await eachRowidPage(
    (a, limit) =>
      db
        .selectFrom('grid_duty')
        .select(['grid_node_id', 'role', 'person_id', 'position', rowid.as('rid')])
        .where(...after(a))
        .orderBy(rowid)
        .limit(limit)
        .execute(),
    (rows) => {
      for (const d of rows)
        push(duty, d.grid_node_id, { role: d.role, person_id: d.person_id, position: d.position });
    },
    slice,
  );
  for (const [id, list] of duty)
    s.duty.set(
      id,
      list.sort((a, b) => a.position - b.position),
    );
  await slice();
  await eachRowidPage(
    (a, limit) =>
      db
        .selectFrom('people')
        .select([
          'id',
          'name',
          'phone',
          'roles',
          'scope_grid_node_id',
          'scope_site_ids',
          'active',
          rowid.as('rid'),
        ])
        .where(...after(a))
        .orderBy(rowid)
        .limit(limit)
        .execute(),
    (rows) => {
      for (const { id, rid: _, ...p } of rows) s.people.set(id, p);
    },
    slice,
  );
  await eachRowidPage(
    (a, limit) =>
      db
        .selectFrom('departments')
        .select(['id', 'district_id', 'kind', 'name', 'phone', 'contact_person_id', rowid.as('rid')])
        .where(...after(a))
        .orderBy(rowid)
        .limit(limit)
        .execute(),
    (rows) => {
      for (const { id, rid: _, ...d } of rows) s.departments.set(id, d);
    },
    slice,
  );
  await eachRowidPage(
    (a, limit) =>
      db
        .selectFrom('sites')
        .select([
          'id',
          'grid_node_id',
          'name',
          'kind',
          'building',
          'unit',
          'floor',
          'room',
          'address',
          'lat',
          'lng',
          rowid.as('rid'),
        ])
        .where(...after(a))
        .orderBy(rowid)
        .limit(limit)
        .execute(),
    (rows) => {
      for (const { id, rid: _, ...site } of rows) s.sites.set(id, site);
    },
    slice,
  );
  await eachRowidPage(
    (a, limit) =>
      db
        .selectFrom('emergency_units')
        .select(['id', 'name', 'kind', 'grid_node_id', 'leader_id', rowid.as('rid')])
        .where(...after(a))
        .orderBy(rowid)
        .limit(limit)
        .execute(),
    (rows) => {
      for (const { id, rid: _, ...u } of rows) s.units.set(id, u);
    },
    slice,
  );
  const members = new Map<string, { person_id: string; position: number }[]>();
  await eachRowidPage(
    (a, limit) =>
      db
        .selectFrom('emergency_unit_members')
        .select(['unit_id', 'person_id', 'position', rowid.as('rid')])
        .where(...after(a))
        .orderBy(rowid)
        .limit(limit)
        .execute(),
    (rows) => {
      for (const m of rows) push(members, m.unit_id, m);
    },
    slice,
  );
  for (const [id, list] of members)
    s.unitMembers.set(
      id,
      list.sort((a, b) => a.position - b.position).map((m) => m.person_id),
    );
  await eachRowidPage(
    (a, limit) =>
      db
        .selectFrom('emergency_unit_sites')
        .select(['unit_id', 'site_id', rowid.as('rid')])
        .where(...after(a))
        .orderBy(rowid)
        .limit(limit)
        .execute(),
    (rows) => {
      for (const r of rows) s.siteUnit.set(r.site_id, r.unit_id);
    },
    slice,
  );
  return s;
}
