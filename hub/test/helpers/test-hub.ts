/**
 * The hub helpers for test files: everything in `start-hub.ts` (which must stay free of vitest, as
 * the benchmark imports it) plus helpers that register vitest hooks.
 */
import { rmSync } from 'node:fs';
import { afterAll } from 'vitest';
import { tempDir } from './start-hub.ts';

export * from './start-hub.ts';

/** Temp directories for one test file, removed after its last test. */
export function tempDirs(prefix?: string): () => string {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };
}
