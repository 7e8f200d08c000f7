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

/**
 * The same bound for YAML text, before it is parsed (the `yaml` parser recurses per level, so a
 * `a: [[[[…]]]]` of 50,000 levels overflows the stack or runs out of memory while parsing). Flow
 * collections are counted like JSON's brackets (outside quotes and comments); block nesting is
 * bounded by indentation (a level takes at least one more space, and the hub's files use two).
 */
export function yamlNestingExceeds(text: string, max = MAX_NESTING): boolean {
  let depth = 0;
  let quote = 0; // 0, or the quote character's code
  let lineStart = true;
  let indent = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      lineStart = true;
      indent = 0;
      continue;
    }
    if (lineStart) {
      // indentation, and compact sequence entries (`- - - x` nests three levels on one line)
      if (c === 0x20 || (c === 0x2d && text.charCodeAt(i + 1) === 0x20)) {
        if (++indent > max * 4) return true;
        continue;
      }
      lineStart = false;
    }
    if (quote !== 0) {
      if (quote === 0x22 && c === 0x5c) i++;
      else if (c === quote) {
        if (quote === 0x27 && text.charCodeAt(i + 1) === 0x27)
          i++; // '' inside '…'
        else quote = 0;
      }
      continue;
    }
    if (c === 0x23 && (i === 0 || text.charCodeAt(i - 1) <= 0x20)) {
      // a comment: skip to the end of the line
      while (i + 1 < text.length && text.charCodeAt(i + 1) !== 0x0a) i++;
    } else if (c === 0x22 || c === 0x27) quote = c;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
