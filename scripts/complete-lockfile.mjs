#!/usr/bin/env node
/**
 * Completes package-lock.json with the platform-specific optional packages the registry this project
 * is built against does not carry (e.g. @biomejs/cli-darwin-x64, @rollup/rollup-win32-x64-msvc).
 * `npm install` skips an optional package it cannot fetch and leaves it out of the lock; `npm ci`
 * then refuses the lock as out of sync. Each added entry names its os/cpu/libc (read from the package
 * name, as these packages are named), so `npm ci` skips it on every other platform without fetching.
 *
 * Run after changing dependencies: `npm install && node scripts/complete-lockfile.mjs`.
 * `--check` (part of `npm test`) fails when the lock needs completing.
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

const file = new URL('../package-lock.json', import.meta.url);
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
if (process.argv.includes('--check')) {
  if (added.length > 0) {
    process.stderr.write(
      `package-lock.json lacks ${added.length} platform entries (npm ci would refuse it): run node scripts/complete-lockfile.mjs\n`,
    );
    process.exit(1);
  }
  process.exit(0);
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`complete-lockfile: added ${added.length} platform entries\n`);
