#!/usr/bin/env node
/**
 * Completes package-lock.json with the platform-specific optional packages the registry this project
 * is built against does not carry (e.g. @biomejs/cli-darwin-x64, @rollup/rollup-win32-x64-msvc).
 * `npm install` skips an optional package it cannot fetch and leaves it out of the lock; `npm ci`
 * then refuses the lock as out of sync. Each added entry names its os/cpu/libc (read from the package
 * name, as these packages are named), so `npm ci` skips it on every other platform without fetching.
 *
 * The file is written exactly as npm writes it (see `npmStringify`), so a later `npm install` leaves
 * it byte for byte unchanged and a fresh clone stays clean.
 *
 * Run after changing dependencies: `npm install && node scripts/complete-lockfile.mjs [LOCKFILE]`.
 * `--check` (part of `npm test`) fails when the lock needs completing or is not in npm's own layout.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const OS = [
  'darwin',
  'linux',
  'win32',
  'android',
  'freebsd',
  'openbsd',
  'netbsd',
  'sunos',
  'aix',
  'openharmony',
];
const CPU = ['x64', 'arm64', 'arm', 'ia32', 'loong64', 'ppc64', 'riscv64', 's390x', 'mips64el', 'wasm32'];

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p));
  const cpu = parts.find((p) => CPU.includes(p));
  if (!os || !cpu) return undefined;
  const tail = parts.slice(parts.indexOf(cpu) + 1).join('-');
  const libc = /musl/.test(tail) ? ['musl'] : os === 'linux' && /gnu/.test(tail) ? ['glibc'] : undefined;
  return { os: [os], cpu: [cpu], ...(libc ? { libc } : {}) };
}

// A lock file other than the project's may be named (the test runs the script on a temporary copy).
const named = process.argv.slice(2).find((a) => !a.startsWith('--'));
const file = named ?? new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const added = [];
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [dep, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${path ? `${path}/` : ''}node_modules/${dep}`;
    if (lock.packages[nested] || lock.packages[`node_modules/${dep}`]) continue;
    const platform = platformOf(dep);
    if (!platform || !/^\d+\.\d+\.\d+/.test(spec)) continue;
    lock.packages[`node_modules/${dep}`] = {
      version: spec,
      ...platform,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
    };
    added.push(`${dep}@${spec}`);
  }
}
// npm's own key order (@npmcli/arborist `swKeyOrder`): these first, in this order; the rest by locale.
const NPM_KEY_ORDER = [
  'name',
  'version',
  'lockfileVersion',
  'resolved',
  'integrity',
  'requires',
  'packages',
  'dependencies',
];

/**
 * JSON the way npm serialises package-lock.json (json-stringify-nice, as @npmcli/arborist calls it):
 * in every object, scalar and array values before nested objects; within each group the keys of
 * NPM_KEY_ORDER first, the others by `localeCompare(…, 'en')`; two-space indent and a final newline.
 * Writing our entries any other way makes npm re-order them at the next install.
 */
function npmStringify(value) {
  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const compare = (a, b) => {
    const ia = NPM_KEY_ORDER.indexOf(a);
    const ib = NPM_KEY_ORDER.indexOf(b);
    if (ia >= 0 || ib >= 0) return ia < 0 ? 1 : ib < 0 ? -1 : ia - ib;
    return a.localeCompare(b, 'en');
  };
  const sorted = (_key, v) =>
    isObject(v)
      ? Object.fromEntries(
          Object.entries(v).sort(([ak, av], [bk, bv]) =>
            isObject(av) === isObject(bv) ? compare(ak, bk) : isObject(av) ? 1 : -1,
          ),
        )
      : v;
  return `${JSON.stringify(value, sorted, 2)}\n`;
}

const text = npmStringify(lock);
if (process.argv.includes('--check')) {
  if (added.length > 0) {
    process.stderr.write(
      `package-lock.json lacks ${added.length} platform entries (npm ci would refuse it): run node scripts/complete-lockfile.mjs\n`,
    );
    process.exit(1);
  }
  if (text !== readFileSync(file, 'utf8')) {
    process.stderr.write(
      'package-lock.json is not laid out as npm writes it (npm install would rewrite it): run node scripts/complete-lockfile.mjs\n',
    );
    process.exit(1);
  }
  process.exit(0);
}
writeFileSync(file, text);
process.stdout.write(`complete-lockfile: added ${added.length} platform entries\n`);
