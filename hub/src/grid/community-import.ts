import { GridhubError } from '../errors.ts';
import type { Db } from '../store/store.ts';
import { timeSlicer } from '../yield.ts';
import { check, schemaCheck } from './community-check.ts';
import { planImport } from './community-plan.ts';
import type { ImportProblem, ImportSummary } from './community-schema.ts';
import { loadStored } from './community-stored.ts';
import { type ImportEffects, importSteps, writeSteps } from './community-write.ts';

export type { ImportEffects } from './community-write.ts';

const invalid = (problems: ImportProblem[]) =>
  new GridhubError('GH_ERR_COMMUNITY_INVALID', `community file has ${problems.length} problem(s)`, {
    problems,
  });

/**
 * Load a community into the store. Idempotent: entries are upserted by id and an unchanged entry is
 * not written (nor audited) again; entries absent from the document are left as they are. The whole
 * document is checked first — schema, references, the grid tree — against file ∪ store, and any
 * problem refuses it with every problem listed and nothing written.
 *
 * A city's file (135,000 grid nodes) must not hold back an alarm (DESIGN.md: nothing blocks the
 * event loop for more than 50 ms), so nothing here is one long call or one long transaction: the
 * store is read in pages, checked and diffed in memory with yields, and written in short
 * transactions (rows and their audit entries together) with yields between. If writing stops
 * part-way (a full disk, a crash), the chunks already committed stay — each leaves a consistent
 * model — and `effects` holds what they changed; sending the same file again completes the import
 * (docs/decisions.md, 2026-12-01).
 */
export async function importCommunity(
  db: Db,
  input: unknown,
  actor: string,
  effects: ImportEffects = { people: new Set(), devices: new Set() },
): Promise<ImportSummary> {
  const slice = timeSlicer();
  const schema = await schemaCheck(input, slice);
  if (!('doc' in schema)) throw invalid(schema.problems);
  const stored = await loadStored(db, slice);
  const { problems, paths } = await check(schema.doc, stored, slice);
  problems.push(...(await personIdsTaken(db, schema.doc, stored, slice)));
  if (problems.length > 0) throw invalid(problems);
  const plan = await planImport(schema.doc, stored, paths, slice);
  await writeSteps(db, importSteps(plan, actor), effects, slice);
  return plan.summary;
}

/**
 * New people whose id is a device's (a device's MQTT client id is its id, a staff client's its
 * person id: one id must name one identity, or either could take over the other's session). People
 * already stored are left to the broker, which refuses such an ambiguous client id at CONNECT.
 */
async function personIdsTaken(
  db: Db,
  doc: { people?: { id: string }[] },
  stored: { people: Map<string, unknown> },
  slice: () => Promise<void>,
): Promise<ImportProblem[]> {
  const fresh = (doc.people ?? []).map((p, i) => ({ id: p.id, i })).filter((p) => !stored.people.has(p.id));
  const problems: ImportProblem[] = [];
  for (let k = 0; k < fresh.length; k += 500) {
    await slice();
    const chunk = fresh.slice(k, k + 500);
    const taken = new Set(
      (
        await db
          .selectFrom('devices')
          .select('id')
          .where(
            'id',
            'in',
            chunk.map((p) => p.id),
          )
          .execute()
      ).map((d) => d.id),
    );
    for (const p of chunk)
      if (taken.has(p.id))
        problems.push({
          path: `people[${p.i}].id`,
          message: `'${p.id}' is a device's id (GH_ERR_IDENTITY_ID_TAKEN): a person may not take it, it would name the same MQTT client`,
        });
  }
  return problems;
}

/**
 * Runs imports one after another. An import reads the store, then writes it over many short
 * transactions; a second import (or a single-entry edit) in between would be checked against a
 * model the first is still changing.
 */
export function oneAtATime(): <T>(f: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(f: () => Promise<T>) => {
    const run = tail.then(f, f);
    tail = run.catch(() => undefined);
    return run;
  };
}
