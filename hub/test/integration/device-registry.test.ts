/**
 * Proves the installer's device registry over real HTTP and a real SQLite file: registration returns
 * an id and a one-time secret that is stored nowhere in clear under data/; the device shows in its
 * grid's list; rotate, maintenance and decommission follow the lifecycle and are audited; CSV import
 * dry-runs list every bad row and write nothing, and a 1,000-row import lands in one transaction.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceView } from '../../src/devices/device-schemas.ts';
import { loadExample } from '../helpers/community.ts';
import { storeCount, storeRows } from '../helpers/store-sql.ts';
import type { ApiClient } from '../helpers/test-hub.ts';
import { startTestHub, type TestHub } from '../helpers/test-hub.ts';

interface WithSecret {
  device: DeviceView;
  secret: string;
}
interface CsvResult {
  dryRun: boolean;
  rows: number;
  problems: { line: number; column: string; reason: string }[];
  registered: { line: number; id: string; secret: string }[];
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)],
  );
}

describe('device registry', () => {
  let t: TestHub;
  let installer: ApiClient;
  beforeAll(async () => {
    t = await startTestHub();
    ({ 'p-installer': installer } = await loadExample(t.api, ['p-installer']));
  });
  afterAll(async () => t.cleanup());

  it('registers a smoke detector with a one-time secret that is never stored in clear', async () => {
    const res = await installer.post<WithSecret>('/api/v1/devices', {
      model: 'generic-nb-smoke',
      site: 'site-b1',
      name: '1号楼301烟感',
      serial: '860000000009301',
    });
    expect(res.status).toBe(201);
    const { device, secret } = res.body;
    expect(device.id).toMatch(/^sd-/);
    expect(device).toMatchObject({
      type: 'smoke-detector',
      gridNodeId: 'mg-xinghua-1-a',
      emergencyUnitId: 'eu-block-1',
      status: 'provisioned',
      installedBy: 'p-installer',
    });
    expect(secret.length).toBeGreaterThanOrEqual(40);

    const list = await installer.get<{ items: DeviceView[] }>('/api/v1/devices?grid=g-xinghua-1');
    expect(list.body.items.map((d) => d.id)).toContain(device.id);
    const one = await installer.get<Record<string, unknown>>(`/api/v1/devices/${device.id}`);
    expect(JSON.stringify(one.body)).not.toContain(secret);

    if (t.hub.store.dialect === 'postgres') {
      // The store is a PostgreSQL database: search every row of every table as text.
      const tables = await storeRows<{ t: string }>(
        t.hub.store,
        "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
      );
      expect(tables.length).toBeGreaterThan(20);
      for (const { t: table } of tables) {
        const n = await storeCount(
          t.hub.store,
          `SELECT count(*) AS n FROM ${table} x WHERE x::text LIKE ?`,
          `%${secret}%`,
        );
        expect(n, `${table} holds the secret`).toBe(0);
      }
    } else {
      // Force the WAL into the main file too, then search every byte under data/.
      t.hub.store.sqlite.pragma('wal_checkpoint(FULL)');
    }
    for (const file of filesUnder(t.dataDir)) {
      expect(readFileSync(file).includes(Buffer.from(secret)), `${file} holds the secret`).toBe(false);
    }
  });

  it('rotates, puts into maintenance and decommissions, refusing moves the lifecycle forbids', async () => {
    const { body } = await installer.post<WithSecret>('/api/v1/devices', {
      model: 'generic-water-leak',
      site: 'site-b4-basement',
    });
    const id = body.device.id;
    const rotated = await installer.post<WithSecret>(`/api/v1/devices/${id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(body.secret);
    expect(
      (await installer.post<DeviceView>(`/api/v1/devices/${id}/maintenance`, { reason: '更换电池' })).body
        .status,
    ).toBe('maintenance');
    expect((await installer.post<DeviceView>(`/api/v1/devices/${id}/resume`)).body.status).toBe('active');
    const moved = await installer.post<DeviceView>(`/api/v1/devices/${id}/move`, { site: 'site-b7' });
    expect(moved.body).toMatchObject({ siteId: 'site-b7', gridNodeId: 'g-xinghua-2', emergencyUnitId: null });
    expect((await installer.post<DeviceView>(`/api/v1/devices/${id}/decommission`)).body.status).toBe(
      'decommissioned',
    );
    const again = await installer.post<{ error: { code: string } }>(`/api/v1/devices/${id}/resume`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('GH_ERR_INVALID_TRANSITION');
    const audit = await t.api.get<{ action: string }[]>(`/api/v1/audit?entityType=device&entityId=${id}`);
    expect(audit.body.map((a) => a.action).reverse()).toEqual([
      'device.register',
      'device.rotate-secret',
      'device.maintenance',
      'device.resume',
      'device.move',
      'device.decommissioned',
    ]);
  });

  it('refuses registrations with clear codes', async () => {
    const unknownModel = await installer.post<{ error: { code: string } }>('/api/v1/devices', {
      model: 'nope',
      site: 'site-b1',
    });
    expect(unknownModel.status).toBe(404);
    expect(unknownModel.body.error.code).toBe('GH_ERR_MODEL_UNKNOWN');
    const badBody = await installer.post<{ error: { code: string } }>('/api/v1/devices', {
      site: 'site-b1',
      colour: 'red',
    });
    expect(badBody.status).toBe(400);
    expect(badBody.body.error.code).toBe('GH_ERR_VALIDATION');
    const noToken = await installer.as('').get<{ error: { code: string } }>('/api/v1/devices');
    expect(noToken.status).toBe(401);
    const wrongGrid = await installer.post<{ error: { code: string } }>('/api/v1/devices', {
      model: 'generic-nb-smoke',
      site: 'site-b1',
      gridNode: 'g-xinghua-2',
    });
    expect(wrongGrid.status).toBe(400);
  });

  it('lists the models installers pick from', async () => {
    const res =
      await installer.get<{ id: string; type: string; offlineAfterSeconds: number }[]>(
        '/api/v1/device-models',
      );
    const types = new Set(res.body.map((m) => m.type));
    for (const type of ['panic-button', 'smoke-detector', 'water-leak', 'water-level', 'elevator-monitor']) {
      expect(types.has(type)).toBe(true);
    }
    expect(res.body.find((m) => m.id === 'generic-nb-smoke')?.offlineAfterSeconds).toBe(25 * 3600);
  });

  it('dry-runs a CSV with three bad rows: lists exactly those rows, writes nothing', async () => {
    const before = await t.api.get<{ total: number }>('/api/v1/devices?limit=1');
    const csv = [
      'id,model,site,name',
      'csv-ok-1,generic-nb-smoke,site-b2,ok one',
      'csv-bad-model,no-such-model,site-b2,bad model',
      'csv-ok-2,generic-water-leak,site-b4-basement,ok two',
      'csv-bad-site,generic-nb-smoke,site-nowhere,bad site',
      'csv-ok-1,generic-nb-smoke,site-b3,duplicate id',
      '',
    ].join('\n');
    const res = await installer.post<CsvResult>('/api/v1/devices/import?dryRun=true', csv, 'text/csv');
    expect(res.status).toBe(200);
    expect(res.body.rows).toBe(5);
    expect(res.body.problems).toEqual([
      { line: 3, column: 'model', reason: "unknown model 'no-such-model'" },
      { line: 5, column: 'site', reason: "unknown site 'site-nowhere'" },
      { line: 6, column: 'id', reason: "id 'csv-ok-1' appears twice" },
    ]);
    const real = await installer.post<{ error: { code: string; details: { problems: unknown[] } } }>(
      '/api/v1/devices/import',
      csv,
      'text/csv',
    );
    expect(real.status).toBe(422);
    expect(real.body.error.details.problems).toHaveLength(3);
    const after = await t.api.get<{ total: number }>('/api/v1/devices?limit=1');
    expect(after.body.total).toBe(before.body.total);
  });

  it('imports a good 1,000-row file, registering all 1,000', async () => {
    const before = await t.api.get<{ total: number }>('/api/v1/devices?limit=1');
    const sites = [
      'site-b1',
      'site-b2',
      'site-b3',
      'site-b4',
      'site-b4-basement',
      'site-b7',
      'site-school-main',
    ];
    const rows = Array.from({ length: 1000 }, (_, i) => {
      const model = ['generic-nb-smoke', 'generic-water-leak', 'generic-panic-button', 'gbt24476-elevator'][
        i % 4
      ];
      return `bulk-${String(i).padStart(4, '0')},${model},${sites[i % sites.length]},批量${i},SN${i}`;
    });
    const csv = ['id,model,site,name,serial', ...rows].join('\r\n');
    const dry = await installer.post<CsvResult>('/api/v1/devices/import?dryRun=true', csv, 'text/csv');
    expect(dry.body.problems).toEqual([]);
    expect((await t.api.get<{ total: number }>('/api/v1/devices?limit=1')).body.total).toBe(
      before.body.total,
    );

    const res = await installer.post<CsvResult>('/api/v1/devices/import', csv, 'text/csv');
    expect(res.status).toBe(200);
    expect(res.body.registered).toHaveLength(1000);
    expect(new Set(res.body.registered.map((r) => r.secret)).size).toBe(1000);
    const after = await t.api.get<{ total: number }>('/api/v1/devices?limit=1');
    expect(after.body.total).toBe(before.body.total + 1000);
    const elevators = await t.api.get<{ total: number }>('/api/v1/devices?type=elevator-monitor&limit=1');
    expect(elevators.body.total).toBeGreaterThanOrEqual(250);
  });
});
