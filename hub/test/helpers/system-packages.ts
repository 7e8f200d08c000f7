import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** A command on the PATH, or (starting with /) a file such as a font. */
function has(command: string): boolean {
  if (command.startsWith('/')) return existsSync(command);
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Install the Debian packages that provide missing commands. Runs apt-get only when something is
 * missing, so a prepared machine pays nothing. Fails loudly: a test that needs mosquitto must not
 * quietly skip.
 */
export async function ensureDebianPackages(
  needed: { command: string; pkg: string; present?: () => boolean }[],
): Promise<void> {
  const found = (n: { command: string; present?: () => boolean }) =>
    n.present ? n.present() : has(n.command);
  const missing = [...new Set(needed.filter((n) => !found(n)).map((n) => n.pkg))];
  if (missing.length === 0) return;
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const run = (args: string[]) => {
    const [cmd, ...rest] = [...sudo, ...args];
    execFileSync(cmd as string, rest, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  };
  process.stderr.write(`test setup: installing ${missing.join(', ')}\n`);
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...missing]);
  for (const n of needed)
    if (!found(n)) throw new Error(`test setup: ${n.command} still missing after installing ${n.pkg}`);
}
