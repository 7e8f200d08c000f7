/**
 * Telemetry ingest: `messages` readings written as fast as `devices` sockets take them, timed until
 * the broker has taken every one — for the hub, its own count of ingested readings on /metrics; for
 * bare Aedes (the baseline), the publishes it took (bench/bare-aedes.ts counts them); nobody
 * subscribes in either case, as nobody subscribes to device telemetry in a deployment.
 * Then the hub again with the InfluxDB sink on, writing to a real VictoriaMetrics, and how fast the
 * sink's points land there.
 */
import { join } from 'node:path';
import { setImmediate as yieldToIo } from 'node:timers/promises';
import { dialDevices, type LoadDevice, PublishTemplate } from '../device-sim/src/raw-mqtt.ts';
import { tempDir } from '../hub/test/helpers/start-hub.ts';
import { VictoriaMetrics } from '../hub/test/helpers/victoria-metrics.ts';
import { waitFor } from '../hub/test/helpers/wait.ts';
import { anonymous, type Broker, bareAedes } from './brokers.ts';
import { type HubPool, UNLIMITED } from './hub-process.ts';
import { type Row, ratio } from './results.ts';
import type { Sizes } from './sizes.ts';

/**
 * Messages per second from the first write until `taken()` has grown by `messages`; `repeats` such
 * blasts over the same connections, and the median of their rates (one blast lasts a second or two,
 * short enough for a neighbour's burst of work to skew it).
 */
async function blast(
  broker: Broker,
  devices: readonly LoadDevice[],
  s: Sizes['telemetry'],
  taken: () => Promise<number>,
  log: (line: string) => void,
): Promise<number> {
  const clients = await dialDevices(broker.url, devices);
  const templates = devices.map((d) => new PublishTemplate(d.id, 'tl', 'telemetry', 0));
  const rates: number[] = [];
  for (let r = 0; r < s.repeats; r++) {
    const before = await taken();
    const started = performance.now();
    for (let i = 0; i < s.messages; i++) {
      (clients[i % clients.length] as (typeof clients)[number]).write(
        (templates[i % templates.length] as PublishTemplate).make(i, Date.now()),
      );
      if (i % 1000 === 999) await yieldToIo(); // let the sockets flush, as a real fleet's would
    }
    await waitFor(async () => (await taken()) - before >= s.messages, {
      timeoutMs: 600_000,
      intervalMs: 25,
      what: `${broker.name}: ${s.messages} readings taken`,
    });
    rates.push(s.messages / ((performance.now() - started) / 1000));
  }
  for (const c of clients) c.close();
  log(`${broker.name}: ${rates.map((r) => Math.round(r)).join(', ')} msg/s`);
  rates.sort((x, y) => x - y);
  return Math.round(rates[Math.floor(rates.length / 2)] as number);
}

async function bareRate(s: Sizes['telemetry'], log: (line: string) => void): Promise<number> {
  const bare = await bareAedes();
  try {
    // nobody subscribes to device telemetry on the hub either: bare Aedes counts what it took
    return await blast(bare, anonymous(s.devices), s, () => bare.published(), log);
  } finally {
    await bare.stop();
  }
}

async function hubRate(
  s: Sizes['telemetry'],
  hubs: HubPool,
  log: (line: string) => void,
  env: Record<string, string>,
  influx?: VictoriaMetrics,
): Promise<{ rate: number; refused: string; influxPointsPerSec?: number }> {
  const hub = await hubs.start(env);
  try {
    await hub.loadCommunity();
    const devices = await hub.register(s.devices, 'generic-nb-smoke', ['site-b1', 'site-b2'], 'tl');
    const started = performance.now();
    const rate = await blast(
      hub,
      devices,
      s,
      () => hub.metric('gridhub_mqtt_messages_total', { kind: 'telemetry' }),
      (line) => log(`${line} (InfluxDB sink ${influx ? 'on' : 'off'})`),
    );
    let influxPointsPerSec: number | undefined;
    if (influx) {
      // the sink's spool is empty once every spooled point was written or refused by the server
      const points = (outcome: string) =>
        hub.metric('gridhub_series_points_total', { sink: 'influx', outcome });
      await waitFor(
        async () =>
          (await points('spooled')) > 0 &&
          (await points('written')) + (await points('rejected')) >= (await points('spooled')),
        { timeoutMs: 300_000, intervalMs: 50, what: 'InfluxDB spool drained' },
      );
      influxPointsPerSec = Math.round((await points('written')) / ((performance.now() - started) / 1000));
    }
    return { rate, refused: await hub.refusals(), influxPointsPerSec };
  } finally {
    await hubs.release(hub, !influx);
  }
}

export async function telemetrySection(
  s: Sizes['telemetry'],
  hubs: HubPool,
  details: Record<string, string[]>,
): Promise<Row[]> {
  const lines: string[] = [];
  details.telemetry = lines;
  const log = (line: string) => lines.push(line);
  const bare = await bareRate(s, log);
  const off = await hubRate(s, hubs, log, UNLIMITED);
  const vm = new VictoriaMetrics(join(tempDir('gridhub-bench-vm-'), 'vm'));
  await vm.start();
  let on: Awaited<ReturnType<typeof hubRate>>;
  try {
    on = await hubRate(
      s,
      hubs,
      log,
      {
        ...UNLIMITED,
        GRIDHUB_INFLUX_URL: vm.url,
        GRIDHUB_INFLUX_TOKEN: 'bench',
        GRIDHUB_INFLUX_FLUSH_MS: '200',
      },
      vm,
    );
  } finally {
    await vm.stop();
  }
  return [
    {
      section: 'telemetry',
      figure: 'telemetry ingest, InfluxDB sink off',
      value: off.rate,
      unit: 'msg/s',
      baseline: { label: 'bare Aedes', value: bare },
      ratio: ratio(off.rate, bare),
      goal: '≥ 1.0 × bare Aedes',
      note: off.refused,
    },
    {
      section: 'telemetry',
      figure: 'telemetry ingest, InfluxDB sink on (VictoriaMetrics)',
      value: on.rate,
      unit: 'msg/s',
      baseline: { label: 'sink off', value: off.rate },
      ratio: ratio(on.rate, off.rate),
      goal: '≥ 0.95 × sink off',
      note: on.refused,
    },
    {
      section: 'telemetry',
      figure: 'InfluxDB sink: points written, from the first reading until the spool is empty',
      value: on.influxPointsPerSec ?? null,
      unit: 'points/s',
    },
  ];
}
