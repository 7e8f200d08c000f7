/**
 * Panic press → alert on the point leader's own MQTT topic, on a hub with the configuration's
 * defaults (rate limits included), in three phases: quiet; under steady telemetry; under an event
 * flood from devices at their rate limit (QoS 1) while an installer dry-runs a large CSV import.
 * Each press is a different button at the school gate (its own incident), QoS 1, sent on a bare
 * socket with TCP_NODELAY; latency runs from the write to the alert's arrival at the leader's app.
 * In every phase the bench also times /health (a request that waits behind whatever blocks the
 * hub's event loop) and reads the hub's own event-loop delay metric when it exports one.
 */
import mqttPacket from 'mqtt-packet';
import { connectMqtt, dialDevices, type LoadDevice, runLoad } from '../device-sim/src/load.ts';
import { loadConfig } from '../hub/src/config/load.ts';
import { waitFor } from '../hub/test/helpers/wait.ts';
import type { HubPool, HubProcess } from './hub-process.ts';
import { type Row, ratio } from './results.ts';
import type { Sizes } from './sizes.ts';

const LEADER = 'p-school-principal';
const INSTALLER = 'p-installer';

interface Phase {
  p50: number | null;
  p99: number | null;
  received: number;
  /** the hub's own figure (max event-loop delay since the previous scrape), when it exports one */
  loopMaxMs: number | null;
  healthMaxMs: number;
  detail: string;
}

function percentile(sorted: number[], p: number): number | null {
  return sorted.length
    ? (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number)
    : null;
}

/**
 * The largest event-loop delay in the hub's /metrics: any gauge named like
 * `gridhub_…event_loop…max…seconds` (prom-client's `gridhub_nodejs_eventloop_lag_max_seconds`
 * today, which resets at every scrape, so a scrape before and after a phase brackets it).
 */
export function eventLoopMaxMs(metrics: string): number | null {
  let max: number | null = null;
  for (const line of metrics.split('\n')) {
    if (!/^gridhub_\w*event_?loop\w*max\w*seconds(\{[^}]*\})? /.test(line)) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1)) * 1000;
    if (Number.isFinite(v)) max = Math.max(max ?? 0, Math.round(v * 10) / 10);
  }
  return max;
}

/** Time GET /health back to back until stopped; the slowest response in ms. */
function healthProbe(http: string): () => Promise<number> {
  let running = true;
  let slowest = 0;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      await fetch(`${http}/health`).then((r) => r.arrayBuffer());
      slowest = Math.max(slowest, performance.now() - t0);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return async () => {
    running = false;
    await loop;
    return Math.round(slowest * 10) / 10;
  };
}

async function phase(
  hub: HubProcess,
  buttons: readonly LoadDevice[],
  gapMs: number,
  settleMs: number,
  arrivals: Map<string, number>,
  background: () => { stop(): Promise<string> },
): Promise<Phase> {
  const presses = await dialDevices(hub.url, buttons);
  const stopHealth = healthProbe(hub.http);
  await hub.metrics(); // resets the hub's event-loop maximum
  const load = background();
  await new Promise((r) => setTimeout(r, settleMs)); // let the background reach its rate
  const sentAt = new Map<string, number>();
  for (const [i, b] of presses.entries()) {
    const id = buttons[i]?.id as string;
    const packet = mqttPacket.generate({
      cmd: 'publish',
      topic: `gh/v1/dev/${id}/event`,
      payload: JSON.stringify({ eventId: `press-${id}`, type: 'press' }),
      qos: 1,
      messageId: 1,
      retain: false,
      dup: false,
    });
    sentAt.set(id, performance.now());
    b.write(packet);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  await waitFor(() => buttons.every((b) => arrivals.has(b.id)), {
    timeoutMs: 15_000,
    what: 'alerts',
  }).catch(() => undefined);
  const loopMaxMs = eventLoopMaxMs(await hub.metrics());
  const detail = await load.stop();
  const healthMaxMs = await stopHealth();
  for (const p of presses) p.close();
  const latencies = buttons
    .filter((b) => arrivals.has(b.id))
    .map((b) => Math.round(((arrivals.get(b.id) as number) - (sentAt.get(b.id) as number)) * 10) / 10)
    .sort((a, b) => a - b);
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    received: latencies.length,
    loopMaxMs,
    healthMaxMs,
    detail,
  };
}

