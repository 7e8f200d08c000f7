/**
 * `npx tsx bench/large-store.ts`: the largest event-loop delay each heavy request causes on a large
 * store (issue 13: nothing may block the loop for more than 50 ms). A hub runs in this process; the
 * store is seeded with a city's grid (135,000 nodes, imported through the API), 100,000 devices,
 * 200,000 alerts, 200,000 tickets and the audit chain the import wrote; then each request is timed
 * while `perf_hooks.monitorEventLoopDelay` watches the loop, and the hub is restarted to time the
 * presence re-arm of 100,000 online devices. Prints one line per request; nothing is asserted.
 *
 * Sizes can be scaled down for a quick look: `BENCH_SCALE=0.1 npx tsx bench/large-store.ts`.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chainEntries, GENESIS_HASH } from '../hub/src/audit/audit-log.ts';
import { loadConfig } from '../hub/src/config/load.ts';
import { Hub } from '../hub/src/hub.ts';
import { createLogger } from '../hub/src/logger.ts';
import { exampleCommunityYaml } from '../hub/test/helpers/community.ts';
import {
  CITY,
  type LargeCommunityShape,
  largeCommunity,
  nodeCount,
} from '../hub/test/helpers/large-community.ts';
import { LoopWatch } from '../hub/test/helpers/loop-watch.ts';

// Not hub/test/helpers/test-hub.ts: it imports vitest, which cannot load outside a vitest run.
const ADMIN_TOKEN = 'ghk_bench-admin-token-0123456789abcdefghijklmnopqrstuv';

interface Api {
  get(path: string, token?: string): Promise<{ status: number; text: string }>;
  post(path: string, body: unknown, type?: string): Promise<{ status: number; text: string }>;
}
interface TestHub {
  hub: Hub;
  api: Api;
  stop(): Promise<void>;
}

function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

async function startTestHub(options: {
  dataDir: string;
  overrides?: Record<string, unknown>;
}): Promise<TestHub> {
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: options.dataDir,
      'log.level': 'silent',
      'http.host': '127.0.0.1',
      'http.port': 0,
      'mqtt.host': '127.0.0.1',
      'mqtt.port': 0,
      'auth.bootstrapAdminToken': ADMIN_TOKEN,
      'nodeRed.enabled': false,
      ...options.overrides,
    },
  });
  const hub = new Hub(config, createLogger(config.log.level));
  await hub.start();
  const url = hub.addresses.http;
  // The answer's text only: parsing 18 MB of JSON here would block this process's loop, the hub's.
  const request = async (
    method: string,
    path: string,
    body?: unknown,
    type = 'application/json',
    token = ADMIN_TOKEN,
  ) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': type }) },
      body: (body === undefined
        ? undefined
        : typeof body === 'string' || Buffer.isBuffer(body)
          ? body
          : JSON.stringify(body)) as BodyInit | undefined,
    });
    return { status: res.status, text: await res.text() };
  };
  return {
    hub,
    api: {
      get: (path, token) => request('GET', path, undefined, undefined, token),
      post: (path, body, type) => request('POST', path, body, type),
    },
    stop: () => hub.stop(),
  };
}

const scale = Number(process.env.BENCH_SCALE ?? 1);
const DEVICES = Math.round(100_000 * scale);
const ALERTS = Math.round(200_000 * scale);
const TICKETS = Math.round(200_000 * scale);
const shape: LargeCommunityShape = {
  ...CITY,
  streets: Math.max(1, Math.round(CITY.streets * scale)),
};

interface Measured {
  what: string;
  ms: number;
  maxDelayMs: number;
  maxRunMs: number;
  note?: string;
}
const results: Measured[] = [];

/**
 * Time one request and watch the loop meanwhile: the largest delay by the clock, and the longest
 * CPU run of the main thread without a yield (the clock figure on a busy machine includes time the
 * OS gave to other processes; the run figure does not).
 */
async function measure(what: string, f: () => Promise<string | undefined>): Promise<void> {
  const watch = new LoopWatch();
  watch.start();
  // monitorEventLoopDelay records nothing for its first interval: let it tick before the work.
  await new Promise((r) => setTimeout(r, 30));
  const t0 = performance.now();
  const note = (await f()) ?? undefined;
  const ms = performance.now() - t0;
  // The delay of a block is recorded when the monitor's timer next fires, after the block.
  await new Promise((r) => setTimeout(r, 30));
  const loop = watch.stop();
  const row = {
    what,
    ms: Math.round(ms),
    maxDelayMs: Math.round(loop.maxDelayMs),
    maxRunMs: Math.round(loop.maxRunMs),
    ...(note ? { note } : {}),
  };
  results.push(row);
  console.log(
    `${what.padEnd(44)} ${String(row.ms).padStart(7)} ms   loop delay ${String(row.maxDelayMs).padStart(6)} ms   longest run ${String(row.maxRunMs).padStart(5)} ms${note ? `   ${note}` : ''}`,
  );
}

