/**
 * The hub under test in a process of its own, started from its entry point (`hub/src/main.ts`) and
 * configured only through the environment, as an operator would. The benchmark then speaks to it
 * only over MQTT and HTTP (the API, /metrics, /health), so it keeps working whatever the hub's
 * internals become, and the hub never shares an event loop or a CPU account with the load generator.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadDevice } from '../device-sim/src/raw-mqtt.ts';
import { metricValue } from '../hub/test/helpers/devices.ts';
import { ApiClient, tempDir } from '../hub/test/helpers/start-hub.ts';
import { waitFor } from '../hub/test/helpers/wait.ts';
import { type Broker, collect, ROOT, stopChild, watch } from './brokers.ts';

const ADMIN = 'ghk_bench-admin-token-0123456789abcdefghijklmnopqrstuvwx';

/** What the full-pipeline figures set: no per-device rate limit, so the pipeline is what is measured. */
export const UNLIMITED = {
  GRIDHUB_MQTT_RATE_PER_SECOND: '1000000',
  GRIDHUB_MQTT_RATE_BURST: '1000000',
  GRIDHUB_MQTT_MAX_QUEUED_MESSAGES: '1000000',
};

export class HubProcess implements Broker {
  readonly name = 'gridhub';
  readonly admin: ApiClient;

  private constructor(
    readonly url: string,
    readonly http: string,
    readonly pid: number,
    readonly dataDir: string,
    private readonly env: Record<string, string>,
    readonly died: () => string | null,
    readonly stop: () => Promise<void>,
  ) {
    this.admin = new ApiClient(http, ADMIN);
  }

  /**
   * Start a hub on port 0 in `dataDir` (a new temp directory by default) with the configuration's
   * defaults, except what `env` sets. Node-RED stays off: an optional part, and a second process.
   */
  static async start(env: Record<string, string> = {}, dataDir = tempDir('gridhub-bench-hub-')) {
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('GRIDHUB_')),
    );
    const all = {
      GRIDHUB_HTTP_HOST: '127.0.0.1',
      GRIDHUB_HTTP_PORT: '0',
      GRIDHUB_MQTT_HOST: '127.0.0.1',
      GRIDHUB_MQTT_PORT: '0',
      GRIDHUB_LOG_LEVEL: 'warn',
      GRIDHUB_AUTH_BOOTSTRAP_ADMIN_TOKEN: ADMIN,
      GRIDHUB_NODE_RED_ENABLED: 'false',
      ...env,
      GRIDHUB_DATA_DIR: dataDir,
    };
    // GRIDHUB_BENCH_NODE_ARGS: extra node flags for the hub (e.g. `--cpu-prof --cpu-prof-dir=DIR`)
    const nodeArgs = process.env.GRIDHUB_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(ROOT, 'hub/src/main.ts')], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...inherited, ...all },
    });
    const out = collect(child);
    const w = watch('the hub', child, out);
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`the hub exited (${code}) while starting: ${out()}`))),
    );
    exited.catch(() => undefined);
    // the start-up banner names both addresses (README: Quick start)
    const [http, mqttPort] = await Promise.race([
      exited,
      waitFor(
        () => {
          const h = /API and console\s+(http:\/\/[^/\s]+)/.exec(out())?.[1];
          const m = /MQTT\s+mqtt:\/\/[^:]+:(\d+)/.exec(out())?.[1];
          return h && m ? ([h, m] as const) : undefined;
        },
        { timeoutMs: 60_000, what: 'hub started' },
      ),
    ]);
    return new HubProcess(
      `mqtt://127.0.0.1:${mqttPort}`,
      http,
      child.pid as number,
      dataDir,
      env,
      w.died,
      async () => {
        w.stopping();
        await stopChild(child);
      },
    );
  }

  sameConfig(env: Record<string, string>): boolean {
    return JSON.stringify(Object.entries(env).sort()) === JSON.stringify(Object.entries(this.env).sort());
  }

  async metrics(): Promise<string> {
    return (await fetch(`${this.http}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
  }

  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return metricValue(await this.metrics(), name, labels);
  }

  /**
   * The refusals the hub counted so far by stable error code (REST and MQTT), as a note for a row:
   * empty when there were none, which is what a bench load that measures the pipeline expects.
   */
  async refusals(): Promise<string> {
    const counts = new Map<string, number>();
    for (const m of (await this.metrics()).matchAll(
      /^gridhub_errors_total\{[^}]*code="([^"]+)"[^}]*\} (\d+)/gm,
    ))
      counts.set(m[1] as string, (counts.get(m[1] as string) ?? 0) + Number(m[2]));
    const parts = [...counts].filter(([, n]) => n > 0).map(([code, n]) => `${code} × ${n}`);
    return parts.length ? `the hub refused: ${parts.join(', ')}` : '';
  }

  async loadCommunity(): Promise<void> {
    const yaml = readFileSync(join(ROOT, 'hub/examples/community.yaml'), 'utf8');
    ok(await this.admin.post('/api/v1/grid/import', yaml, 'application/yaml'), 'community import');
  }

  /** A new API token for a person of the example community. */
  async token(personId: string): Promise<string> {
    const res = await this.admin.post<{ token: string }>(`/api/v1/people/${personId}/tokens`, {
      label: 'bench',
    });
    ok(res, `token for ${personId}`);
    return res.body.token;
  }

  /** Register `n` devices of one model through the CSV import, 5,000 rows a request. */
  async register(n: number, model: string, sites: string[], prefix: string): Promise<LoadDevice[]> {
    const out: LoadDevice[] = [];
    for (let from = 0; from < n; from += 5_000) {
      const rows = Array.from(
        { length: Math.min(5_000, n - from) },
        (_, i) => `${prefix}-${from + i},${model},${sites[(from + i) % sites.length]}`,
      );
      const res = await this.admin.post<{ registered: { id: string; secret: string }[] }>(
        '/api/v1/devices/import',
        ['id,model,site', ...rows].join('\n'),
        'text/csv',
      );
      ok(res, 'device import');
      out.push(...res.body.registered.map(({ id, secret }) => ({ id, secret })));
    }
    return out;
  }
}

function ok(res: { status: number; body: unknown }, what: string): void {
  if (res.status >= 300) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
}

/**
 * Where sections get their hubs. The full run starts a fresh process for every figure (nothing left
 * over from an earlier section colours it); the quick run, whose figures mean nothing, reuses one
 * process per configuration, since starting a hub costs more than everything quick mode measures.
 */
export class HubPool {
  private readonly running: HubProcess[] = [];

  constructor(private readonly reuse: boolean) {}

  /** A hub with this configuration, on `dataDir` when given. */
  async start(env: Record<string, string> = {}, dataDir?: string): Promise<HubProcess> {
    const same = (h: HubProcess) => h.sameConfig(env) && (dataDir === undefined || h.dataDir === dataDir);
    const reused = this.reuse ? this.running.find(same) : undefined;
    if (reused) return reused;
    const hub = await HubProcess.start(env, dataDir);
    this.running.push(hub);
    return hub;
  }

  /**
   * The section is done with it: stopped in the full run, kept for a later section in the quick run
   * unless no later one can use it (`reusable` false: e.g. it points at a server about to stop).
   */
  async release(hub: HubProcess, reusable = true): Promise<void> {
    if (this.reuse && reusable) return;
    this.running.splice(this.running.indexOf(hub), 1);
    await hub.stop();
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.running.splice(0).map((h) => h.stop()));
  }
}
