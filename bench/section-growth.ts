/**
 * How the hub's cost grows: fleets of increasing size held connected on one fresh hub process, and at
 * each size QoS 1 events at 1×, 5×, 10× a base aggregate rate. Per cell: the hub's CPU time per
 * event (/proc, user + system, over the whole run, so idle work such as presence sweeps counts too)
 * and, per fleet, resident memory per connected device. Each figure's baseline is the same figure
 * at the smallest fleet: ratios near 1 mean the cost does not grow with the fleet. A hub that
 * crashes ends the section; the cells it did not reach say so.
 */
import { runLoad } from '../device-sim/src/load.ts';
import { dialDevices, type LoadDevice, type RawDevice } from '../device-sim/src/raw-mqtt.ts';
import { waitFor } from '../hub/test/helpers/wait.ts';
import type { HubPool, HubProcess } from './hub-process.ts';
import { cpuSeconds, openFiles, rssBytes } from './proc.ts';
import { type Row, ratio } from './results.ts';
import type { Sizes } from './sizes.ts';

const n = (v: number) => v.toLocaleString('en-US');

/** Connect the devices of `fleet` beyond those already `held`, up to `size`; memory per device after. */
async function grow(
  hub: HubProcess,
  fleet: readonly LoadDevice[],
  held: RawDevice[],
  size: number,
  o: { files: number; idle: number; settleMs: number; steps: string[] },
): Promise<number> {
  let retried = 0;
  const onRetry = () => {
    retried++;
  };
  const more = fleet.slice(held.length, size);
  held.push(...(await dialDevices(hub.url, more, { inFlight: 500, keepaliveS: 1800, onRetry })));
  if (retried) o.steps.push(`${n(size)} devices: ${retried} connection attempts failed and were retried`);
  await waitFor(() => openFiles(hub.pid) >= o.files + held.length, {
    timeoutMs: 120_000,
    what: `hub holding ${held.length} devices`,
  });
  await new Promise((r) => setTimeout(r, o.settleMs));
  return Math.round((rssBytes(hub.pid) - o.idle) / size / 102.4) / 10;
}

export async function growthSection(
  s: Sizes['growth'],
  registered: { devices: readonly LoadDevice[]; dataDir: string },
  settleMs: number,
  hubs: HubPool,
  details: Record<string, string[]>,
): Promise<Row[]> {
  const fleet = registered.devices;
  const fleets = [...new Set(s.fleets.map((f) => Math.min(f, fleet.length)))];
  const smallest = `${n(fleets[0] ?? 0)} devices`;
  const hub = await hubs.start({}, registered.dataDir);
  const held: RawDevice[] = [];
  const rows: Row[] = [];
  const steps: string[] = [];
  const firstCpu = new Map<number, number | null>();
  let firstKb: number | null = null;
  let crashed: string | null = null;
  const o = { files: openFiles(hub.pid), idle: rssBytes(hub.pid), settleMs, steps };
  const staff = { username: 'admin', password: hub.admin.token as string };
  /** Run a step unless the hub has crashed; a failure caused by its crash ends the section's work. */
  const step = async <T>(work: () => Promise<T>): Promise<T | null> => {
    if (crashed) return null;
    try {
      const v = await work();
      crashed = hub.died();
      return crashed ? null : v;
    } catch (err) {
      // the process's exit is reported a moment after its sockets fail
      crashed = await waitFor(() => hub.died(), { timeoutMs: 3000, what: 'the hub exit' }).catch(() => null);
      if (!crashed) throw err;
      return null;
    }
  };
  try {
    for (const size of fleets) {
      const kb = await step(() => grow(hub, fleet, held, size, o));
      firstKb ??= kb;
      rows.push({
        section: 'growth',
        figure: `memory per connected device, ${n(size)} devices`,
        value: kb,
        unit: 'KB',
        baseline: { label: smallest, value: firstKb },
        ratio: ratio(kb, firstKb),
        goal: 'flat as the fleet grows',
        note: crashed
          ? `not measured: the hub ${crashed}`
          : `resident ${Math.round(rssBytes(hub.pid) / 2 ** 20)} MB in all`,
      });
      // unrecorded: the connects' after-work (presence, sessions) and the JIT settle first
      await step(() =>
        runLoad({
          url: hub.url,
          devices: fleet.slice(0, size),
          connected: held,
          rate: s.baseRate,
          seconds: Math.min(2, s.seconds / 2),
          qos: 1,
        }),
      );
      for (const m of s.multipliers) {
        const rate = s.baseRate * m;
        let us: number | null = null;
        let note = crashed ? `not measured: the hub ${crashed}` : '';
        const cpu0 = crashed ? 0 : cpuSeconds(hub.pid);
        const r = await step(() =>
          runLoad({
            url: hub.url,
            devices: fleet.slice(0, size),
            connected: held,
            rate,
            seconds: s.seconds,
            qos: 1,
            subscribe: { topic: 'gh/v1/hub/event/#', options: staff },
            drainMs: 5000,
          }),
        );
        if (r) {
          if (r.sent) us = Math.round(((cpuSeconds(hub.pid) - cpu0) / r.sent) * 1e6);
          note = `${r.acked} of ${r.sent} acknowledged, ${r.lossPct} % not republished, p99 ${r.p99Ms ?? '–'} ms`;
        } else if (!note) note = `the hub ${crashed}`;
        steps.push(`${n(size)} devices, ${rate}/s: ${note}; ${us ?? '–'} µs CPU per event`);
        if (!firstCpu.has(m)) firstCpu.set(m, us);
        const base = firstCpu.get(m) ?? null;
        rows.push({
          section: 'growth',
          figure: `CPU per event, ${n(size)} devices, ${m}× (${n(rate)} events/s, QoS 1)`,
          value: us,
          unit: 'µs',
          baseline: { label: smallest, value: base },
          ratio: ratio(us, base),
          goal: 'flat as the fleet grows',
          note,
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
