import { type Kysely, sql } from 'kysely';
import type { Database } from '../store/tables.ts';

/** What carries a display name, and the table it lives in. */
const TABLES = {
  person: 'people',
  site: 'sites',
  device: 'devices',
  gridNode: 'grid_nodes',
  department: 'departments',
  unit: 'emergency_units',
  webhook: 'webhook_targets',
} as const satisfies Record<string, keyof Database>;
export type NameKind = keyof typeof TABLES;

export type NameRefs = Partial<Record<NameKind, Iterable<string | null | undefined>>>;

/**
 * Display names of the people, sites, devices, grid nodes, departments, units and webhook targets a
 * list mentions, so API views carry names next to ids. `get` returns null for an id without a name
 * (an unnamed device, a deleted person) and for a null id.
 */
export class Names {
  constructor(private readonly byKind: ReadonlyMap<string, string | null>) {}

  get(kind: NameKind, id: string | null | undefined): string | null {
    return id == null ? null : (this.byKind.get(`${kind}\u0000${id}`) ?? null);
  }

  /** An actor string (`person:p-1`, `rule:smoke-alarm`, `system`): the person's name, else null. */
  actor(actor: string | null | undefined): string | null {
    return actor?.startsWith('person:') ? this.get('person', actor.slice(7)) : null;
  }
}

/** Every name the refs ask for, in one query (a UNION ALL over the tables), however long the list. */
export async function lookupNames(db: Kysely<Database>, refs: NameRefs): Promise<Names> {
  const parts = [];
  for (const [kind, table] of Object.entries(TABLES) as [NameKind, string][]) {
    const ids = [...new Set([...(refs[kind] ?? [])].filter((id): id is string => !!id))];
    if (ids.length === 0) continue;
    parts.push(sql`select ${kind} as kind, id, name from ${sql.table(table)} where id in (${sql.join(ids)})`);
  }
  if (parts.length === 0) return new Names(new Map());
  const { rows } = await sql<{ kind: string; id: string; name: string | null }>`${sql.join(
    parts,
    sql` union all `,
  )}`.execute(db);
  return new Names(new Map(rows.map((r) => [`${r.kind}\u0000${r.id}`, r.name])));
}
