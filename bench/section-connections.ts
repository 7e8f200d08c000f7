/**
 * Device connections on one node, hub (every device authenticated with its own secret) against
 * bare Aedes: how many it holds, resident memory per connection (/proc, the broker process before
 * and after), and a reconnect storm (every socket dropped at once without DISCONNECT, as when a
 * site's power or uplink fails; once the broker has seen them go, every device dials back, as many at
 * a time as the listen backlog takes).
 */
import { dialDevices, type LoadDevice } from '../device-sim/src/raw-mqtt.ts';
import { waitFor } from '../hub/test/helpers/wait.ts';
import { anonymous, type Broker, bareAedes } from './brokers.ts';
import type { HubPool } from './hub-process.ts';
import { openFiles, rssBytes } from './proc.ts';
import { type Row, ratio } from './results.ts';

interface Held {
  held: number;
  kbPerConnection: number;
  stormSeconds: number;
  detail: string;
}

async function hold(broker: Broker, devices: readonly LoadDevice[], settleMs: number): Promise<Held> {
  const files = openFiles(broker.pid);
  const before = rssBytes(broker.pid);
  let retries = 0;
  const onRetry = () => {
    retries++;
  };
  const t0 = performance.now();
  const clients = await dialDevices(broker.url, devices, { inFlight: 500, keepaliveS: 1800, onRetry });
  const connectSeconds = (performance.now() - t0) / 1000;
  const connectRetries = retries;
  await waitFor(() => openFiles(broker.pid) >= files + devices.length, {
    timeoutMs: 120_000,
    what: `${broker.name} holding ${devices.length} connections`,
  });
  // memory once the broker has settled the connects (presence writes, sessions)
  await new Promise((r) => setTimeout(r, settleMs));
  const after = rssBytes(broker.pid);
  for (const c of clients) c.destroy();
  await waitFor(() => openFiles(broker.pid) <= files + 10, {
    timeoutMs: 120_000,
    what: `${broker.name} closing ${devices.length} connections`,
  });
  const started = performance.now();
  // every device dials back at once, limited only by the listen backlog (Node's default 511): more
  // connects under way than that would measure the kernel's SYN retransmission timers instead
  const again = await dialDevices(broker.url, devices, { inFlight: 500, keepaliveS: 1800, onRetry });
  const stormSeconds = (performance.now() - started) / 1000;
  for (const c of again) c.close();
  await waitFor(() => openFiles(broker.pid) <= files + 10, {
    timeoutMs: 120_000,
    what: `${broker.name} closing after the storm`,
  });
  return {
    held: again.length,
    kbPerConnection: Math.round((after - before) / devices.length / 102.4) / 10,
    stormSeconds: Math.round(stormSeconds * 100) / 100,
    detail: `${broker.name}: ${devices.length} connected in ${connectSeconds.toFixed(1)} s (500 connects under way at a time, ${connectRetries} retried), resident ${Math.round(before / 2 ** 20)} → ${Math.round(after / 2 ** 20)} MB; storm ${stormSeconds.toFixed(2)} s (${retries - connectRetries} retried)`,
  };
}

/**
 * `devices` are registered in `dataDir`; the hub is a fresh process on it (in the full run), so the
 * memory figure is not inflated by the registration's garbage.
 */
export async function connectionsSection(
  goal: number,
  fleet: { devices: readonly LoadDevice[]; dataDir: string },
  settleMs: number,
  hubs: HubPool,
  limitNote: string,
  details: Record<string, string[]>,
): Promise<Row[]> {
  const { devices } = fleet;
  const n = devices.length;
  const bare = await bareAedes();
  const b = await hold(bare, anonymous(n), settleMs).finally(() => bare.stop());
  const hub = await hubs.start({}, fleet.dataDir);
  let h: Held;
  let refused = '';
  try {
    h = await hold(hub, devices, settleMs);
    refused = await hub.refusals();
  } finally {
    await hubs.release(hub);
  }
  details.connections = [b.detail, h.detail];
  const count = n.toLocaleString('en-US');
  return [
    {
      section: 'connections',
      figure: 'authenticated device connections held on one node',
      value: h.held,
      unit: 'connections',
      baseline: { label: 'bare Aedes (no authentication)', value: b.held },
      ratio: ratio(h.held, b.held),
      goal: `${goal.toLocaleString('en-US')}`,
      note: [limitNote, refused].filter(Boolean).join('; '),
    },
    {
      section: 'connections',
      figure: `memory per device connection (${count} held)`,
      value: h.kbPerConnection,
      unit: 'KB',
      baseline: { label: 'bare Aedes', value: b.kbPerConnection },
      ratio: ratio(h.kbPerConnection, b.kbPerConnection),
      goal: '≤ 20 KB',
      note: 'resident memory of the broker process, after − before, over the connections',
    },
    {
      section: 'connections',
      figure: `reconnect storm of ${count} devices (all dropped at once, all dialling back, 500 connects under way at a time)`,
      value: h.stormSeconds,
      unit: 's',
      baseline: { label: 'bare Aedes', value: b.stormSeconds },
      ratio: ratio(h.stormSeconds, b.stormSeconds),
      goal: '≤ 1.2 × bare Aedes',
    },
  ];
}
