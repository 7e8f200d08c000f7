/**
 * How the hub's cost grows: fleets of increasing size held connected on one fresh hub process, and at
 * each size QoS 1 events at 1×, 5×, 10× a base aggregate rate. Per cell: the hub's CPU time per
 * event (/proc, user + system, over the whole run, so idle work such as presence sweeps counts too)
 * and, per fleet, resident memory per connected device. Each figure's baseline is the same figure
 * at the smallest fleet: ratios near 1 mean the cost does not grow with the fleet.
 */
import { dialDevices, type LoadDevice, type RawDevice, runLoad } from '../device-sim/src/load.ts';
import { waitFor } from '../hub/test/helpers/wait.ts';
import type { HubPool } from './hub-process.ts';
import { cpuSeconds, openFiles, rssBytes } from './proc.ts';
import { type Row, ratio } from './results.ts';
import type { Sizes } from './sizes.ts';

export async function growthSection(
  s: Sizes['growth'],
  registered: { devices: readonly LoadDevice[]; dataDir: string },
  settleMs: number,
  hubs: HubPool,
  details: Record<string, string[]>,
): Promise<Row[]> {
  const fleet = registered.devices;
  const fleets = s.fleets.map((f) => Math.min(f, fleet.length));
  const hub = await hubs.start({}, registered.dataDir);
  const held: RawDevice[] = [];
  const rows: Row[] = [];
  const steps: string[] = [];
  const first = new Map<number, number>();
  let firstKb: number | null = null;
  try {
    const staff = { username: 'admin', password: hub.admin.token as string };
    const files = openFiles(hub.pid);
    const idle = rssBytes(hub.pid);
    for (const size of [...new Set(fleets)]) {
      const more = fleet.slice(held.length, size);
      held.push(...(await dialDevices(hub.url, more, { batch: 1000, keepaliveS: 1800 })));
      await waitFor(() => openFiles(hub.pid) >= files + held.length, {
        timeoutMs: 120_000,
        what: `hub holding ${held.length} devices`,
      });
      await new Promise((r) => setTimeout(r, settleMs));
      const kb = Math.round((rssBytes(hub.pid) - idle) / size / 102.4) / 10;
      firstKb ??= kb;
      const n = size.toLocaleString('en-US');
      rows.push({
        section: 'growth',
        figure: `memory per connected device, ${n} devices`,
        value: kb,
        unit: 'KB',
        baseline: { label: `${fleets[0]?.toLocaleString('en-US')} devices`, value: firstKb },
        ratio: ratio(kb, firstKb),
        goal: 'flat as the fleet grows',
        note: `resident ${Math.round(rssBytes(hub.pid) / 2 ** 20)} MB in all`,
      });
      for (const m of s.multipliers) {
        const rate = s.baseRate * m;
        const cpu0 = cpuSeconds(hub.pid);
        const r = await runLoad({
          url: hub.url,
          devices: fleet.slice(0, size),
          connected: held,
          rate,
          seconds: s.seconds,
          qos: 1,
          subscribe: { topic: 'gh/v1/hub/event/#', options: staff },
          drainMs: 5000,
        });
        const us = r.sent ? Math.round(((cpuSeconds(hub.pid) - cpu0) / r.sent) * 1e6) : null;
        if (!first.has(m) && us !== null) first.set(m, us);
        const base = first.get(m) ?? null;
        steps.push(
          `${n} devices, ${rate}/s: ${r.acked}/${r.sent} acknowledged, ${r.received} republished, p99 ${r.p99Ms ?? '–'} ms, ${us} µs CPU per event`,
        );
        rows.push({
          section: 'growth',
          figure: `CPU per event, ${n} devices, ${m}× (${rate.toLocaleString('en-US')} events/s, QoS 1)`,
          value: us,
          unit: 'µs',
          baseline: { label: `${fleets[0]?.toLocaleString('en-US')} devices`, value: base },
          ratio: ratio(us, base),
          goal: 'flat as the fleet grows',
          note: `${r.lossPct} % lost, p99 ${r.p99Ms ?? '–'} ms`,
        });
      }
    }
    details.growth = steps;
    return rows;
  } finally {
    for (const d of held) d.close();
    await hubs.release(hub);
  }
}
