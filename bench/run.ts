/**
 * `npm run bench`: figures side by side with a baseline measured in the same run, printed as a table
 * and written to bench/results.json. Benchmarks check numbers; tests check behaviour.
 *
 * Sections:
 *   - brokers: the same paced load (100 publishers, pre-encoded packets, QoS 0) against Mosquitto, bare
 *     Aedes and the hub's full pipeline; the highest rate with no loss and p99 under 100 ms, and ratios;
 *   - time series: points/s the InfluxDB sink sustains into a real VictoriaMetrics;
 *   - ingest over MQTT with the InfluxDB sink on versus off (the baseline).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { runLoad } from '../device-sim/src/load.ts';
import { loadConfig } from '../hub/src/config/load.ts';
import { Journal } from '../hub/src/ingest/journal.ts';
import { createLogger } from '../hub/src/logger.ts';
import { Metrics } from '../hub/src/metrics.ts';
import { StorageHealth } from '../hub/src/store/storage-health.ts';
import { InfluxSink } from '../hub/src/timeseries/influx-sink.ts';
import { loadExample } from '../hub/test/helpers/community.ts';
import { registerDevice, topic } from '../hub/test/helpers/devices.ts';
import { ensureDebianPackages } from '../hub/test/helpers/system-packages.ts';
import { startTestHub, tempDir } from '../hub/test/helpers/test-hub.ts';
import { VictoriaMetrics } from '../hub/test/helpers/victoria-metrics.ts';
import { waitFor } from '../hub/test/helpers/wait.ts';
import { bareAedes, hub, mosquitto, type Target } from './brokers.ts';
import { connections, panicToAlert } from './latency-and-connections.ts';

interface Row {
  section: string;
  measure: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
}
const rows: Row[] = [];

async function sinkThroughput(vm: VictoriaMetrics, points: number): Promise<number> {
  const config = loadConfig({ env: {} });
  const metrics = new Metrics();
  const logger = createLogger('silent');
  const journal = new Journal(
    { dataDir: tempDir('gridhub-bench-'), spoolMaxPoints: config.influx.spoolMaxPoints, maxBatch: 2000 },
    new StorageHealth(metrics, logger),
    metrics,
    logger,
  );
  await journal.start();
  const sink = new InfluxSink(
    { ...config.influx, url: vm.url, token: 'bench', flushMs: 50 },
    journal,
    metrics,
    logger,
  );
  await sink.start();
  const base = Date.now() - 86_400_000;
  const started = performance.now();
  for (let i = 0; i < points; i++) {
    sink.write([
      `bench_sink,device=d${i % 100},type=elevator-monitor floor=${i % 20}i,speed=1.5,moving=true ${base + Math.floor(i / 100)}`,
    ]);
  }
  await waitFor(() => sink.spooled === 0, { timeoutMs: 300_000, intervalMs: 20, what: 'sink drained' });
  const seconds = (performance.now() - started) / 1000;
  await sink.stop();
  await journal.stop();
  return points / seconds;
}

async function ingestRate(influxUrl: string | undefined, messages: number): Promise<number> {
  const overrides: Record<string, unknown> = { 'mqtt.ratePerSecond': 1_000_000, 'mqtt.rateBurst': 1_000_000 };
  if (influxUrl)
    Object.assign(overrides, { 'influx.url': influxUrl, 'influx.token': 'bench', 'influx.flushMs': 200 });
  const t = await startTestHub({ overrides });
  await loadExample(t.api);
  const devices = await Promise.all(
    Array.from({ length: 20 }, () => registerDevice(t.api, 'gbt24476-elevator', 'site-b1')),
  );
  const clients = await Promise.all(
    devices.map((d) =>
      mqtt.connectAsync(`mqtt://127.0.0.1:${t.hub.broker.port}`, {
        clientId: d.id,
        username: d.id,
        password: d.secret,
        reconnectPeriod: 0,
      }),
    ),
  );
  let ingested = 0;
  t.hub.bus.on('device.telemetry', () => {
    ingested++;
  });
  const per = messages / clients.length;
  const state = {
    serviceMode: 1,
    moving: true,
    direction: 'up',
    floor: 3,
    doorZone: false,
    door: 'closed',
    occupied: true,
    speed: 1.5,
  };
  const started = performance.now();
  clients.forEach((c, ci) => {
    for (let i = 0; i < per; i++)
      c.publish(
        topic(devices[ci]?.id as string, 'telemetry'),
        JSON.stringify({ ...state, floor: i % 20, ts: Date.now() - 3_600_000 + i }),
      );
  });
  await waitFor(() => ingested >= messages, {
    timeoutMs: 300_000,
    intervalMs: 10,
    what: 'all messages ingested',
  });
  const rate = messages / ((performance.now() - started) / 1000);
  if (influxUrl)
    await waitFor(() => t.hub.influx?.spooled === 0, { timeoutMs: 120_000, what: 'spool drained' });
  await Promise.all(clients.map((c) => c.endAsync()));
  await t.cleanup();
  return rate;
}

const RATES = [5_000, 10_000, 20_000, 30_000, 40_000, 50_000];

/** Step the rate up until a step loses messages or its p99 passes 100 ms; the best clean rate. */
async function brokerCeiling(
  start: (devices: number) => Promise<Target>,
): Promise<{ name: string; best: number; steps: string[] }> {
  const target = await start(100);
  const steps: string[] = [];
  let best = 0;
  try {
    for (const rate of RATES) {
      const r = await runLoad({
        url: target.url,
        devices: target.devices,
        rate,
        seconds: 4,
        subscribe: target.subscribe,
        drainMs: 3000,
      });
      steps.push(`${rate}: ${r.received}/${r.sent} p99 ${r.p99Ms ?? '–'} ms`);
      if (r.lossPct > 0 || r.p99Ms === null || r.p99Ms >= 100) break;
      best = rate;
    }
  } finally {
    await target.stop();
  }
  return { name: target.name, best, steps };
}

