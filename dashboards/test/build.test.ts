/**
 * `npm run build` builds the console from the sources, prints each file's size and the gzipped
 * JavaScript total, and keeps it within the 600 KB budget; the result loads nothing from elsewhere.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;

describe('console build', () => {
  it('prints the sizes, stays within budget and bundles everything', () => {
    // Into a temp directory: the served dashboards/dist stays untouched while other tests use it.
    const dist = `${mkdtempSync(join(tmpdir(), 'gridhub-console-'))}/`;
    try {
      const out = execFileSync(process.execPath, ['scripts/build-console.mjs', '--out', dist], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      const total = /JavaScript total, gzipped: ([\d.]+) KB \(budget 600 KB\)/.exec(out);
      expect(total, out).not.toBeNull();
      expect(Number(total?.[1])).toBeGreaterThan(20);
      expect(Number(total?.[1])).toBeLessThanOrEqual(600);
      expect(out).toMatch(/index\.html/);
      const html = readFileSync(`${dist}index.html`, 'utf8');
      expect(html).toMatch(/<script type="module"[^>]*src="\.\/assets\/index-[\w-]+\.js"/);
      for (const f of readdirSync(`${dist}assets`)) {
        const text = readFileSync(`${dist}assets/${f}`, 'utf8');
        // No CDN, no web fonts from elsewhere: the console works on a network without the internet.
        expect(text).not.toMatch(/https?:\/\/(cdn|fonts\.googleapis|unpkg|jsdelivr)/);
      }
    } finally {
      rmSync(dist, { recursive: true, force: true });
    }
  });
});
