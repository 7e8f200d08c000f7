import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import {
  ALLOWED_PARENT,
  CommunityFile,
  DepartmentInput,
  EmergencyUnitInput,
  GridNodeInput,
  type GridNodeKind,
  type ImportProblem,
  PersonInput,
  SiteInput,
} from './community-schema.ts';
import type { Stored } from './community-stored.ts';
import { schemaProblems } from './schema-problems.ts';

const ajv = new Ajv({ allErrors: true, strict: false });
const validateFile = ajv.compile<CommunityFile>(CommunityFile);
const SECTIONS = {
  gridNodes: ajv.compile(GridNodeInput),
  people: ajv.compile(PersonInput),
  departments: ajv.compile(DepartmentInput),
  sites: ajv.compile(SiteInput),
  emergencyUnits: ajv.compile(EmergencyUnitInput),
} satisfies Record<keyof Omit<CommunityFile, 'version'>, ValidateFunction>;

/**
 * The schema check of a community file, one entry at a time with yields between (one ajv call over
 * a 135,000-node document runs 30–60 ms). The file's own shape is checked with its sections
 * emptied, each entry against its section's schema, and the errors are reported exactly as one
 * whole-document validation reports them (`gridNodes[3].parent`).
 */
export async function schemaCheck(
  input: unknown,
  slice: () => Promise<void>,
): Promise<{ doc: CommunityFile; problems: [] } | { problems: ImportProblem[] }> {
  const errors: ErrorObject[] = [];
  const sections: [keyof typeof SECTIONS, unknown[]][] = [];
  let shell = input;
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    const copy: Record<string, unknown> = { ...(input as Record<string, unknown>) };
    for (const key of Object.keys(SECTIONS) as (keyof typeof SECTIONS)[]) {
      const list = copy[key];
      if (Array.isArray(list)) {
        sections.push([key, list]);
        copy[key] = [];
      }
    }
    shell = copy;
  }
  if (!validateFile(shell)) errors.push(...(validateFile.errors ?? []));
  for (const [key, list] of sections) {
    const validate = SECTIONS[key];
    for (let i = 0; i < list.length; i++) {
      await slice();
      if (validate(list[i])) continue;
      for (const e of validate.errors ?? [])
        errors.push({ ...e, instancePath: `/${key}/${i}${e.instancePath}` });
    }
  }
  if (errors.length > 0) return { problems: schemaProblems(errors) };
  return { doc: input as CommunityFile, problems: [] };
}

/**
 * Check everything before writing anything, against file ∪ store; returns every problem found, in
 * file order, and the materialised path of every node after the import.
 */
export async function check(
  doc: CommunityFile,
  known: Stored,
  slice: () => Promise<void>,
): Promise<{ problems: ImportProblem[]; paths: Map<string, string> }> {
  const problems: ImportProblem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });

  const dupes = async (list: { id: string }[] | undefined, name: string) => {
    const first = new Map<string, number>();
    for (const [i, item] of (list ?? []).entries()) {
      await slice();
      const at = first.get(item.id);
      if (at === undefined) first.set(item.id, i);
      else add(`${name}[${i}].id`, `duplicate id '${item.id}' (also ${name}[${at}])`);
    }
  };
  await dupes(doc.gridNodes, 'gridNodes');
  await dupes(doc.people, 'people');
  await dupes(doc.departments, 'departments');
  await dupes(doc.sites, 'sites');
  await dupes(doc.emergencyUnits, 'emergencyUnits');

  // The grid tree after this import: stored nodes overlaid with the file's.
  const kind = new Map<string, GridNodeKind>();
  const parent = new Map<string, string | null>();
  for (const [id, n] of known.nodes) {
    await slice();
    kind.set(id, n.kind);
    parent.set(id, n.parent_id);
  }
  const fileIndex = new Map<string, number>();
  for (const [i, n] of (doc.gridNodes ?? []).entries()) {
    await slice();
    kind.set(n.id, n.kind);
    parent.set(n.id, n.parent ?? null);
    if (!fileIndex.has(n.id)) fileIndex.set(n.id, i);
  }
  const people = new Set(known.people.keys());
  for (const p of doc.people ?? []) people.add(p.id);
  const sites = new Set(known.sites.keys());
  for (const s of doc.sites ?? []) sites.add(s.id);
  const person = (path: string, id: string | undefined) => {
    if (id !== undefined && !people.has(id)) add(path, `unknown person '${id}'`);
  };
  const node = (path: string, id: string) => {
    if (!kind.has(id)) add(path, `unknown grid node '${id}'`);
  };

  for (const [i, n] of (doc.gridNodes ?? []).entries()) {
    await slice();
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
  }

  // Materialised paths, each from its parent's; a parent chain that loops is a problem, not an
  // endless walk (every node on or under a loop has no path).
  const paths = new Map<string, string>();
  const looped = new Set<string>();
  const pathOf = (id: string): string | undefined => {
    const chain: string[] = [];
    const onChain = new Set<string>();
    let cur: string | null | undefined = id;
    let base = '/';
    while (cur != null) {
      const known = paths.get(cur);
      if (known !== undefined) {
        base = known;
        break;
      }
      if (onChain.has(cur) || looped.has(cur)) {
        for (const c of chain) looped.add(c);
        return undefined;
      }
      onChain.add(cur);
      chain.push(cur);
      cur = parent.get(cur);
    }
    for (let k = chain.length - 1; k >= 0; k--) {
      base = `${base}${chain[k]}/`;
      paths.set(chain[k] as string, base);
    }
    return paths.get(id);
  };
  for (const id of kind.keys()) {
    await slice();
    if (pathOf(id) === undefined) {
      const i = fileIndex.get(id) ?? -1;
      if (i >= 0) add(`gridNodes[${i}].parent`, `grid node '${id}' is its own ancestor`);
    }
  }

  for (const [i, p] of (doc.people ?? []).entries()) {
    await slice();
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
  }

  for (const [i, d] of (doc.departments ?? []).entries()) {
    await slice();
    const at = `departments[${i}]`;
    if (!kind.has(d.district)) add(`${at}.district`, `unknown grid node '${d.district}'`);
    else if (kind.get(d.district) !== 'district') add(`${at}.district`, `'${d.district}' is not a district`);
    person(`${at}.contact`, d.contact);
  }

  for (const [i, s] of (doc.sites ?? []).entries()) {
    await slice();
    node(`sites[${i}].gridNode`, s.gridNode);
  }

  const claimed = new Map<string, string>(known.siteUnit);
  for (const u of doc.emergencyUnits ?? []) for (const s of u.sites ?? []) claimed.delete(s);
  for (const [i, u] of (doc.emergencyUnits ?? []).entries()) {
    await slice();
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
  }

  return { problems, paths };
}
