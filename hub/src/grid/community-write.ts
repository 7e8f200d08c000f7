import type { Transaction } from 'kysely';
import { type AuditEntry, appendAudit } from '../audit/audit-log.ts';
import type { Db } from '../store/store.ts';
import type { Database } from '../store/tables.ts';
import type {
  DepartmentWrite,
  ImportPlan,
  NodeWrite,
  PersonWrite,
  SiteWrite,
  UnitWrite,
} from './community-plan.ts';

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

/** SQLite binds at most 32,766 parameters; IN lists are cut well below that. */
const IN_LIST = 500;

function inLists<T>(ids: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < ids.length; i += IN_LIST) out.push(ids.slice(i, i + IN_LIST));
  return out;
}

/**
 * The steps that write a plan, in the order its rows depend on each other — parents before
 * children, people before the duty rows and units that name them, sites before units — so each
 * committed chunk leaves a consistent model even if a later chunk fails.
 */
export function importSteps(plan: ImportPlan, actor: string): Step<never>[] {
  const ctx = {
    now: Date.now(),
    audit: (action: string, entityType: string, entityId: string, data: unknown): AuditEntry => ({
      actor,
      action,
      entityType,
      entityId,
      data,
    }),
  };
  const { now, audit } = ctx;
  const { scopedTo } = plan;
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
  const steps: Step<never>[] = [];
  const step = <T>(s: Step<T>) => {
    if (s.items.length > 0) steps.push(s as unknown as Step<never>);
  };
  step<NodeWrite>({
    name: 'grid-nodes',
    items: plan.nodeWrites,
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
    items: plan.pathWrites,
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
    items: plan.personWrites,
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
    items: plan.dutyWrites,
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
    items: plan.departmentWrites,
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
    items: plan.siteWrites,
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
    items: plan.unitWrites,
    chunk: 100,
    async write(trx, items, out) {
      for (const w of items) await writeUnit(trx, w, now, out);
      for (const w of items)
        out.audit.push(
          audit(w.created ? 'emergency-unit.create' : 'emergency-unit.update', 'emergency-unit', w.u.id, w.u),
        );
    },
  });
  return steps;
}

async function writeUnit(trx: Trx, w: UnitWrite, now: number, out: ChunkOut): Promise<void> {
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
