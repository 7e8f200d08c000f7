/**
 * Cluster overhead (issue 19): the same paced load — QoS 1 events at a fixed aggregate rate, with
 * a panic press every gapMs timed to the point leader's app — against one embedded node (SQLite,
 * no Redis) and against a 2-node cluster (one PostgreSQL, one Redis), in one run. On two cores
 * throughput scaling is not the figure; overhead is: CPU per message (every process the setup
 * needs: the hub nodes, and for the cluster also redis-server and every PostgreSQL process) and
 * press → alert p99. In the cluster the buttons are on node 1 and the leader's app on node 2, so
 * every alert crosses nodes; the event load is split evenly between the nodes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeMqtt, connectMqtt, runLoad } from '../device-sim/src/load.ts';
import { dialDevices, type LoadDevice } from '../device-sim/src/raw-mqtt.ts';
import { TestPostgres } from '../hub/test/helpers/postgres.ts';
import { TestRedis } from '../hub/test/helpers/redis-server.ts';
import { type Background, type Phase, phase } from './alert-phase.ts';
import { type HubPool, HubProcess } from './hub-process.ts';
import { cpuSeconds } from './proc.ts';
import { type Row, ratio } from './results.ts';
import type { Sizes } from './sizes.ts';

const LEADER = 'p-school-principal';

/** Processes whose command line contains `needle` (redis-server of one port). */
function pidsWith(needle: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The postmaster and its children (one backend per connection, the background workers). */
function postgresPids(pg: TestPostgres): number[] {
  const main = Number(readFileSync(join(pg.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = readFileSync(`/proc/${main}/task/${main}/children`, 'utf8').trim().split(/\s+/);
  return [main, ...children.filter(Boolean).map(Number)];
}

function cpuOf(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += cpuSeconds(pid);
    } catch {
      // a backend that ended meanwhile: its time is lost to both readings alike
    }
  }
  return total;
}

interface Measured {
  phase: Phase;
  messages: number;
  cpuUsPerMessage: number | null;
}

/** The paced event load on every node (its share of the devices and the rate), counted. */
function pacedLoad(nodes: HubProcess[], devices: LoadDevice[], rate: number, counted: { sent: number }) {
  return async (): Promise<Background> => {
    let finish = () => {};
    const done = new Promise<void>((r) => {
      finish = r;
    });
    const runs = await Promise.all(
      nodes.map(async (n, i) => {
        const mine = devices.filter((_, j) => j % nodes.length === i);
        const connected = await dialDevices(n.url, mine);
        const run = runLoad({
          url: n.url,
          devices: mine,
          connected,
          rate: rate / nodes.length,
          seconds: 3600,
          kind: 'event',
          qos: 1,
          until: done,
        });
        return { run, connected };
      }),
    );
    return {
      stop: async () => {
        finish();
        let acked = 0;
        for (const r of runs) {
          const res = await r.run;
          counted.sent += res.sent;
          acked += res.acked;
          for (const d of r.connected) d.close();
        }
        return `${counted.sent} QoS 1 events at ${rate}/s, ${acked} acknowledged`;
      },
    };
  };
}

async function measure(
  nodes: HubProcess[],
  extraPids: () => number[],
  s: Sizes['cluster'],
  settleMs: number,
  tag: string,
): Promise<Measured> {
  const first = nodes[0] as HubProcess;
  const last = nodes[nodes.length - 1] as HubProcess;
  await first.loadCommunity();
  const buttons = await first.register(
    s.presses,
    'generic-panic-button',
    ['site-school-gate'],
    `cl-${tag}-p`,
  );
  const devices = await first.register(s.devices, 'generic-nb-smoke', ['site-b1', 'site-b2'], `cl-${tag}-d`);
  const leader = await connectMqtt(last.url, {
    clientId: `${LEADER}:bench-${tag}`,
    username: LEADER,
    password: await first.token(LEADER),
    reconnectPeriod: 0,
    keepalive: 600,
  });
  await leader.subscribeAsync(`gh/v1/hub/person/${LEADER}/alert`, { qos: 1 });
  const arrivals = new Map<string, number>();
  leader.on('message', (_t, payload) => {
    const id = (JSON.parse(payload.toString()) as { alert?: { deviceId?: string } }).alert?.deviceId;
    if (id && !arrivals.has(id)) arrivals.set(id, performance.now());
  });
  const pids = () => [...nodes.map((n) => n.pid), ...extraPids()];
  const counted = { sent: 0 };
  const cpu0 = cpuOf(pids());
  const p = await phase(
    first,
    buttons,
    { gapMs: s.gapMs, settleMs, arrivals },
    pacedLoad(nodes, devices, s.rate, counted),
  );
  const cpu = cpuOf(pids()) - cpu0;
  await closeMqtt(leader);
  const messages = counted.sent + s.presses;
  return { phase: p, messages, cpuUsPerMessage: messages ? Math.round((cpu / messages) * 1e6) : null };
}

export async function clusterSection(
  s: Sizes['cluster'],
  settleMs: number,
  hubs: HubPool,
  details: Record<string, string[]>,
): Promise<Row[]> {
  // the embedded node comes from the pool (a fresh process in the full run, reused in --quick)
  const embedded = await hubs.start();
  let one: Measured;
  try {
    one = await measure([embedded], () => [], s, settleMs, 'one');
  } finally {
    await hubs.release(embedded);
  }
  const pg = new TestPostgres();
  const redis = new TestRedis();
  const nodes: HubProcess[] = [];
  let two: Measured;
  try {
    await pg.start();
    await redis.start();
    const client = new (await import('pg')).default.Client({ connectionString: pg.url });
    await client.connect();
    await client.query('CREATE DATABASE bench_cluster');
    await client.end();
    const env = (id: string) => ({
      GRIDHUB_STORE_URL: pg.urlOf('bench_cluster'),
      GRIDHUB_CLUSTER_REDIS_URL: redis.url,
      GRIDHUB_CLUSTER_NODE_ID: id,
    });
    nodes.push(await HubProcess.start(env('bench-1')));
    nodes.push(await HubProcess.start(env('bench-2')));
    const extra = () => [...postgresPids(pg), ...pidsWith(`--port ${redis.port}`)];
    two = await measure(nodes, extra, s, settleMs, 'two');
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.stop();
    await pg.stop();
  }
  const load = `${s.rate.toLocaleString('en-US')} QoS 1 events/s from ${s.devices} devices + ${s.presses} presses`;
  details['cluster: one embedded node vs 2 nodes'] = [
    `one node: ${one.messages} messages, ${one.cpuUsPerMessage ?? '–'} µs CPU each, press → alert p50 ${one.phase.p50} ms, p99 ${one.phase.p99} ms; ${one.phase.detail}`,
    `2 nodes: ${two.messages} messages, ${two.cpuUsPerMessage ?? '–'} µs CPU each (nodes + Redis + PostgreSQL), p50 ${two.phase.p50} ms, p99 ${two.phase.p99} ms; ${two.phase.detail}`,
  ];
  const got = (m: Measured) => `${m.phase.received} of ${s.presses} alerts arrived`;
  return [
    {
      section: 'cluster',
      figure: `CPU per message, 2-node cluster (nodes + Redis + PostgreSQL), ${load}`,
      value: two.cpuUsPerMessage,
      unit: 'µs',
      baseline: { label: 'one embedded node', value: one.cpuUsPerMessage },
      ratio: ratio(two.cpuUsPerMessage, one.cpuUsPerMessage),
      goal: '≤ 1.5×',
    },
    {
      section: 'cluster',
      figure: `panic press → leader’s app on the other node, 2-node cluster, ${load}, p50`,
      value: two.phase.p50,
      unit: 'ms',
      baseline: { label: 'one embedded node p50', value: one.phase.p50 },
      ratio: ratio(two.phase.p50, one.phase.p50),
    },
    {
      section: 'cluster',
      figure: `panic press → leader’s app on the other node, 2-node cluster, ${load}, p99`,
      value: two.phase.p99,
      unit: 'ms',
      baseline: { label: 'one embedded node p99', value: one.phase.p99 },
      ratio: ratio(two.phase.p99, one.phase.p99),
      goal: 'unchanged (≈ 1×)',
      note: `${got(two)}; one node: ${got(one)}`,
    },
  ];
}
