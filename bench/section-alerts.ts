/**
 * Panic press → alert on the point leader's own MQTT topic, on a hub with the configuration's
 * defaults (rate limits included), in three phases: quiet; under steady telemetry; under an event
 * flood from devices at their rate limit (QoS 1) while an installer dry-runs a large CSV import.
 * Each press is a different button at the school gate (its own incident), QoS 1, sent on a bare
 * socket with TCP_NODELAY; latency runs from the write to the alert's arrival at the leader's app.
 * In every phase the bench also times /health (a request that waits behind whatever blocks the
 * hub's event loop) and reads the hub's own event-loop delay metric when it exports one.
 */
import { closeMqtt, connectMqtt } from '../device-sim/src/load.ts';
import { loadConfig } from '../hub/src/config/load.ts';
import {
  fanOutBackground,
  floodBackground,
  type Phase,
  phase,
  quietBackground,
  telemetryBackground,
} from './alert-phase.ts';
import type { HubPool } from './hub-process.ts';
import { type Row, ratio } from './results.ts';
import type { Sizes } from './sizes.ts';

const LEADER = 'p-school-principal';
const INSTALLER = 'p-installer';
/** the district's duty officer sees every grid: each staff subscriber receives every event */
const DISTRICT = 'p-district-duty';

export async function alertsSection(
  s: Sizes['alerts'],
  settleMs: number,
  hubs: HubPool,
  details: Record<string, string[]>,
): Promise<Row[]> {
  // the per-connection rate limit the hub runs with (the configuration's default)
  const limit = loadConfig({ env: {} }).mqtt.ratePerSecond;
  const hub = await hubs.start();
  try {
    await hub.loadCommunity();
    const button = (tag: string) =>
      hub.register(s.presses, 'generic-panic-button', ['site-school-gate'], `press-${tag}`);
    const [quietButtons, busyButtons, floodButtons, eventButtons, fanOutButtons] = [
      await button('q'),
      await button('b'),
      await button('f'),
      await button('e'),
      await button('s'),
    ];
    // telemetry devices at half their rate limit, so none is throttled
    const telemetryDevices = Math.ceil(s.background / (limit / 2));
    const sites = ['site-b1', 'site-b2', 'site-b3'];
    const background = await hub.register(telemetryDevices, 'generic-nb-smoke', sites, 'bg');
    const flooders = await hub.register(s.floodDevices, 'generic-nb-smoke', sites, 'flood');
    const installer = hub.admin.as(await hub.token(INSTALLER));
    const leader = await connectMqtt(hub.url, {
      clientId: `${LEADER}:bench`,
      username: LEADER,
      password: await hub.token(LEADER),
      reconnectPeriod: 0,
      // a hub that blocks for longer than a keepalive must not cost the app its connection
      keepalive: 600,
    });
    await leader.subscribeAsync(`gh/v1/hub/person/${LEADER}/alert`, { qos: 1 });
    const arrivals = new Map<string, number>();
    leader.on('message', (_topic, payload) => {
      const id = (JSON.parse(payload.toString()) as { alert?: { deviceId?: string } }).alert?.deviceId;
      if (id && !arrivals.has(id)) arrivals.set(id, performance.now());
    });
    const o = { gapMs: s.gapMs, settleMs, arrivals };
    const csv = [
      'id,model,site',
      ...Array.from({ length: s.importRows }, (_, i) => `dry-${i},generic-nb-smoke,${sites[i % 3]}`),
    ].join('\n');

    const quiet = await phase(hub, quietButtons, o, quietBackground);
    const busy = await phase(hub, busyButtons, o, telemetryBackground(hub.url, background, s.background));
    const flood = await phase(
      hub,
      floodButtons,
      o,
      floodBackground(hub.url, flooders, limit * flooders.length, installer, csv),
    );
    const staff = { personId: DISTRICT, token: await hub.token(DISTRICT) };
    const eventRate = limit * flooders.length;
    const events = await phase(
      hub,
      eventButtons,
      o,
      fanOutBackground(hub.url, flooders, eventRate, { ...staff, subscribers: 0 }),
    );
    const fanOut = await phase(
      hub,
      fanOutButtons,
      o,
      fanOutBackground(hub.url, flooders, eventRate, { ...staff, subscribers: s.staffSubscribers }),
    );
    const refused = await hub.refusals();
    await closeMqtt(leader);
    const names = ['quiet', 'telemetry', 'flood + dry run', 'events', `events + ${s.staffSubscribers} staff`];
    details['alerts: phases'] = [quiet, busy, flood, events, fanOut].map(
      (p, i) =>
        `${names[i]}: ${p.received}/${s.presses} alerts, p50 ${p.p50} ms, p99 ${p.p99} ms, event loop max ${p.loopMaxMs} ms, /health max ${p.healthMaxMs} ms; ${p.detail}`,
    );
    return alertRows(s, limit, { quiet, busy, flood, events, fanOut }, refused);
  } finally {
    await hubs.release(hub);
  }
}

function alertRows(
  s: Sizes['alerts'],
  limit: number,
  p: { quiet: Phase; busy: Phase; flood: Phase; events: Phase; fanOut: Phase },
  refused: string,
): Row[] {
  const n = (v: number) => v.toLocaleString('en-US');
  const press = 'panic press → leader’s app';
  const got = (x: Phase) => `${x.received} of ${s.presses} alerts arrived`;
  const busy = `${n(s.background)} msg/s telemetry`;
  const flood = `event flood (${s.floodDevices} devices × ${limit}/s, QoS 1) + ${n(s.importRows)}-row CSV dry run`;
  const events = `ordinary events (${s.floodDevices} devices × ${limit}/s, QoS 1)`;
  const vsQuiet = (
    figure: string,
    k: 'p50' | 'p99',
    x: Phase,
    goal?: string,
    base = p.quiet,
    label = 'quiet',
  ): Row => ({
    section: 'alerts',
    figure,
    value: x[k],
    unit: 'ms',
    baseline: { label: `${label} ${k}`, value: base[k] },
    ratio: ratio(x[k], base[k]),
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
    vsQuiet(`${press}, ${events}, p50`, 'p50', p.events),
    vsQuiet(`${press}, ${events}, p99`, 'p99', p.events),
    vsQuiet(
      `${press}, ${events} + ${s.staffSubscribers} staff subscribers on gh/v1/hub/#, p50`,
      'p50',
      p.fanOut,
      undefined,
      p.events,
      'no subscribers,',
    ),
    vsQuiet(
      `${press}, ${events} + ${s.staffSubscribers} staff subscribers on gh/v1/hub/#, p99`,
      'p99',
      p.fanOut,
      '≤ 100 ms',
      p.events,
      'no subscribers,',
    ),
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
      note: refused,
    },
  ];
}