/** A load that runs until stopped; its stop says what it did. */
function until(run: (done: Promise<void>) => Promise<string>): () => { stop(): Promise<string> } {
  return () => {
    let finish = () => {};
    const done = new Promise<void>((r) => {
      finish = r;
    });
    const result = run(done);
    return {
      stop: async () => {
        finish();
        return result;
      },
    };
  };
}

export async function alertsSection(
  s: Sizes['alerts'],
  settleMs: number,
  hubs: HubPool,
  details: Record<string, string[]>,
): Promise<Row[]> {
  const limit = loadConfig({ env: {} }).mqtt.ratePerSecond;
  const hub = await hubs.start();
  try {
    await hub.loadCommunity();
    const button = (tag: string) =>
      hub.register(s.presses, 'generic-panic-button', ['site-school-gate'], `press-${tag}`);
    const [quietButtons, busyButtons, floodButtons] = [
      await button('q'),
      await button('b'),
      await button('f'),
    ];
    // telemetry devices at half their rate limit, so none is throttled
    const telemetryDevices = Math.ceil(s.background / (limit / 2));
    const sites = ['site-b1', 'site-b2', 'site-b3'];
    const background = await hub.register(telemetryDevices, 'generic-nb-smoke', sites, 'bg');
    const flooders = await hub.register(s.floodDevices, 'generic-nb-smoke', sites, 'flood');
    const installer = hub.admin.as(await hub.token(INSTALLER));
    const leader = await connectMqtt(hub.url, {
      username: LEADER,
      password: await hub.token(LEADER),
      reconnectPeriod: 0,
    });
    await leader.subscribeAsync(`gh/v1/hub/person/${LEADER}/alert`, { qos: 1 });
    const arrivals = new Map<string, number>();
    leader.on('message', (_topic, payload) => {
      const id = (JSON.parse(payload.toString()) as { alert?: { deviceId?: string } }).alert?.deviceId;
      if (id && !arrivals.has(id)) arrivals.set(id, performance.now());
    });

    const quiet = await phase(
      hub,
      quietButtons,
      s.gapMs,
      settleMs,
      arrivals,
      until(async () => 'no load'),
    );
    const busy = await phase(
      hub,
      busyButtons,
      s.gapMs,
      settleMs,
      arrivals,
      until(async (done) => {
        const r = await runLoad({
          url: hub.url,
          devices: background,
          rate: s.background,
          seconds: 3600,
          kind: 'telemetry',
          until: done,
        });
        return `${r.sent} readings from ${background.length} devices at ${r.sentPerSec}/s`;
      }),
    );
    const csv = [
      'id,model,site',
      ...Array.from({ length: s.importRows }, (_, i) => `dry-${i},generic-nb-smoke,${sites[i % 3]}`),
    ].join('\n');
    const flood = await phase(
      hub,
      floodButtons,
      s.gapMs,
      settleMs,
      arrivals,
      until(async (done) => {
        const events = runLoad({
          url: hub.url,
          devices: flooders,
          rate: limit * flooders.length,
          seconds: 3600,
          kind: 'event',
          qos: 1,
          until: done,
          drainMs: 5000,
        });
        // the dry run again and again until the presses are done, so every press meets one
        const imports: string[] = [];
        let stopped = false;
        void done.then(() => {
          stopped = true;
        });
        while (!stopped) {
          const t0 = performance.now();
          const res = await installer.post<{ rows: number; problems: unknown[] }>(
            '/api/v1/devices/import?dryRun=true',
            csv,
            'text/csv',
          );
          const took = Math.round(performance.now() - t0);
          if (res.status !== 200) throw new Error(`dry run: HTTP ${res.status} ${JSON.stringify(res.body)}`);
          imports.push(`${res.body.rows} rows, ${res.body.problems.length} problems, ${took} ms`);
        }
        const r = await events;
        return `${r.sent} QoS 1 events from ${flooders.length} devices at ${r.sentPerSec}/s, ${r.acked} acknowledged; dry runs: ${imports.join(' | ')}`;
      }),
    );
    const refused = await hub.refusals();
    await leader.endAsync(true);
    details['alerts: phases'] = [quiet, busy, flood].map(
      (p, i) =>
        `${['quiet', 'telemetry', 'flood + dry run'][i]}: ${p.received}/${s.presses} alerts, p50 ${p.p50} ms, p99 ${p.p99} ms, event loop max ${p.loopMaxMs} ms, /health max ${p.healthMaxMs} ms; ${p.detail}`,
    );
    return alertRows(s, limit, { quiet, busy, flood }, refused);
  } finally {
    await hubs.release(hub);
  }
}

