import type { Transaction } from 'kysely';
import { type AuditEntry, appendAudit } from '../audit/audit-log.ts';
import type { Db } from '../store/store.ts';
import type { Database } from '../store/tables.ts';
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

/**
 * What an import changed beyond its own rows, for whoever must act on it once it is written: people
 * whose roles, jurisdiction, activity or unit membership changed (their live sessions end), and
 * devices whose grid path, site placement or emergency unit changed (their MQTT sessions end, so
 * they come back with the new placement).
 */
export interface ImportEffects {
  people: Set<string>;
  devices: Set<string>;
}

type Trx = Transaction<Database>;

/** One kind of write, applied to a chunk of items in one short transaction. */
interface Step<T> {
  name: string;
  items: T[];
  /** most items per transaction (the writer sizes chunks by time below this) */
  chunk: number;
  write(trx: Trx, items: T[], out: ChunkOut): Promise<void>;
}

/** How long one chunk may hold the connection: a waiting alarm's query waits at most this. */
const CHUNK_MS = 8;
interface ChunkOut {
  audit: AuditEntry[];
  people: string[];
  devices: string[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const zero = () => ({ created: 0, updated: 0, unchanged: 0 });
/** SQLite binds at most 32,766 parameters; IN lists are cut well below that. */
const IN_LIST = 500;

function inLists<T>(ids: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < ids.length; i += IN_LIST) out.push(ids.slice(i, i + IN_LIST));
  return out;
}

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
 * The writes an import makes, diffed in memory against what is stored: an unchanged entry is not
 * written (nor audited). Steps in the order the rows depend on each other (parents before children,
 * people before the duty rows and units that name them, sites before units), so each committed
 * chunk leaves a consistent model even if a later chunk fails.
 */
export async function planImport(
  doc: CommunityFile,
  stored: Stored,
  paths: Map<string, string>,
  actor: string,
  slice: () => Promise<void>,
): Promise<{ summary: ImportSummary; steps: Step<never>[] }> {
  const now = new Date().toISOString();
  const summary: ImportSummary = {
    gridNodes: zero(),
    people: zero(),
    departments: zero(),
    sites: zero(),
    emergencyUnits: zero(),
  };
  const audit = (action: string, entityType: string, entityId: string, data: unknown): AuditEntry => ({
    actor,
    action,
    entityType,
    entityId,
    data,
  });

  // Grid nodes: the row (its duty rows come after people).
  type NodeWrite = { n: GridNodeInput; row: StoredNode; created: boolean; moved: boolean };
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
  /** People and devices under moved grid nodes: their jurisdiction or grid path changed. */
  const movedNodes = async (trx: Trx, nodeIds: string[], out: ChunkOut) => {
    for (const id of nodeIds) out.people.push(...(scopedTo.get(id) ?? []));
    for (const part of inLists(nodeIds))
      for (const d of await trx
        .selectFrom('devices')
        .select('id')
        .where('grid_node_id', 'in', part)
        .execute())
        out.devices.push(d.id);
  };

  type PersonWrite = { p: PersonInput; fresh: StoredPerson; created: boolean; grant: boolean };
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

  type DepartmentWrite = { d: DepartmentInput; row: StoredDepartment; created: boolean };
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

  type SiteWrite = { s: SiteInput; row: StoredSite; created: boolean; regrid: boolean };
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
  const unitSitesNow = new Map<string, Set<string>>();
  for (const [site, unit] of stored.siteUnit) {
    const set = unitSitesNow.get(unit) ?? new Set<string>();
    set.add(site);
    unitSitesNow.set(unit, set);
  }
  const unitWrites: UnitWrite[] = [];
  for (const u of doc.emergencyUnits ?? []) {
    await slice();
    const row = { name: u.name, kind: u.kind, grid_node_id: u.gridNode, leader_id: u.leader };
    const members = u.members ?? [];
    const unitSites = [...(u.sites ?? [])].sort();
    const old = stored.units.get(u.id);
    const oldMembers = stored.unitMembers.get(u.id) ?? [];
    const oldSites = [...(unitSitesNow.get(u.id) ?? [])].sort();
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
    unitSitesNow.set(u.id, new Set());
    for (const s of unitSites) for (const set of unitSitesNow.values()) set.delete(s);
    unitSitesNow.set(u.id, new Set(unitSites));
  }

  const steps: Step<never>[] = [];
  const step = <T>(s: Step<T>) => {
    if (s.items.length > 0) steps.push(s as unknown as Step<never>);
  };
  step<NodeWrite>({
    name: 'grid-nodes',
    items: nodeWrites,
    chunk: 500,
    async write(trx, items, out) {
      const created = items.filter((w) => w.created);
      for (const part of inLists(created))
        await trx
          .insertInto('grid_nodes')
          .values(part.map((w) => ({ id: w.n.id, ...w.row, created_at: now, updated_at: now })))
          .execute();
      for (const w of items) {
        if (!w.created)
          await trx
            .updateTable('grid_nodes')
            .set({ ...w.row, updated_at: now })
            .where('id', '=', w.n.id)
            .execute();
        out.audit.push(audit(w.created ? 'grid-node.create' : 'grid-node.update', 'grid-node', w.n.id, w.n));
      }
      await movedNodes(
        trx,
        items.filter((w) => w.moved).map((w) => w.n.id),
        out,
      );
    },
  });
  step({
    name: 'grid-paths',
    items: pathWrites,
    chunk: 500,
    async write(trx, items, out) {
      for (const w of items)
        await trx
          .updateTable('grid_nodes')
          .set({ path: w.path, updated_at: now })
          .where('id', '=', w.id)
          .execute();
      await movedNodes(
        trx,
        items.map((w) => w.id),
        out,
      );
    },
  });
  step<PersonWrite>({
    name: 'people',
    items: personWrites,
    chunk: 200,
    async write(trx, items, out) {
      for (const w of items) {
        if (w.grant) out.people.push(w.p.id);
        if (w.created)
          await trx
            .insertInto('people')
            .values({ id: w.p.id, ...w.fresh, created_at: now, updated_at: now })
            .execute();
        else
          await trx
            .updateTable('people')
            .set({ ...w.fresh, updated_at: now })
            .where('id', '=', w.p.id)
            .execute();
        out.audit.push(audit(w.created ? 'person.create' : 'person.update', 'person', w.p.id, w.p));
      }
    },
  });
  // Duty rows reference people, so they are written after people exist.
  step({
    name: 'duty',
    items: dutyWrites,
    chunk: 500,
    async write(trx, items) {
      for (const part of inLists(items.map((n) => n.id)))
        await trx.deleteFrom('grid_duty').where('grid_node_id', 'in', part).execute();
      const rows = items.flatMap((n) =>
        (n.duty ?? []).map((d, position) => ({
          grid_node_id: n.id,
          role: d.role,
          person_id: d.person,
          position,
        })),
      );
      for (const part of inLists(rows)) await trx.insertInto('grid_duty').values(part).execute();
    },
  });
  step<DepartmentWrite>({
    name: 'departments',
    items: departmentWrites,
    chunk: 200,
    async write(trx, items, out) {
      for (const w of items) {
        if (w.created)
          await trx
            .insertInto('departments')
            .values({ id: w.d.id, ...w.row, created_at: now, updated_at: now })
            .execute();
        else
          await trx
            .updateTable('departments')
            .set({ ...w.row, updated_at: now })
            .where('id', '=', w.d.id)
            .execute();
        out.audit.push(
          audit(w.created ? 'department.create' : 'department.update', 'department', w.d.id, w.d),
        );
      }
    },
  });
  step<SiteWrite>({
    name: 'sites',
    items: siteWrites,
    chunk: 200,
    async write(trx, items, out) {
      for (const w of items) {
        if (w.created)
          await trx
            .insertInto('sites')
            .values({ id: w.s.id, ...w.row, created_at: now, updated_at: now })
            .execute();
        else {
          await trx
            .updateTable('sites')
            .set({ ...w.row, updated_at: now })
            .where('id', '=', w.s.id)
            .execute();
          // Devices follow their site to its grid node, so jurisdiction stays true.
          if (w.regrid) {
            for (const d of await trx
              .selectFrom('devices')
              .select('id')
              .where('site_id', '=', w.s.id)
              .execute())
              out.devices.push(d.id);
            await trx
              .updateTable('devices')
              .set({ grid_node_id: w.s.gridNode, updated_at: now })
              .where('site_id', '=', w.s.id)
              .execute();
          }
        }
        out.audit.push(audit(w.created ? 'site.create' : 'site.update', 'site', w.s.id, w.s));
      }
    },
  });
  step<UnitWrite>({
    name: 'emergency-units',
    items: unitWrites,
    chunk: 100,
    async write(trx, items, out) {
      for (const w of items) await writeUnit(trx, w, now, out);
      for (const w of items)
        out.audit.push(
          audit(w.created ? 'emergency-unit.create' : 'emergency-unit.update', 'emergency-unit', w.u.id, w.u),
        );
    },
  });
  return { summary, steps };
}

interface UnitWrite {
  u: EmergencyUnitInput;
  members: string[];
  sites: string[];
  created: boolean;
  sitesChanged: boolean;
  people: string[];
}

async function writeUnit(trx: Trx, w: UnitWrite, now: string, out: ChunkOut): Promise<void> {
  const { u, members, sites } = w;
  const row = { name: u.name, kind: u.kind, grid_node_id: u.gridNode, leader_id: u.leader };
  if (w.created)
    await trx
      .insertInto('emergency_units')
      .values({ id: u.id, ...row, created_at: now, updated_at: now })
      .execute();
  else
    await trx
      .updateTable('emergency_units')
      .set({ ...row, updated_at: now })
      .where('id', '=', u.id)
      .execute();
  out.people.push(...w.people);
  await trx.deleteFrom('emergency_unit_members').where('unit_id', '=', u.id).execute();
  if (members.length > 0)
    await trx
      .insertInto('emergency_unit_members')
      .values(members.map((person_id, position) => ({ unit_id: u.id, person_id, position })))
      .execute();
  await trx.deleteFrom('emergency_unit_sites').where('unit_id', '=', u.id).execute();
  if (sites.length > 0) {
    await trx.deleteFrom('emergency_unit_sites').where('site_id', 'in', sites).execute();
    await trx
      .insertInto('emergency_unit_sites')
      .values(sites.map((site_id) => ({ unit_id: u.id, site_id })))
      .execute();
  }
  // Devices at the unit's sites answer to this unit from now on.
  const rebound = await trx
    .selectFrom('devices')
    .select('id')
    .where((eb) =>
      eb.or([eb('emergency_unit_id', '=', u.id), ...(sites.length > 0 ? [eb('site_id', 'in', sites)] : [])]),
    )
    .execute();
  if (w.sitesChanged) for (const d of rebound) out.devices.push(d.id);
  await trx
    .updateTable('devices')
    .set({ emergency_unit_id: null })
    .where('emergency_unit_id', '=', u.id)
    .execute();
  if (sites.length > 0)
    await trx.updateTable('devices').set({ emergency_unit_id: u.id }).where('site_id', 'in', sites).execute();
}

/**
 * Run the steps in order, each in chunks of one short transaction (its rows and their audit
 * entries commit together), yielding to the event loop between chunks: the connection is never
 * held for long, so a panic press's ticket waits at most one chunk. Effects are recorded as each
 * chunk commits, so they are true for what was written even when a later chunk fails.
 */
export async function writeSteps(
  db: Db,
  steps: readonly Step<never>[],
  effects: ImportEffects,
  slice: () => Promise<void>,
): Promise<void> {
  for (const s of steps) {
    // Start small; then size each chunk from how long the last one took per item.
    let size = Math.min(s.chunk, 20);
    for (let i = 0; i < s.items.length; ) {
      const items = s.items.slice(i, i + size);
      const out: ChunkOut = { audit: [], people: [], devices: [] };
      const started = performance.now();
      await db.transaction().execute(async (trx) => {
        await s.write(trx, items, out);
        await appendAudit(trx, out.audit);
      });
      const perItem = (performance.now() - started) / items.length;
      i += items.length;
      size = Math.max(1, Math.min(s.chunk, Math.floor(CHUNK_MS / Math.max(perItem, 0.001))));
      for (const p of out.people) effects.people.add(p);
      for (const d of out.devices) effects.devices.add(d);
      await slice();
    }
  }
}
