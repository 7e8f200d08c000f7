/**
 * Proves the embedded time-series store (no InfluxDB configured): an elevator's trips and door cycles
 * published over MQTT are charted by /api/v1/series for the last hour; elevator health is ranked and a
 * property manager sees only the elevators of their sites; a day of 1 reading/s for 100 elevators stays
 * within the stated disk budget (250 MB) after downsampling.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/logger.ts';
import { LocalSeriesStore } from '../../src/timeseries/local-store.ts';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, ELEVATOR_IDLE, registerDevice, topic } from '../helpers/devices.ts';
import { elevatorDay } from '../helpers/elevator-day.ts';
import { storeCount } from '../helpers/store-sql.ts';
import { type ApiClient, startTestHub, type TestHub, tempDir } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const DISK_BUDGET_BYTES = 250 * 1024 * 1024;

describe('local time-series store', () => {
  let t: TestHub;
  let people: Record<'p-property', ApiClient>;
  beforeAll(async () => {
    t = await startTestHub({
      overrides: { 'series.flushMs': 50, 'mqtt.ratePerSecond': 10_000, 'mqtt.rateBurst': 10_000 },
    });
    people = await loadExample(t.api, ['p-property']);
  });
  afterAll(async () => t.cleanup());

  it('charts an elevator’s trips and door cycles for the last hour', async () => {
    const el = await registerDevice(t.api, 'gbt24476-elevator', 'site-b1');
    const c = await connectDevice(t, el);
    const start = Math.floor((Date.now() - 3600_000) / 10_000) * 10_000;
    let sent = 0;
    // The simulated day starts 12 h before the window, so the whole last hour lies inside it at any
    // time of day (a day starting at UTC midnight ended at midnight: too few readings after 00:00).
    for (const r of elevatorDay(7, start - 12 * 3600_000)) {
      if (r.at < start) continue;
      if (r.at > Date.now()) break;
      if ((r.at - start) % 10_000 !== 0) continue; // every 10 s: 360 readings
      c.publish(topic(el.id, 'telemetry'), JSON.stringify({ ...r.values, ts: r.at }));
      sent++;
    }
    await c.endAsync();
    expect(sent).toBeGreaterThan(300);
    const series = await waitFor(
      async () => {
        const res = await t.api.get<{ points: { value: number; n?: number }[] }>(
          `/api/v1/series?device=${el.id}&field=runCount&step=600`,
        );
        return res.body.points.reduce((n, p) => n + (p.n ?? 0), 0) === sent ? res.body : undefined;
      },
      { what: 'every reading aggregated' },
    );
    expect(series.points.length).toBeGreaterThanOrEqual(6);
    const values = series.points.map((p) => p.value);
    expect([...values].sort((a, b) => a - b)).toEqual(values); // a counter never goes down
    const doors = await t.api.get<{ points: { t: string; value: number }[] }>(
      `/api/v1/series?device=${el.id}&field=doorCycles&step=60`,
    );
    expect(doors.body.points.length).toBeGreaterThanOrEqual(50);
    const raw = await t.api.get<{ points: unknown[] }>(
      `/api/v1/series?device=${el.id}&field=floor&step=1&from=${new Date(start).toISOString()}`,
    );
    expect(raw.body.points.length).toBeGreaterThan(0);
    const health = await t.api.get<{ deviceId: string; trips: number; grade: string }[]>(
      `/api/v1/elevators/health?from=${new Date(start).toISOString()}`,
    );
    const mine = health.body.find((h) => h.deviceId === el.id);
    expect(mine?.trips).toBeGreaterThan(0);
    expect(mine?.grade).toMatch(/^H[1-4]$/);
    // Where the aggregates are: the hub's own file on SQLite; the main database on PostgreSQL,
    // with no series file on the node (issue 18).
    const onPg = t.hub.store.dialect === 'postgres';
    expect(t.hub.localSeries.kind).toBe(onPg ? 'postgres' : 'sqlite');
    expect(existsSync(join(t.dataDir, 'series.sqlite'))).toBe(!onPg);
    if (onPg) {
      const n = await storeCount(
        t.hub.store,
        'SELECT sum(n) AS n FROM series_m1 WHERE device = ? AND field = ?',
        el.id,
        'runCount',
      );
      expect(n).toBe(sent);
    }
  });

  it('computes health for a simulated elevator with scripted faults, over MQTT, as computed by hand', async () => {
    const el = await registerDevice(t.api, 'gbt24476-elevator', 'site-b4');
    const c = await connectDevice(t, el);
    const H = 3_600_000;
    const day = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 86_400_000; // yesterday, 00:00 UTC
    const state = ELEVATOR_IDLE;
    for (let m = 0; m < 1440; m += 30) {
      c.publish(
        topic(el.id, 'telemetry'),
        JSON.stringify({ ...state, runCount: 500 + m / 6, doorCycles: 1000 + m / 3, ts: day + m * 60_000 }),
      );
    }
    c.publish(
      topic(el.id, 'telemetry'),
      JSON.stringify({ ...state, runCount: 740, doorCycles: 1480, ts: day + 1439 * 60_000 }),
    );
    // 11 (trapped) 03:00–03:45, 09 (overran the top) 15:00–15:15, 02 (door) 18:00 without downtime
    const faults: [number, string, string][] = [
      [3 * H, 'fault', '11'],
      [3.75 * H, 'fault.clear', '11'],
      [15 * H, 'fault', '09'],
      [15.25 * H, 'fault.clear', '09'],
      [18 * H, 'fault', '02'],
    ];
    for (const [i, [at, type, code]] of faults.entries()) {
      await c.publishAsync(
        topic(el.id, 'event'),
        JSON.stringify({ eventId: `h-${i}`, type, code, ts: day + at }),
        { qos: 1 },
      );
    }
    await c.endAsync();
    const q = `from=${new Date(day).toISOString()}&to=${new Date(day + 24 * H).toISOString()}`;
    const health = await waitFor(
      async () => {
        const list = (
          await t.api.get<{ deviceId: string; faults: number; trips: number }[]>(
            `/api/v1/elevators/health?${q}`,
          )
        ).body;
        const h = list.find((x) => x.deviceId === el.id);
        return h && h.faults === 3 && h.trips === 240 ? h : undefined;
      },
      { what: 'health of the simulated elevator' },
    );
    expect(health).toMatchObject({
      trips: 240,
      doorCycles: 480,
      faults: 3,
      faultsByCode: { '11': 1, '09': 1, '02': 1 },
      downtimeMinutes: 60, // 45 + 15
      availability: 0.9583, // 1 − 60 / 1440
      mtbfHours: 7.67, // (1440 − 60) min / 3 = 460 min
      mttrMinutes: 30, // 60 min / 2 repaired
      components: { availability: 95.8, faults: 69, leveling: 100 }, // faults: 100 − 15 − 15 − 1
      weighted: 88.6, // 0.5 × 95.8 + 0.3 × 69 + 0.2 × 100 = 47.9 + 20.7 + 20
      score: 69, // floored at the worst component
      grade: 'H3',
    });
  });

  it('shows a property manager only the elevators of their sites', async () => {
    const own = await registerDevice(t.api, 'gbt24476-elevator', 'site-b2');
    const other = await registerDevice(t.api, 'gbt24476-elevator', 'site-b7');
    const list = await people['p-property'].get<{ deviceId: string }[]>('/api/v1/elevators/health');
    const ids = list.body.map((h) => h.deviceId);
    expect(ids).toContain(own.id);
    expect(ids).not.toContain(other.id);
    expect((await people['p-property'].get(`/api/v1/elevators/${other.id}/health`)).status).toBe(403);
    expect((await people['p-property'].get(`/api/v1/series?device=${other.id}&field=runCount`)).status).toBe(
      403,
    );
    expect(
      (await people['p-property'].get<unknown[]>(`/api/v1/elevators/${own.id}/health?days=3`)).body,
    ).toHaveLength(3);
  });
});

describe('the hub’s own measures', () => {
  it('records open tickets per level and active alerts per grid node', async () => {
    const t = await startTestHub();
    await loadExample(t.api);
    const button = await registerDevice(t.api, 'generic-panic-button', 'site-school-gate');
    const c = await connectDevice(t, button);
    await c.publishAsync(topic(button.id, 'event'), JSON.stringify({ eventId: 'p-1', type: 'press' }), {
      qos: 1,
    });
    await c.endAsync();
    await waitFor(async () => (await t.api.get<{ total: number }>('/api/v1/alerts')).body.total === 1, {
      what: 'alert raised',
    });
    const at = Date.now();
    await t.hub.series.sampleStats(at);
    const tickets = await t.hub.localSeries.query(
      'hub:x-school-1',
      'openTicketsL3',
      at - 1000,
      at + 1000,
      1000,
      at,
    );
    const alerts = await t.hub.localSeries.query(
      'hub:x-school-1',
      'activeAlerts_critical',
      at - 1000,
      at + 1000,
      1000,
      at,
    );
    expect(tickets.map((p) => p.value)).toEqual([1]);
    expect(alerts.map((p) => p.value)).toEqual([1]);
    await t.cleanup();
  });
});

describe('local store disk budget', () => {
  const dir = tempDir('gridhub-budget-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps a day of 1 reading/s for 100 elevators within 250 MB', { timeout: 240_000 }, async () => {
    const store = LocalSeriesStore.in(dir, loadConfig({ env: {} }).series, createLogger('silent'));
    await store.open();
    const dayStart = Date.UTC(2026, 10, 22);
    const days = Array.from({ length: 100 }, (_, i) => elevatorDay(i + 1, dayStart));
    let readings = 0;
    for (let sec = 0; sec < 86_400; sec++) {
      for (let i = 0; i < 100; i++) {
        const r = days[i]?.next().value;
        if (r) {
          store.add(`el-${i}`, r.at, r.values);
          readings++;
        }
      }
      if (sec % 600 === 599) await store.flush();
    }
    await store.flush();
    expect(readings).toBe(8_640_000);
    const bytes = await store.fileBytes();
    expect(bytes).toBeLessThan(DISK_BUDGET_BYTES);
    // Aggregates hold every reading of the day.
    const perHour = await store.query(
      'el-0',
      'floor',
      dayStart,
      dayStart + 86_400_000,
      3_600_000,
      dayStart + 86_400_000,
    );
    expect(perHour.reduce((n, p) => n + (p.n ?? 0), 0)).toBe(86_400);
    expect(join(dir, 'series.sqlite')).toBeTruthy();
  });
});
