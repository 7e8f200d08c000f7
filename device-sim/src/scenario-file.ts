import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { Scenario } from './scenario-schema.ts';

const validate = new Ajv({ strict: false, allErrors: true }).compile<Scenario>(Scenario);

/** Read and check a scenario file; every problem is listed as path: message. */
export function loadScenario(file: string): Scenario {
  const doc: unknown = parse(readFileSync(file, 'utf8'));
  if (!validate(doc)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'}: ${e.message}`);
    throw new Error(`${file}: not a valid scenario:\n  ${[...new Set(problems)].join('\n  ')}`);
  }
  for (const step of doc.timeline) {
    for (const name of 'devices' in step ? step.devices : [step.device]) {
      if (!doc.devices[name]) throw new Error(`${file}: timeline names unknown device '${name}'`);
    }
  }
  return doc;
}