async function get(t: TestHub, path: string, token?: string): Promise<string> {
  const res = await t.api.get(path, token);
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${res.text.slice(0, 300)}`);
  return `${res.status}, ${(res.text.length / 1024).toFixed(0)} KiB`;
}

/** Devices, alerts and tickets written straight into SQLite: the fleet a city collects over years. */
function seed(t: TestHub): void {
  const db = t.hub.store.sqlite;
  const micro = db
    .prepare('SELECT g.id, g.path, s.id AS site FROM sites s JOIN grid_nodes g ON g.id = s.grid_node_id')
    .all() as { id: string; path: string; site: string }[];
  const now = Date.now();
  const iso = new Date(now - 60_000).toISOString();
  // One device in fifty went silent three days ago: the restart's sweep takes them offline.
  const silent = new Date(now - 3 * 86_400_000).toISOString();
  const insertDevice = db.prepare(
    `INSERT INTO devices (id, model_id, type, name, site_id, grid_node_id, status, secret_hash,
       secret_rotated_at, installed_by, installed_at, last_seen_at, online, created_at, updated_at)
     VALUES (?, 'generic-nb-smoke', 'smoke-detector', ?, ?, ?, 'active', 'x', ?, 'bench', ?, ?, 1, ?, ?)`,
  );
  const insertAlert = db.prepare(
    `INSERT INTO alerts (id, incident_key, severity, cause, title, device_id, device_type, site_id,
       grid_node_id, grid_path, emergency_unit_id, state, chain, acked_by, acked_at, resolved_at,
       resolution, created_at, updated_at)
     VALUES (?, ?, ?, 'smoke.alarm', 'bench', ?, 'smoke-detector', ?, ?, ?, NULL, 'resolved', '[]', ?, ?, ?,
       'resolved', ?, ?)`,
  );
  const insertTicket = db.prepare(
    `INSERT INTO tickets (id, category, source, severity, level, state, title, grid_node_id, site_id,
       device_id, created_at, updated_at, accepted_at, closed_at, due_at, satisfaction, rework_count)
     VALUES (?, 'fire', 'device-rule', 'major', ?, ?, 'bench', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  db.transaction(() => {
    for (let i = 0; i < DEVICES; i++) {
      const at = micro[i % micro.length] as { id: string; path: string; site: string };
      insertDevice.run(
        `bd-${i}`,
        `烟感 ${i}`,
        at.site,
        at.id,
        iso,
        iso,
        i % 50 === 0 ? silent : iso,
        iso,
        iso,
      );
    }
    for (let i = 0; i < ALERTS; i++) {
      const at = micro[i % micro.length] as { id: string; path: string; site: string };
      const created = now - (ALERTS - i) * 60_000;
      const acked = i % 3 === 0 ? null : created + (i % 300) * 1000;
      insertAlert.run(
        `ba-${i}`,
        `bench:${i}`,
        i % 5 === 0 ? 'critical' : 'major',
        `bd-${i % DEVICES}`,
        at.site,
        at.id,
        at.path,
        acked ? 'p-admin' : null,
        acked,
        created + 3_600_000,
        created,
        created,
      );
    }
    for (let i = 0; i < TICKETS; i++) {
      const at = micro[i % micro.length] as { id: string; path: string; site: string };
      const created = now - (TICKETS - i) * 60_000;
      const closed = i % 4 === 0 ? null : created + (i % 500) * 60_000;
      insertTicket.run(
        `bt-${i}`,
        1 + (i % 4),
        closed ? 'closed' : 'accepted',
        at.id,
        at.site,
        `bd-${i % DEVICES}`,
        created,
        created,
        created + 60_000,
        closed,
        created + 240 * 60_000,
        closed && i % 2 ? 5 : null,
        i % 10 === 0 ? 1 : 0,
      );
    }
  })();
  // A long audit chain beside the import's own entries, so verify walks a real chain.
  const last = db.prepare('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as
    | { hash: string }
    | undefined;
  const rows = chainEntries(
    last?.hash ?? GENESIS_HASH,
    Array.from({ length: Math.round(100_000 * scale) }, (_, i) => ({
      actor: 'bench',
      action: 'device.register',
      entityType: 'device',
      entityId: `bd-${i}`,
      data: { i },
    })),
  );
  const insertAudit = db.prepare(
    `INSERT INTO audit_log (at, actor, action, entity_type, entity_id, data, prev_hash, hash)
     VALUES (@at, @actor, @action, @entity_type, @entity_id, @data, @prev_hash, @hash)`,
  );
  db.transaction(() => {
    for (const r of rows) insertAudit.run(r);
  })();
}

async function main(): Promise<void> {
  const dataDir = tempDir('gridhub-bench-large-');
  const overrides = { 'http.bodyLimitBytes': 64 * 1024 * 1024 };
  let t = await startTestHub({ dataDir, overrides });
  await t.api.post('/api/v1/grid/import', exampleCommunityYaml(), 'application/yaml');
  const body = Buffer.from(JSON.stringify(largeCommunity(shape)));
  console.log(
    `store: ${nodeCount(shape)} grid nodes (${(body.length / 1e6).toFixed(1)} MB JSON), ${DEVICES} devices, ` +
      `${ALERTS} alerts, ${TICKETS} tickets`,
  );
  for (const what of ['new city', 'same file again']) {
    await measure(`POST /grid/import (${what}, JSON)`, async () => {
      const res = await t.api.post('/api/v1/grid/import', body);
      const counts = (JSON.parse(res.text) as { gridNodes?: Record<string, number> }).gridNodes;
      return `${res.status}, ${JSON.stringify(counts)}`;
    });
  }
  if (process.env.BENCH_ONLY === 'import') {
    await t.stop();
    rmSync(dataDir, { recursive: true, force: true });
    return;
  }
  seed(t);
  await t.stop();
  await measure('hub start (presence re-arms the fleet)', async () => {
    t = await startTestHub({ dataDir, overrides });
    return `${DEVICES} devices stored online, ${Math.ceil(DEVICES / 50)} of them past their deadline`;
  });
  const worker = JSON.parse(
    (await t.api.post('/api/v1/people/p-grid-worker-1/tokens', { label: 'bench' })).text,
  ) as { token: string };
  for (const [path, token] of [
    ['/api/v1/stats/alerts'],
    ['/api/v1/stats/tickets'],
    ['/api/v1/grid/summary'],
    ['/api/v1/grid/nodes'],
    ['/api/v1/grid/nodes/d-qinghe'],
    ['/api/v1/sites'],
    ['/api/v1/sites/site-b1'],
    ['/api/v1/emergency-units'],
    ['/api/v1/people'],
    ['/api/v1/devices?limit=1000'],
    [`/api/v1/devices?limit=1000&offset=${Math.max(0, DEVICES - 1000)}`],
    ['/api/v1/devices?online=false'],
    ['/api/v1/alerts?limit=100'],
    ['/api/v1/tickets?limit=100'],
    ['/api/v1/audit?limit=1000'],
    ['/api/v1/audit?limit=100', worker.token],
    ['/api/v1/audit/verify'],
  ] as [string, string?][]) {
    await measure(`GET ${path.replace('/api/v1', '')}${token ? ' (grid worker)' : ''}`, () =>
      get(t, path, token),
    );
  }
  // Every device says something (they are all tracked since the restart: no transitions), then
  // the flush writes the whole fleet's last-seen times.
  const rows = t.hub.store.sqlite
    .prepare(
      `SELECT d.id, d.model_id, d.type, d.site_id, d.grid_node_id, d.emergency_unit_id, g.path
       FROM devices d JOIN grid_nodes g ON g.id = d.grid_node_id WHERE d.online = 1`,
    )
    .all() as {
    id: string;
    model_id: string;
    type: string;
    site_id: string;
    grid_node_id: string;
    emergency_unit_id: string | null;
    path: string;
  }[];
  const at = Date.now();
  for (const r of rows)
    t.hub.presence.seen(
      {
        deviceId: r.id,
        modelId: r.model_id,
        deviceType: r.type as never,
        siteId: r.site_id,
        gridNodeId: r.grid_node_id,
        gridPath: r.path,
        emergencyUnitId: r.emergency_unit_id,
      },
      at,
      'message',
    );
  await measure('presence flush of the whole fleet', async () => {
    await t.hub.presence.flush();
    return `${rows.length} devices`;
  });
  await t.stop();
  rmSync(dataDir, { recursive: true, force: true });
  console.log(JSON.stringify(results));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
