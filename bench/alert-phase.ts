/**
 * One phase of the alerts section: buttons pressed one after another while a background load runs,
 * each press timed from its write to the alert's arrival at the leader's app; meanwhile /health is
 * timed back to back, and the hub's own event-loop delay metric is read around the phase.
 */
import mqttPacket from 'mqtt-packet';
import { runLoad } from '../device-sim/src/load.ts';
import { dialDevices, type LoadDevice, type RawDevice } from '../device-sim/src/raw-mqtt.ts';
import type { ApiClient } from '../hub/test/helpers/start-hub.ts';
import { waitFor } from '../hub/test/helpers/wait.ts';
import type { HubProcess } from './hub-process.ts';

export interface Phase {
  p50: number | null;
  p99: number | null;
  received: number;
  /** the hub's own figure (max event-loop delay since the previous scrape), when it exports one */
  loopMaxMs: number | null;
  healthMaxMs: number;
  detail: string;
}

/** A load running in the background of a phase; connected before the phase's clock starts. */
export interface Background {
  stop(): Promise<string>;
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
  loop.catch(() => undefined); // a failure surfaces when the probe is stopped
  return async () => {
    running = false;
    await loop;
    return Math.round(slowest * 10) / 10;
  };
}

export async function phase(
  hub: HubProcess,
  buttons: readonly LoadDevice[],
  o: { gapMs: number; settleMs: number; arrivals: Map<string, number> },
  background: () => Promise<Background>,
): Promise<Phase> {
  const presses = await dialDevices(hub.url, buttons);
  const load = await background();
  const stopHealth = healthProbe(hub.http);
  await hub.metrics(); // resets the hub's event-loop maximum
  await new Promise((r) => setTimeout(r, o.settleMs)); // let the background reach its rate
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
    await new Promise((r) => setTimeout(r, o.gapMs));
  }
  // the background ends once the presses are out (a dry run under way is awaited), then the
  // stragglers get 15 s more
  const detail = await load.stop();
  await waitFor(() => buttons.every((b) => o.arrivals.has(b.id)), {
    timeoutMs: 15_000,
    what: 'alerts',
  }).catch(() => undefined);
  const loopMaxMs = eventLoopMaxMs(await hub.metrics());
  const healthMaxMs = await stopHealth();
  for (const p of presses) p.close();
  const timed = buttons
    .map((b, i) => ({
      i,
      ms: o.arrivals.has(b.id) ? (o.arrivals.get(b.id) as number) - (sentAt.get(b.id) as number) : null,
    }))
    .filter((t): t is { i: number; ms: number } => t.ms !== null);
  const latencies = timed.map((t) => Math.round(t.ms * 10) / 10).sort((a, b) => a - b);
  // which presses were slowest (press number: ms), to tell a one-off stall from a steady cost
  const slowest = [...timed].sort((a, b) => b.ms - a.ms).slice(0, 3);
  const slow = slowest.map((t) => `#${t.i + 1}: ${Math.round(t.ms)} ms`).join(', ');
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    received: latencies.length,
    loopMaxMs,
    healthMaxMs,
    detail: `${detail}; slowest presses ${slow || '–'}`,
  };
}

/** Nothing in the background. */
export const quietBackground = async (): Promise<Background> => ({ stop: async () => 'no load' });

/** `rate` msg/s from already connected devices until stopped (QoS 1 events or QoS 0 telemetry). */
async function steady(
  url: string,
  devices: readonly LoadDevice[],
  rate: number,
  kind: 'event' | 'telemetry',
): Promise<{ stop(): Promise<string>; connected: RawDevice[] }> {
  const connected = await dialDevices(url, devices);
  let finish = () => {};
  const done = new Promise<void>((r) => {
    finish = r;
  });
  const qos = kind === 'event' ? 1 : 0;
  const run = runLoad({ url, devices, connected, rate, seconds: 3600, kind, qos, until: done });
  return {
    connected,
    stop: async () => {
      finish();
      const r = await run;
      for (const d of connected) d.close();
      const acked = qos ? `, ${r.acked} acknowledged` : '';
      return `${r.sent} ${kind === 'event' ? 'QoS 1 events' : 'readings'} from ${devices.length} devices at ${r.sentPerSec}/s${acked}`;
    },
  };
}

export function telemetryBackground(url: string, devices: readonly LoadDevice[], rate: number) {
  return async (): Promise<Background> => steady(url, devices, rate, 'telemetry');
}

/**
 * Ordinary events at the devices' rate limit while `subscribers` staff clients (dashboards, Node-RED,
 * apps; bare sockets at QoS 0) hold `gh/v1/hub/#`, so every event the hub republishes goes to each
 * of them. With no subscribers it is the same load, the baseline of the fan-out.
 */
export function fanOutBackground(
  url: string,
  devices: readonly LoadDevice[],
  rate: number,
  staff: { personId: string; token: string; subscribers: number },
) {
  return async (): Promise<Background> => {
    const clients = await dialDevices(
      url,
      Array.from({ length: staff.subscribers }, (_, i) => ({
        id: `${staff.personId}:dashboard-${i}`,
        secret: staff.token,
      })),
      { username: staff.personId },
    );
    await Promise.all(clients.map((c) => c.subscribe('gh/v1/hub/#')));
    const events = await steady(url, devices, rate, 'event');
    return {
      stop: async () => {
        const sent = await events.stop();
        const received = clients.reduce((n, c) => n + c.received, 0);
        for (const c of clients) c.close();
        return staff.subscribers
          ? `${sent}; ${staff.subscribers} staff subscribers on gh/v1/hub/# received ${received} messages`
          : sent;
      },
    };
  };
}

/**
 * Events at the devices' rate limit, and an installer's CSV dry run again and again until stopped,
 * so every press meets one. The flood's devices are connected before the first dry run starts.
 */
export function floodBackground(
  url: string,
  devices: readonly LoadDevice[],
  rate: number,
  installer: ApiClient,
  csv: string,
) {
  return async (): Promise<Background> => {
    const events = await steady(url, devices, rate, 'event');
    let stopped = false;
    const imports: string[] = [];
    const dryRuns = (async () => {
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
    })();
    dryRuns.catch(() => undefined); // surfaces at stop
    return {
      stop: async () => {
        stopped = true;
        await dryRuns;
        return `${await events.stop()}; dry runs: ${imports.join(' | ')}`;
      },
    };
  };
}
