import type { ErrorObject } from 'ajv';

/** `/gridNodes/3/parent` → `gridNodes[3].parent`, the way operators read a file. */
export function readablePath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((seg) => seg.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

/** ajv errors as `{ path, message }`, without the noise of every failed union branch. */
export function schemaProblems(
  errors: readonly ErrorObject[] | null | undefined,
): { path: string; message: string }[] {
  const seen = new Set<string>();
  const out: { path: string; message: string }[] = [];
  for (const e of errors ?? []) {
    let message = e.message ?? 'invalid';
    if (e.keyword === 'additionalProperties')
      message = `unknown property '${String(e.params.additionalProperty)}'`;
    if (e.keyword === 'const') message = `must be ${JSON.stringify(e.params.allowedValue)}`;
    const path = readablePath(e.instancePath) || '(root)';
    const key = `${path}\u0000${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ path, message });
    }
  }
  // For a union of literals ajv reports every `const` miss and then the anyOf; keep the clearest.
  const anyOf = new Set(out.filter((p) => p.message === 'must match a schema in anyOf').map((p) => p.path));
  return out
    .filter((p) => !(anyOf.has(p.path) && p.message.startsWith('must be ')))
    .map((p) =>
      p.message === 'must match a schema in anyOf'
        ? { ...p, message: 'is not one of the allowed values' }
        : p,
    );
}
