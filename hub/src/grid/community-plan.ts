import type {
  CommunityFile,
  DepartmentInput,
  EmergencyUnitInput,
  GridNodeInput,
  ImportSummary,
  PersonInput,
  SiteInput,
} from './community-schema.ts';
import type { Stored, StoredDepartment, StoredNode, StoredPerson, StoredSite } from './community-stored.ts';

export interface NodeWrite {
  n: GridNodeInput;
  row: StoredNode;
  created: boolean;
  /** its path changes: people scoped to it and devices under it are affected */
  moved: boolean;
}
export interface PersonWrite {
  p: PersonInput;
  fresh: StoredPerson;
  created: boolean;
  /** roles, jurisdiction or activity changed: the person's sessions end */
  grant: boolean;
}
export interface DepartmentWrite {
  d: DepartmentInput;
  row: StoredDepartment;
  created: boolean;
}
export interface SiteWrite {
  s: SiteInput;
  row: StoredSite;
  created: boolean;
  /** moved to another grid node: its devices follow */
  regrid: boolean;
}
export interface UnitWrite {
  u: EmergencyUnitInput;
  members: string[];
  sites: string[];
  created: boolean;
  sitesChanged: boolean;
  /** leader and members before and after, when the on-call chain changed */
  people: string[];
}

