import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../logger.ts';

export const FLOWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../flows');

export interface NodeRedOptions {
  host: string;
  port: number;
  /** Node-RED user dir (installed extra nodes, sessions, context) */
  userDir: string;
  /** the flow file; default flows/flows.json */
  flowFile: string;
  credentialSecret: string;
  /** where flows reach the hub, and where people do (links in messages) */
  hubUrl: string;
  publicUrl: string;
  mqttUrl: string;
  /** the default flows' staff credentials (empty = set them in the editor) */
  flowUser: string;
  flowToken: string;
  /** street duty may sign in to the editor read-only (admins only otherwise) */
  streetDutyReadOnly: boolean;
  restartDelayMs: number;
}

/**
 * Runs Node-RED as a separate, supervised process (DESIGN.md contract 6: nothing safety-critical
 * depends on it). A crash is logged and restarted with a doubling delay (reset after a minute of
 * uptime); the hub never waits for it and never stops because of it.
 */
export class NodeRedSupervisor {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private delay: number;
  private startedAt = 0;
  private readyWaiters: ((url: string) => void)[] = [];
  /** the editor's URL once Node-RED listens */
  url: string | undefined;
  /** how many times it was (re)started */
  starts = 0;

  constructor(
    private readonly options: NodeRedOptions,
    private readonly logger: Logger,
  ) {
    this.delay = options.restartDelayMs;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.stopping = false;
    this.spawn();
  }

  /** Resolves with the editor URL when the current (or next) Node-RED process listens. */
  whenReady(): Promise<string> {
    if (this.url) return Promise.resolve(this.url);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  private spawn(): void {
    const o = this.options;
    const redJs = createRequire(import.meta.url).resolve('node-red/red.js');
    // Only what Node-RED needs: the hub's own secrets (InfluxDB token, bootstrap token …) stay out
    // of a process whose flows an editor may change.
    const inherited = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'GRIDHUB_NODE_RED_LOG_LEVEL'];
    const env: NodeJS.ProcessEnv = {
      ...Object.fromEntries(
        inherited.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]),
      ),
      GRIDHUB_URL: o.hubUrl,
      GRIDHUB_PUBLIC_URL: o.publicUrl,
      GRIDHUB_MQTT_URL: o.mqttUrl,
      GRIDHUB_FLOW_USER: o.flowUser,
      GRIDHUB_FLOW_TOKEN: o.flowToken,
      GRIDHUB_NODE_RED_CREDENTIAL_SECRET: o.credentialSecret,
      GRIDHUB_NODE_RED_USER_DIR: o.userDir,
      GRIDHUB_NODE_RED_FLOW_FILE: o.flowFile,
      GRIDHUB_NODE_RED_HOST: o.host,
      GRIDHUB_NODE_RED_PORT: String(o.port),
      GRIDHUB_NODE_RED_STREET_DUTY_READ_ONLY: String(o.streetDutyReadOnly),
    };
    const child = spawn(process.execPath, [redJs, '--settings', path.join(FLOWS_DIR, 'settings.js')], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.url = undefined;
    this.starts += 1;
    this.startedAt = Date.now();
    this.logger.info({ pid: child.pid }, 'Node-RED starting');
    const lines = (level: 'info' | 'warn') => {
      let rest = '';
      return (chunk: Buffer) => {
        const text = rest + chunk.toString('utf8');
        const parts = text.split('\n');
        rest = parts.pop() ?? '';
        for (const line of parts) {
          if (!line.trim()) continue;
          const running = /Server now running at (\S+?)\/?$/.exec(line);
          if (running) {
            this.url = running[1] as string;
            for (const w of this.readyWaiters.splice(0)) w(this.url);
          }
          // Node-RED prefixes its own timestamp; pino has one already.
          const text = line.replace(/^\d{1,2} \w{3} \d\d:\d\d:\d\d - /, '').trim();
          this.logger[/^\[(error|warn)\]/.test(text) ? 'warn' : level]({ nodeRed: text }, 'node-red');
        }
      };
    };
    child.stdout?.on('data', lines('info'));
    child.stderr?.on('data', lines('warn'));
    child.on('error', (err) => this.logger.error({ err }, 'Node-RED could not be started'));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      this.url = undefined;
      if (this.stopping) return;
      if (Date.now() - this.startedAt > 60_000) this.delay = this.options.restartDelayMs;
      this.logger.error({ code, signal, restartInMs: this.delay }, 'Node-RED exited; restarting');
      this.restartTimer = setTimeout(() => this.spawn(), this.delay);
      this.delay = Math.min(this.delay * 2, 60_000);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
