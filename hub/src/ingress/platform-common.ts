import { createHash, timingSafeEqual } from 'node:crypto';
import { jsonDepth } from '../ingest/steps.ts';

/** A push that is refused as a whole (HTTP status from the error registry). */
export class PushRefused extends Error {
  constructor(
    readonly code: 'GH_ERR_INGRESS_MALFORMED' | 'GH_ERR_INGRESS_UNAUTHENTICATED' | 'GH_ERR_INGRESS_REPLAYED',
    message: string,
  ) {
    super(message);
  }
}

const MAX_DEPTH = 16;

/** Parse a push body: an object, not nested absurdly deep (checked before parsing). */
export function parsePush(text: string): Record<string, unknown> {
  if (jsonDepth(text, MAX_DEPTH) > MAX_DEPTH)
    throw new PushRefused('GH_ERR_INGRESS_MALFORMED', `the body nests deeper than ${MAX_DEPTH} levels`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new PushRefused('GH_ERR_INGRESS_MALFORMED', `not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new PushRefused('GH_ERR_INGRESS_MALFORMED', 'the body must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** Constant-time comparison of two texts. */
export function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** An event id of at most 64 characters from the parts that identify a platform message. */
export function messageKey(prefix: string, ...parts: (string | number)[]): string {
  const id = `${prefix}-${parts.join('-')}`;
  return id.length <= 64 ? id : `${prefix}-${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
}

/** Platform time as epoch ms: a number (ms, or seconds when it is clearly seconds) or an ISO string. */
export function platformTime(v: unknown, fallback: number): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v < 1e11 ? Math.round(v * 1000) : Math.round(v);
  if (typeof v === 'string') {
    const n = Number(v);
    if (v.trim() !== '' && Number.isFinite(n)) return platformTime(n, fallback);
    const t = Date.parse(v);
    if (Number.isFinite(t)) return t;
  }
  return fallback;
}

export const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : undefined;

/**
 * The exact text of a top-level member of a JSON object, as it was sent. OneNET signs the text of
 * `msg` as it put it in the body; a re-serialised copy could differ in spacing or key order.
 */
export function rawMember(text: string, key: string): string | undefined {
  let i = text.indexOf('{');
  if (i < 0) return undefined;
  i++;
  const skipWs = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const readString = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const skipValue = () => {
    let depth = 0;
    for (; i < text.length; i++) {
      const c = text[i];
      if (c === '"') {
        i++;
        while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      } else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        if (depth === 0) return;
        depth--;
        if (depth === 0) {
          i++;
          return;
        }
      } else if (c === ',' && depth === 0) return;
    }
  };
  while (i < text.length) {
    skipWs();
    if (text[i] !== '"') return undefined;
    const name = readString();
    skipWs();
    if (text[i] !== ':') return undefined;
    i++;
    skipWs();
    const start = i;
    skipValue();
    const value = text.slice(start, i).trimEnd();
    if (name === key) return value;
    skipWs();
    if (text[i] === ',') i++;
    else return undefined;
  }
  return undefined;
}
