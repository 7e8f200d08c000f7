#!/usr/bin/env node
/**
 * Builds the web console (dashboards/, Vite) into dashboards/dist, prints each file's size and the
 * gzipped JavaScript total, and fails when that total is over the budget (600 KB).
 *
 *   node scripts/build-console.mjs              build
 *   node scripts/build-console.mjs --if-stale   build only when dist is missing or older than a source
 *   node scripts/build-console.mjs --out DIR    build into DIR instead (tests: never touch the served dist)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = fileURLToPath(new URL('../dashboards/', import.meta.url));
const outArg = process.argv.indexOf('--out');
const DIST = outArg > 0 ? resolve(process.argv[outArg + 1]) : join(ROOT, 'dist');
const BUDGET_KB = 600;

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

function newest(paths) {
  return Math.max(...paths.map((p) => statSync(p).mtimeMs));
}

function stale() {
  let built;
  try {
    built = statSync(join(DIST, 'index.html')).mtimeMs;
  } catch {
    return true;
  }
  const sources = [
    ...files(join(ROOT, 'src')),
    join(ROOT, 'index.html'),
    join(ROOT, 'vite.config.ts'),
    // the title codes and their Chinese, shared with the hub (dashboards/src/i18n.ts imports them)
    join(ROOT, '../hub/src/contract/titles.ts'),
  ];
  return newest(sources) > built;
}

if (process.argv.includes('--if-stale') && !stale()) process.exit(0);

const { build } = await import('vite');
await build({ configFile: join(ROOT, 'vite.config.ts'), logLevel: 'warn', build: { outDir: DIST } });

let jsGzip = 0;
const rows = files(DIST).map((f) => {
  const raw = readFileSync(f);
  const gz = gzipSync(raw).length;
  if (f.endsWith('.js')) jsGzip += gz;
  return [f.slice(DIST.length + 1), raw.length, gz];
});
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
process.stdout.write(`console built (${DIST}):\n`);
for (const [name, raw, gz] of rows)
  process.stdout.write(`  ${name.padEnd(40)} ${kb(raw).padStart(10)}  gzip ${kb(gz).padStart(9)}\n`);
process.stdout.write(`  JavaScript total, gzipped: ${kb(jsGzip)} (budget ${BUDGET_KB} KB)\n`);
if (jsGzip > BUDGET_KB * 1024) {
  process.stderr.write(`console JavaScript is over budget: ${kb(jsGzip)} > ${BUDGET_KB} KB\n`);
  process.exit(1);
}