function alertRows(
  s: Sizes['alerts'],
  limit: number,
  p: { quiet: Phase; busy: Phase; flood: Phase },
  refused: number,
): Row[] {
  const n = (v: number) => v.toLocaleString('en-US');
  const press = 'panic press → leader’s app';
  const got = (x: Phase) => `${x.received} of ${s.presses} alerts arrived`;
  const busy = `${n(s.background)} msg/s telemetry`;
  const flood = `event flood (${s.floodDevices} devices × ${limit}/s, QoS 1) + ${n(s.importRows)}-row CSV dry run`;
  const vsQuiet = (figure: string, k: 'p50' | 'p99', x: Phase, goal?: string): Row => ({
    section: 'alerts',
    figure,
    value: x[k],
    unit: 'ms',
    baseline: { label: `quiet ${k}`, value: p.quiet[k] },
    ratio: ratio(x[k], p.quiet[k]),
    ...(goal ? { goal } : {}),
    note: got(x),
  });
  return [
    {
      section: 'alerts',
      figure: `${press}, quiet, p50`,
      value: p.quiet.p50,
      unit: 'ms',
      goal: '≤ 5 ms',
      note: got(p.quiet),
    },
    { section: 'alerts', figure: `${press}, quiet, p99`, value: p.quiet.p99, unit: 'ms', goal: '≤ 20 ms' },
    vsQuiet(`${press}, ${busy}, p50`, 'p50', p.busy),
    vsQuiet(`${press}, ${busy}, p99`, 'p99', p.busy, '≤ 30 ms'),
    vsQuiet(`${press}, ${flood}, p50`, 'p50', p.flood),
    vsQuiet(`${press}, ${flood}, p99`, 'p99', p.flood, '≤ 100 ms'),
    {
      section: 'alerts',
      figure: `largest event-loop delay the hub reports, ${flood}`,
      value: p.flood.loopMaxMs,
      unit: 'ms',
      baseline: { label: 'quiet', value: p.quiet.loopMaxMs },
      ratio: ratio(p.flood.loopMaxMs, p.quiet.loopMaxMs),
      goal: '≤ 50 ms',
      note: p.flood.loopMaxMs === null ? 'the hub exports no event-loop delay metric' : 'from /metrics',
    },
    {
      section: 'alerts',
      figure: `slowest /health response seen by the bench, ${flood}`,
      value: p.flood.healthMaxMs,
      unit: 'ms',
      baseline: { label: 'quiet', value: p.quiet.healthMaxMs },
      ratio: ratio(p.flood.healthMaxMs, p.quiet.healthMaxMs),
      goal: '≤ 50 ms',
      note: refused ? `the hub refused ${refused} messages or requests` : '',
    },
  ];
}
