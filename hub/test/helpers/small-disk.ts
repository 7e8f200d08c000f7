import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A small file system for bad-day tests: a tmpfs mounted at `mountPoint` (root only, as CI runs).
 * Returns why it cannot be done here, or undefined once it is mounted.
 */
export function mountSmallDisk(mountPoint: string, size = '48m'): string | undefined {
  mkdirSync(mountPoint, { recursive: true });
  if (process.getuid?.() !== 0) return 'needs root to mount a small file system (CI runs as root)';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mountPoint], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `mount failed: ${(err as Error).message}`;
  }
}

export function unmountSmallDisk(mountPoint: string): void {
  try {
    execFileSync('umount', [mountPoint], { stdio: 'pipe' });
  } catch {
    // not mounted
  }
}

/** Write a filler file until the file system is full; returns its path (remove it to free the space). */
export function fillDisk(dir: string): string {
  const file = join(dir, 'filler.bin');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(256 * 1024, 7);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  // The last bytes too: small writes until nothing fits.
  const tail = openSync(file, 'a');
  try {
    for (;;) writeSync(tail, Buffer.alloc(512, 7));
  } catch {
    // full
  } finally {
    closeSync(tail);
  }
  return file;
}

/**
 * After fillDisk: the store's SQLite file may still take writes into space its WAL already holds
 * (the WAL is reused after each checkpoint). Repeat `write` until it is refused; returns what was
 * answered 201 meanwhile (each must survive) and the refusal (undefined if `max` writes all fit).
 */
export async function writeUntilRefused<R extends { status: number }>(
  write: () => Promise<R>,
  max = 5000,
): Promise<{ written: R[]; refused: R | undefined }> {
  const written: R[] = [];
  for (let i = 0; i < max; i++) {
    const r = await write();
    if (r.status !== 201) return { written, refused: r };
    written.push(r);
  }
  return { written, refused: undefined };
}
