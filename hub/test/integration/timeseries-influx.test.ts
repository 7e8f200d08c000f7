/**
 * Proves the InfluxDB sink against a real VictoriaMetrics (InfluxDB v2 write API, read back through
 * its export API): 10,000 readings published over MQTT arrive with their tags and values, none missing,
 * none duplicated; with the server killed for 30 s while 5,000 more arrive, all of them arrive after it
 * returns; points still in the spool when the hub stops are delivered after it starts again.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, type Registered, registerDevice, topic } from '../helpers/devices.ts';
import { ADMIN_TOKEN, startTestHub, type TestHub, tempDir } from '../helpers/test-hub.ts';
import { VictoriaMetrics } from '../helpers/victoria-metrics.ts';
import { waitFor } from '../helpers/wait.ts';

const root = tempDir('gridhub-ts-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Publish `n` water-level readings per device, each with its own device timestamp. */
async function publishReadings(t: TestHub, devices: Registered[], n: number, base: number): Promise<void> {
  await Promise.all(
    devices.map(async (d, di) => {
      const c = await connectDevice(t, d);
      for (let i = 0; i < n; i++) {
        c.publish(
          topic(d.id, 'telemetry'),
          JSON.stringify({ ts: base + i, level: (i % 50) / 10, battery: 90 - di }),
        );
      }
      await c.endAsync();
    }),
  );
}

describe('time series into InfluxDB (VictoriaMetrics)', () => {
  const vm = new VictoriaMetrics(join(root, 'vm'));
  const dataDir = join(root, 'hub');
  let t: TestHub;
  let devices: Registered[];
  const overrides = () => ({
    'influx.url': vm.url,
    'influx.token': 'test-token',
    'influx.flushMs': 100,
    'influx.batchSize': 2000,
    'mqtt.ratePerSecond': 100_000,
    'mqtt.rateBurst': 100_000,
  });

  beforeAll(async () => {
    await vm.start();
    t = await startTestHub({ dataDir, overrides: overrides() });
    await loadExample(t.api);
    devices = [];
    for (let i = 0; i < 10; i++)
      devices.push(await registerDevice(t.api, 'generic-water-level', 'site-b4-basement'));
  });
  afterAll(async () => {
    await t.stop();
    await vm.stop();
  });

  const count = async () =>
    (await vm.export('{__name__="device_telemetry_level"}')).reduce((n, s) => n + s.values.length, 0);

  it('delivers 10,000 readings with their tags and values, none missing or duplicated', async () => {
    const base = Date.now() - 3600_000;
    await publishReadings(t, devices, 1000, base);
    await waitFor(async () => (await count()) >= 10_000, { timeoutMs: 30_000, what: '10,000 points' });
    const series = await vm.export('{__name__="device_telemetry_level"}');
    expect(series).toHaveLength(10);
    for (const s of series) {
      expect(s.metric).toMatchObject({
        type: 'water-level',
        model: 'generic-water-level',
        grid: 'mg-xinghua-1-b',
        site: 'site-b4-basement',
      });
      expect(s.values).toHaveLength(1000);
      expect(new Set(s.timestamps).size).toBe(1000);
      expect(s.timestamps[0]).toBe(base);
      expect(s.values.slice(0, 3)).toEqual([0, 0.1, 0.2]);
    }
    const battery = await vm.export('{__name__="device_telemetry_battery"}');
    expect(battery.map((s) => s.values[0]).sort()).toEqual([81, 82, 83, 84, 85, 86, 87, 88, 89, 90]);
  });

  it('keeps 5,000 readings through a 30 s outage and delivers them when the server returns', {
    timeout: 120_000,
  }, async () => {
    await vm.kill();
    const downSince = Date.now();
    const base = Date.now() - 1800_000;
    await publishReadings(t, devices, 500, base);
    const held = await waitFor(
      () => ((t.hub.influx?.spooled ?? 0) >= 5000 ? t.hub.influx?.spooled : undefined),
      { what: 'points spooled' },
    );
    expect(held).toBeGreaterThanOrEqual(5000);
    // The server stays down for 30 s while the readings wait in the spool.
    await waitFor(() => Date.now() >= downSince + 30_000, { timeoutMs: 35_000, what: '30 s outage' });
    await vm.restart();
    await waitFor(async () => (await count()) >= 15_000, { timeoutMs: 60_000, what: '15,000 points' });
    expect(await count()).toBe(15_000);
    const metrics = await (
      await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).text();
    expect(metrics).toMatch(/gridhub_series_points_total\{sink="influx",outcome="written"\} 1\d{4}/);
  });

  it('delivers what the spool held when the hub stopped, after it starts again', {
    timeout: 60_000,
  }, async () => {
    await vm.kill();
    const base = Date.now() - 900_000;
    await publishReadings(t, devices.slice(0, 2), 500, base);
    await waitFor(() => (t.hub.influx?.spooled ?? 0) >= 1000, { what: 'points spooled' });
    await t.stop();
    await vm.restart();
    t = await startTestHub({ dataDir, overrides: overrides() });
    await waitFor(async () => (await count()) >= 16_000, { timeoutMs: 30_000, what: 'spool replayed' });
    expect(await count()).toBe(16_000);
  });
});