async function main(): Promise<void> {
  await ensureDebianPackages([
    { command: 'victoria-metrics', pkg: 'victoria-metrics' },
    { command: 'mosquitto', pkg: 'mosquitto' },
  ]);
  const ceilings = [];
  for (const start of [mosquitto, bareAedes, hub]) {
    const c = await brokerCeiling(start);
    process.stdout.write(`  ${c.name}: ${c.steps.join(' | ')}\n`);
    ceilings.push(c);
  }
  const [mq, bare, full] = ceilings as [
    (typeof ceilings)[number],
    (typeof ceilings)[number],
    (typeof ceilings)[number],
  ];
  rows.push({ section: 'brokers', measure: `${mq.name}: highest clean rate`, value: mq.best, unit: 'msg/s' });
  rows.push({
    section: 'brokers',
    measure: `${bare.name}: highest clean rate`,
    value: bare.best,
    unit: 'msg/s',
  });
  rows.push({
    section: 'brokers',
    measure: `${full.name} vs bare Aedes`,
    value: full.best,
    unit: 'msg/s',
    baseline: bare.best,
    ratio: bare.best ? Math.round((full.best / bare.best) * 100) / 100 : 0,
  });
  rows.push({
    section: 'brokers',
    measure: `${full.name} vs Mosquitto`,
    value: full.best,
    unit: 'msg/s',
    baseline: mq.best,
    ratio: mq.best ? Math.round((full.best / mq.best) * 100) / 100 : 0,
  });
  {
    const h = await hub(100);
    try {
      const quiet = await panicToAlert(h, 40, 0);
      const busy = await panicToAlert(h, 40, 5000);
      rows.push({
        section: 'alerts',
        measure: 'panic press → leader’s app, p50 (no background)',
        value: quiet.p50 ?? -1,
        unit: 'ms',
      });
      rows.push({
        section: 'alerts',
        measure: 'panic press → leader’s app, p99 (no background)',
        value: quiet.p99 ?? -1,
        unit: 'ms',
      });
      rows.push({
        section: 'alerts',
        measure: 'panic press → leader’s app, p50, 5,000 msg/s telemetry',
        value: busy.p50 ?? -1,
        unit: 'ms',
        baseline: quiet.p50 ?? undefined,
      });
      rows.push({
        section: 'alerts',
        measure: 'panic press → leader’s app, p99, 5,000 msg/s telemetry',
        value: busy.p99 ?? -1,
        unit: 'ms',
        baseline: quiet.p99 ?? undefined,
        ratio: quiet.p99 && busy.p99 ? Math.round((busy.p99 / quiet.p99) * 100) / 100 : undefined,
      });
      rows.push({
        section: 'alerts',
        measure: 'alerts received (5,000 msg/s telemetry)',
        value: busy.received,
        unit: 'of 40',
      });
    } finally {
      await h.stop();
    }
    const N = 2000;
    const bareTarget = await bareAedes(0);
    const bareConn = await connections(
      bareTarget,
      Array.from({ length: N }, (_, i) => ({ id: `c-${i}` })),
    ).finally(() => bareTarget.stop());
    const hubTarget = await hub(N);
    const hubConn = await connections(hubTarget, hubTarget.devices).finally(() => hubTarget.stop());
    const ratio = (a: number, b: number) => (b ? Math.round((a / b) * 100) / 100 : undefined);
    rows.push({
      section: 'connections',
      measure: `device connections held (of ${N})`,
      value: hubConn.held,
      unit: 'connections',
      baseline: bareConn.held,
    });
    rows.push({
      section: 'connections',
      measure: 'memory per connection, hub vs bare Aedes',
      value: hubConn.kbPerConnection,
      unit: 'KB',
      baseline: bareConn.kbPerConnection,
      ratio: ratio(hubConn.kbPerConnection, bareConn.kbPerConnection),
    });
    rows.push({
      section: 'connections',
      measure: `reconnect storm of ${N}, hub (authenticated) vs bare Aedes`,
      value: hubConn.stormSeconds,
      unit: 's',
      baseline: bareConn.stormSeconds,
      ratio: ratio(hubConn.stormSeconds, bareConn.stormSeconds),
    });
  }
  const vm = new VictoriaMetrics(join(tempDir('gridhub-bench-vm-'), 'vm'));
  await vm.start();
  try {
    const sink = await sinkThroughput(vm, 200_000);
    rows.push({
      section: 'time series',
      measure: 'InfluxDB sink → VictoriaMetrics',
      value: Math.round(sink),
      unit: 'points/s',
    });
    const off = await ingestRate(undefined, 40_000);
    const on = await ingestRate(vm.url, 40_000);
    rows.push({
      section: 'ingest',
      measure: 'MQTT telemetry, InfluxDB sink off (baseline)',
      value: Math.round(off),
      unit: 'msg/s',
    });
    rows.push({
      section: 'ingest',
      measure: 'MQTT telemetry, InfluxDB sink on',
      value: Math.round(on),
      unit: 'msg/s',
      baseline: Math.round(off),
      ratio: Math.round((on / off) * 100) / 100,
    });
  } finally {
    await vm.stop();
  }
  const table = [
    '| section | measure | value | unit | baseline | ratio |',
    '|---|---|---:|---|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.section} | ${r.measure} | ${r.value} | ${r.unit} | ${r.baseline ?? ''} | ${r.ratio ?? ''} |`,
    ),
  ].join('\n');
  process.stdout.write(`\n${table}\n\n`);
  writeFileSync(
    new URL('./results.json', import.meta.url),
    `${JSON.stringify({ at: new Date().toISOString(), node: process.version, rows }, null, 2)}\n`,
  );
  process.stdout.write('written bench/results.json\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
