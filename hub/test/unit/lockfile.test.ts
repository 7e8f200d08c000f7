/**
 * Proves: scripts/complete-lockfile.mjs writes package-lock.json exactly as npm writes it, so the
 * platform entries it adds survive `npm install` byte for byte and a fresh clone stays clean; its
 * `--check` refuses a lock that lacks those entries or is laid out differently, and accepts the
 * committed one. npm runs with `--offline --package-lock-only`: no network, no node_modules, about a
 * second.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = new URL('../../../', import.meta.url).pathname;
const SCRIPT = join(ROOT, 'scripts/complete-lockfile.mjs');
const COMMITTED = readFileSync(join(ROOT, 'package-lock.json'), 'utf8');

interface Lock {
  packages: Record<string, { integrity?: string; link?: boolean; os?: string[]; cpu?: string[] }>;
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A temporary project with the repository's package.json and the given lock text. */
function project(lockText: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gridhub-lock-'));
  dirs.push(dir);
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  writeFileSync(join(dir, 'package-lock.json'), lockText);
  return dir;
}

function script(dir: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args, join(dir, 'package-lock.json')], {
    encoding: 'utf8',
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/**
 * The npm that runs `npm test` (npm_execpath), not the first `npm` on the PATH: npm scripts put
 * node_modules/.bin first, where Node-RED's own npm 10 sits, and npm 10 drops the `libc` fields that
 * npm 11 writes.
 */
const NPM_CLI = process.env.npm_execpath;
const NPM: [string, ...string[]] = NPM_CLI?.endsWith('npm-cli.js') ? [process.execPath, NPM_CLI] : ['npm'];

/**
 * The environment of a developer's shell: without the npm_* variables of the `npm test` / `npx`
 * that runs this file, which would steer the inner npm (npm_config_local_prefix points at the
 * repository).
 */
function shellEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

/** The entries the script adds: platform builds npm could not fetch, hence without an integrity. */
function platformEntries(lock: Lock): string[] {
  return Object.entries(lock.packages)
    .filter(([path, e]) => path !== '' && !e.integrity && !e.link && (e.os || e.cpu))
    .map(([path]) => path);
}

describe('package-lock.json completion', () => {
  it('writes what npm writes: a later npm install changes nothing', () => {
    const lock = JSON.parse(COMMITTED) as Lock;
    const added = platformEntries(lock);
    expect(added.length).toBeGreaterThan(0);
    // The state `npm install` leaves on a registry without those builds, in another key layout.
    for (const path of added) delete lock.packages[path];
    const dir = project(`${JSON.stringify(lock, null, 4)}\n`);

    const run = script(dir);
    expect(run.status, run.output).toBe(0);
    expect(run.output).toContain(`added ${added.length} platform entries`);
    const written = readFileSync(join(dir, 'package-lock.json'), 'utf8');
    expect(written).toBe(COMMITTED);

    const npm = spawnSync(
      NPM[0],
      [
        ...NPM.slice(1),
        'install',
        '--package-lock-only',
        '--ignore-scripts',
        '--offline',
        '--no-audit',
        '--no-fund',
      ],
      { cwd: dir, encoding: 'utf8', env: shellEnv() },
    );
    expect(npm.status, `${npm.stdout}${npm.stderr}`).toBe(0);
    expect(readFileSync(join(dir, 'package-lock.json'), 'utf8')).toBe(written);
  });

  it('--check refuses a lock without the platform entries, and accepts it once completed', () => {
    const lock = JSON.parse(COMMITTED) as Lock;
    for (const path of platformEntries(lock)) delete lock.packages[path];
    const dir = project(`${JSON.stringify(lock, null, 2)}\n`);
    const refused = script(dir, '--check');
    expect(refused.status).toBe(1);
    expect(refused.output).toContain('lacks');
    expect(script(dir).status).toBe(0);
    expect(script(dir, '--check').status).toBe(0);
  });

  it('--check refuses a complete lock in a layout npm would rewrite, and accepts the committed one', () => {
    const lock = JSON.parse(COMMITTED) as { packages: Record<string, Record<string, unknown>> };
    // the same content with each entry's keys reversed (what the script used to write looked like this)
    for (const [path, entry] of Object.entries(lock.packages))
      lock.packages[path] = Object.fromEntries(Object.entries(entry).reverse());
    const dir = project(`${JSON.stringify(lock, null, 2)}\n`);
    const refused = script(dir, '--check');
    expect(refused.status).toBe(1);
    expect(refused.output).toContain('not laid out as npm writes it');
    expect(script(project(COMMITTED), '--check').status).toBe(0);
  });
});
