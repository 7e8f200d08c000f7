import { parse as parseYaml } from 'yaml';
import { jsonNestingExceeds, MAX_NESTING, valueNestingExceeds, yamlNestingExceeds } from '../api/nesting.ts';
import { type ErrorCode, GridhubError } from '../errors.ts';

export type CommunityFormat = 'json' | 'yaml';

/** A refusal that can cross a worker boundary (a GridhubError cannot). */
export interface TextProblem {
  code: ErrorCode;
  message: string;
}

// fastify's JSON parser refuses these keys (prototype poisoning); the community file does the same.
const PROTO_KEY = /"(?:__proto__|constructor)"\s*:/;

function parseJson(text: string): unknown {
  if (text.length === 0)
    throw new GridhubError(
      'GH_ERR_VALIDATION',
      "Body cannot be empty when content-type is set to 'application/json'",
    );
  if (jsonNestingExceeds(text))
    throw new GridhubError('GH_ERR_NESTING_TOO_DEEP', `the body nests deeper than ${MAX_NESTING} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new GridhubError(
      'GH_ERR_VALIDATION',
      "Body is not valid JSON but content-type is set to 'application/json'",
    );
  }
  if (PROTO_KEY.test(text)) {
    const stack: unknown[] = [value];
    while (stack.length > 0) {
      const v = stack.pop();
      if (v === null || typeof v !== 'object') continue;
      if (
        Object.hasOwn(v, '__proto__') ||
        (Object.hasOwn(v, 'constructor') && typeof (v as { constructor: unknown }).constructor === 'object')
      )
        throw new GridhubError('GH_ERR_VALIDATION', 'Object contains forbidden prototype property');
      for (const child of Object.values(v)) stack.push(child);
    }
  }
  return value;
}

function parseYamlText(text: string): unknown {
  // before parsing: the YAML parser recurses per level of nesting
  if (yamlNestingExceeds(text))
    throw new GridhubError('GH_ERR_NESTING_TOO_DEEP', `the document nests deeper than ${MAX_NESTING} levels`);
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new GridhubError('GH_ERR_COMMUNITY_INVALID', `YAML is not readable: ${(err as Error).message}`);
  }
  if (valueNestingExceeds(doc))
    throw new GridhubError('GH_ERR_NESTING_TOO_DEEP', `the document nests deeper than ${MAX_NESTING} levels`);
  return doc;
}

/**
 * A community file's text as a value, or a GridhubError: nesting deeper than the hub accepts
 * (checked before JSON is parsed, after YAML is), unreadable text, forbidden prototype keys. The
 * value is not validated yet.
 */
export function parseCommunityText(text: string, format: CommunityFormat): unknown {
  return format === 'json' ? parseJson(text) : parseYamlText(text);
}
