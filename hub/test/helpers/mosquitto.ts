import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './test-hub.ts';
import { waitFor } from './wait.ts';

/** Debian installs the broker in /usr/sbin, which a non-root PATH may lack. */
export const MOSQUITTO = '/usr/sbin/mosquitto';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * A real Mosquitto (Debian package `mosquitto`) standing in for a ChirpStack network server's
 * broker: a temp config, a password file (the hub's client must log in), a just-freed port
 * (mosquitto cannot listen on port 0 and report it). `stop()` and `start()` again on the same
 * port model an outage.
 */
export class Mosquitto {
  private child: ChildProcess | undefined;
  private readonly dir = tempDir('gridhub-mosquitto-');
  port = 0;

  constructor(private readonly users: Record<string, string> = {}) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const passwd = join(this.dir, 'passwd');
    writeFileSync(passwd, '');
    for (const [user, pass] of Object.entries(this.users))
      execFileSync('mosquitto_passwd', ['-b', passwd, user, pass], { stdio: 'ignore' });
    // Started as root, mosquitto drops to its own user, which must read the temp files.
    chmodSync(this.dir, 0o755);
    chmodSync(passwd, 0o644);
    const conf = join(this.dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        `listener ${this.port} 127.0.0.1`,
        // no users: anonymous, as a lab network server's broker often is
        ...(Object.keys(this.users).length > 0
          ? ['allow_anonymous false', `password_file ${passwd}`]
          : ['allow_anonymous true']),
        'persistence false',
        '',
      ].join('\n'),
    );
    const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await waitFor(() => /listen socket on port/.test(out) || child.exitCode !== null, {
      timeoutMs: 10_000,
      what: 'mosquitto to listen',
    });
    if (child.exitCode !== null) throw new Error(`mosquitto exited: ${out}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}
