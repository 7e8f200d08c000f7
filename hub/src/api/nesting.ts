/**
 * Bounds on nesting (issue 14): a body like `{"data":[[[[…]]]]}` is cheap to send, parses fine
 * (V8's JSON.parse does not recurse) and then overflows the stack in the first recursive code it
 * reaches (JSON.stringify, a schema walk). It is refused before parsing, in linear time, without
 * recursion. No request the hub understands nests anywhere near this deep.
 */
export const MAX_NESTING = 32;

/** Does JSON text nest objects/arrays deeper than `max`? (Brackets inside strings do not count.) */
export function jsonNestingExceeds(text: string, max = MAX_NESTING): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The same bound for a value already parsed from another format (YAML), walked iteratively. */
export function valueNestingExceeds(value: unknown, max = MAX_NESTING): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    if (depth + 1 > max) return true;
    seen.add(v);
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}