/** Everything an import will write, as data; community-write.ts turns it into SQL. */
export interface ImportPlan {
  summary: ImportSummary;
  nodeWrites: NodeWrite[];
  /** stored descendants of moved nodes, with their new paths */
  pathWrites: { id: string; path: string }[];
  /** people by the grid node they are scoped to (filled when some node moves) */
  scopedTo: Map<string, string[]>;
  personWrites: PersonWrite[];
  /** file nodes whose duty contacts change */
  dutyWrites: GridNodeInput[];
  departmentWrites: DepartmentWrite[];
  siteWrites: SiteWrite[];
  unitWrites: UnitWrite[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const zero = () => ({ created: 0, updated: 0, unchanged: 0 });

/** File nodes, each after its parent when the parent is in the file too; otherwise in file order. */
async function parentsFirst(
  nodes: readonly GridNodeInput[],
  slice: () => Promise<void>,
): Promise<GridNodeInput[]> {
  const byId = new Map<string, GridNodeInput>();
  for (const n of nodes) {
    await slice();
    byId.set(n.id, n);
  }
  const done = new Set<string>();
  const out: GridNodeInput[] = [];
  for (const n of nodes) {
    await slice();
    const chain: GridNodeInput[] = [];
    for (let cur: GridNodeInput | undefined = n; cur && !done.has(cur.id); ) {
      chain.push(cur);
      done.add(cur.id);
      cur = cur.parent ? byId.get(cur.parent) : undefined;
    }
    for (let i = chain.length - 1; i >= 0; i--) out.push(chain[i] as GridNodeInput);
  }
  return out;
}

/**
 * What an import will write, diffed in memory against what is stored (with yields): an unchanged
 * entry is not written (nor audited). Counted here, so the summary says what the file changes.
 */
export async function planImport(
  doc: CommunityFile,
  stored: Stored,
  paths: Map<string, string>,
  slice: () => Promise<void>,
): Promise<ImportPlan> {
  const summary: ImportSummary = {
    gridNodes: zero(),
    people: zero(),
    departments: zero(),
    sites: zero(),
    emergencyUnits: zero(),
  };
  // Grid nodes: the row (its duty rows come after people).
  const nodeWrites: NodeWrite[] = [];
  const dutyWrites: GridNodeInput[] = [];
  const fileNodes = new Set<string>();
  for (const n of await parentsFirst(doc.gridNodes ?? [], slice)) {
    await slice();
    fileNodes.add(n.id);
    const row = {
      parent_id: n.parent ?? null,
      kind: n.kind,
      exclusive_type: n.exclusiveType ?? null,
      name: n.name,
      path: paths.get(n.id) as string,
    };
    const duty = (n.duty ?? []).map((d, position) => ({ role: d.role, person_id: d.person, position }));
    const old = stored.nodes.get(n.id);
    const dutySame = same(stored.duty.get(n.id) ?? [], duty);
    if (!dutySame) dutyWrites.push(n);
    const rowSame =
      old &&
      same(
        [old.parent_id, old.kind, old.exclusive_type, old.name, old.path],
        [row.parent_id, row.kind, row.exclusive_type, row.name, row.path],
      );
    if (rowSame && dutySame) {
      summary.gridNodes.unchanged++;
      continue;
    }
    summary.gridNodes[old ? 'updated' : 'created']++;
    nodeWrites.push({ n, row, created: !old, moved: old !== undefined && old.path !== row.path });
  }
  // A moved node moves its stored descendants with it.
  const pathWrites: { id: string; path: string }[] = [];
  for (const [id, existing] of stored.nodes) {
    await slice();
    const path = paths.get(id);
    if (!fileNodes.has(id) && path && path !== existing.path) pathWrites.push({ id, path });
  }
  // The jurisdiction of people scoped to a moved node changed with its path.
  const scopedTo = new Map<string, string[]>();
  if (pathWrites.length > 0 || nodeWrites.some((w) => w.moved))
    for (const [id, p] of stored.people)
      if (p.scope_grid_node_id) {
        const list = scopedTo.get(p.scope_grid_node_id);
        if (list) list.push(id);
        else scopedTo.set(p.scope_grid_node_id, [id]);
      }
  const personWrites: PersonWrite[] = [];
  for (const p of doc.people ?? []) {
    await slice();
    const row = {
      name: p.name,
      phone: p.phone ?? null,
      roles: JSON.stringify(p.roles),
      scope_grid_node_id: p.scope?.gridNode ?? null,
      scope_site_ids: JSON.stringify(p.scope?.sites ?? []),
    };
    const old = stored.people.get(p.id);
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
    const grant =
      old !== undefined &&
      !same(
        [old.roles, old.scope_grid_node_id, old.scope_site_ids, old.active],
        [fresh.roles, fresh.scope_grid_node_id, fresh.scope_site_ids, fresh.active],
      );
    summary.people[old ? 'updated' : 'created']++;
    personWrites.push({ p, fresh, created: !old, grant });
  }

  const departmentWrites: DepartmentWrite[] = [];
  for (const d of doc.departments ?? []) {
    await slice();
    const row = {
      district_id: d.district,
      kind: d.kind,
      name: d.name,
      phone: d.phone ?? null,
      contact_person_id: d.contact ?? null,
    };
    const old = stored.departments.get(d.id);
    if (
      old &&
      same([old.district_id, old.kind, old.name, old.phone, old.contact_person_id], Object.values(row))
    ) {
      summary.departments.unchanged++;
      continue;
    }
    summary.departments[old ? 'updated' : 'created']++;
    departmentWrites.push({ d, row, created: !old });
  }

  const siteWrites: SiteWrite[] = [];
  for (const s of doc.sites ?? []) {
    await slice();
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
    const old = stored.sites.get(s.id);
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
    summary.sites[old ? 'updated' : 'created']++;
    siteWrites.push({ s, row, created: !old, regrid: old !== undefined && old.grid_node_id !== s.gridNode });
  }

  // Units in file order against the sites each covers at that point: a unit earlier in the file
  // may take a site from one later in it, exactly as the writes will.
  const owner = new Map(stored.siteUnit);
  const covered = new Map<string, Set<string>>();
  for (const [site, unit] of owner) {
    const set = covered.get(unit) ?? new Set<string>();
    set.add(site);
    covered.set(unit, set);
  }
  const unitWrites: UnitWrite[] = [];
  for (const u of doc.emergencyUnits ?? []) {
    await slice();
    const row = { name: u.name, kind: u.kind, grid_node_id: u.gridNode, leader_id: u.leader };
    const members = u.members ?? [];
    const unitSites = [...(u.sites ?? [])].sort();
    const old = stored.units.get(u.id);
    const oldMembers = stored.unitMembers.get(u.id) ?? [];
    const oldSites = [...(covered.get(u.id) ?? [])].sort();
    if (
      old &&
      same([old.name, old.kind, old.grid_node_id, old.leader_id], Object.values(row)) &&
      same(oldMembers, members) &&
      same(oldSites, unitSites)
    ) {
      summary.emergencyUnits.unchanged++;
      continue;
    }
    // Unit leaders see the alerts of their units: membership is part of their grant.
    const people =
      !old || old.leader_id !== u.leader || !same(oldMembers, members)
        ? [old?.leader_id, u.leader, ...oldMembers, ...members].filter((p): p is string => !!p)
        : [];
    unitWrites.push({
      u,
      members,
      sites: unitSites,
      created: !old,
      sitesChanged: !same(oldSites, unitSites),
      people,
    });
    summary.emergencyUnits[old ? 'updated' : 'created']++;
    for (const site of oldSites) owner.delete(site);
    for (const site of unitSites) {
      const from = owner.get(site);
      if (from !== undefined) covered.get(from)?.delete(site);
      owner.set(site, u.id);
    }
    covered.set(u.id, new Set(unitSites));
  }

  return {
    summary,
    nodeWrites,
    pathWrites,
    scopedTo,
    personWrites,
    dutyWrites,
    departmentWrites,
    siteWrites,
    unitWrites,
  };
}
