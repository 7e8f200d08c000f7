/**
 * Proves: the statistics and the grid summary, now summed in SQL a rowid range at a time, give
 * exactly what the former whole-table computations in memory gave (kept here as the oracles), on a
 * real SQLite store with enough rows for many ranges, nulls everywhere a column allows them, a
 * deadline per device and a visibility filter; the community file's schema check, now one entry
 * at a time, reports exactly what one whole-document validation reports, in the same order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AlertPlace, alertStats } from '../../src/alerts/alert-stats.ts';
import { covers, type Jurisdiction } from '../../src/auth/principal.ts';
import { schemaCheck } from '../../src/grid/community-check.ts';
import { CommunityFile } from '../../src/grid/community-schema.ts';
import { gridSummary } from '../../src/grid/grid-summary.ts';
import { schemaProblems } from '../../src/grid/schema-problems.ts';
import { createLogger } from '../../src/logger.ts';
import { maxRowid } from '../../src/store/pages.ts';
import { Store } from '../../src/store/store.ts';
import type { AlertRow, TicketRow } from '../../src/store/tables.ts';
import { FINISHED_STATES } from '../../src/tickets/lifecycle.ts';
import { TICKET_COUNTS, ticketStats } from '../../src/tickets/ticket-stats.ts';

/** A small seeded generator, so a failure is reproducible. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALERTS = 25_000;
const TICKETS = 25_000;
const DEVICES = 3_000;
const PATHS = [
  '/d/',
  '/d/s1/',
  '/d/s1/c1/',
  '/d/s1/c1/g1/',
  '/d/s1/c1/g2/',
  '/d/s2/',
  '/d/s2/c3/',
  '/d/s2/c3/g4/',
];
const idOf = (path: string) => path.split('/').filter(Boolean).pop() as string;
const SITES = ['site-a', 'site-b', 'site-c', 'site-d'];
const UNITS = ['eu-1', 'eu-2', 'eu-3'];
const SEVERITIES = ['critical', 'major', 'minor', 'warning', 'unlisted'];

let dir: string;
let store: Store;
const pick = <T>(r: () => number, list: readonly T[]): T => list[Math.floor(r() * list.length)] as T;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gridhub-large-reads-'));
  store = new Store(dir, createLogger('silent'));
  await store.start();
  const db = store.sqlite;
  const r = random(13);
  const at = Date.parse('2026-12-01T00:00:00Z');
  db.transaction(() => {
    for (const path of PATHS) {
      const parts = path.split('/').filter(Boolean);
      db.prepare(
        `INSERT INTO grid_nodes (id, parent_id, kind, name, path, created_at, updated_at) VALUES (?, ?, 'grid', ?, ?, ?, ?)`,
      ).run(idOf(path), parts.length > 1 ? parts[parts.length - 2] : null, idOf(path), path, at, at);
    }
    for (const [i, site] of SITES.entries())
      db.prepare(
        'INSERT INTO sites (id, grid_node_id, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
      ).run(site, idOf(PATHS[3 + i] as string), site, at, at);
    const device = db.prepare(
      `INSERT INTO devices (id, model_id, type, site_id, grid_node_id, status, secret_hash, secret_rotated_at,
         installed_by, installed_at, online, created_at, updated_at)
       VALUES (?, 'm', 'smoke-detector', ?, ?, ?, 'x', ?, 'i', ?, ?, ?, ?)`,
    );
    for (let i = 0; i < DEVICES; i++)
      device.run(
        `dev-${i}`,
        pick(r, SITES),
        idOf(pick(r, PATHS)),
        pick(r, ['active', 'active', 'provisioned', 'decommissioned']),
        at,
        at,
        r() < 0.3 ? 0 : 1,
        at,
        at,
      );
    const alert = db.prepare(
      `INSERT INTO alerts (id, incident_key, severity, cause, title, device_id, site_id, grid_node_id, grid_path,
         emergency_unit_id, state, chain, acked_at, created_at, updated_at)
       VALUES (?, ?, ?, 'c', 't', ?, ?, ?, ?, ?, 'resolved', '[]', ?, ?, ?)`,
    );
    for (let i = 0; i < ALERTS; i++) {
      const path = pick(r, PATHS);
      const created = 1_700_000_000_000 + Math.floor(r() * 1e9);
      alert.run(
        `a-${i}`,
        `k-${i}`,
        pick(r, SEVERITIES),
        r() < 0.1 ? null : `dev-${Math.floor(r() * 200)}`,
        r() < 0.2 ? null : pick(r, SITES),
        idOf(path),
        path,
        r() < 0.25 ? null : pick(r, UNITS),
        // Some acknowledged exactly at a deadline: within it.
        r() < 0.3
          ? null
          : created + (r() < 0.1 ? pick(r, [5, 30, 60, 300, 900]) * 1000 : Math.floor(r() * 2_000_000)),
        created,
        created,
      );
    }
    const ticket = db.prepare(
      `INSERT INTO tickets (id, category, source, severity, level, state, title, grid_node_id, site_id,
         created_at, updated_at, accepted_at, closed_at, due_at, satisfaction, rework_count)
       VALUES (?, 'c', 's', 'major', ?, ?, 't', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (let i = 0; i < TICKETS; i++) {
      const created = 1_700_000_000_000 + Math.floor(r() * 1e9);
      const closed = r() < 0.4 ? null : created + Math.floor(r() * 1e7);
      ticket.run(
        `t-${i}`,
        1 + Math.floor(r() * 5),
        pick(r, ['reported', 'accepted', 'closed', 'evaluated', 'rejected']),
        idOf(pick(r, PATHS)),
        r() < 0.3 ? null : pick(r, SITES),
        created,
        created,
        r() < 0.5 ? null : created + Math.floor(r() * 1e6),
        closed,
        // Some closed exactly at their deadline: on time.
        r() < 0.3 ? null : r() < 0.1 && closed ? closed : created + Math.floor(r() * 1e7),
        r() < 0.5 ? null : 1 + Math.floor(r() * 5),
        r() < 0.8 ? 0 : 1,
      );
    }
  })();
});

afterAll(async () => {
  await store.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('statistics summed in SQL by range', () => {
  it('alerts: the same groups, counts, means and shares within deadline, in the same order', async () => {
    const units = new Set(['eu-2']);
    const see = (row: AlertPlace) =>
      row.grid_path.startsWith('/d/s1/') || units.has(row.emergency_unit_id ?? '');
    // A deadline per severity, with one device and one site overriding it.
    const base: Record<string, number> = { critical: 60, major: 300, minor: 900, warning: 1800 };
    const deadline = (row: AlertPlace) => {
      const map =
        row.device_id === 'dev-7'
          ? { critical: 5 }
          : row.site_id === 'site-b'
            ? { major: 30, minor: 2.5 }
            : base;
      return (
        ((map as Record<string, number>)[row.severity] ?? (map as Record<string, number>).critical ?? 60) *
        1000
      );
    };
    const all = [60, 5, 30, 2.5, ...Object.values(base)].map((s) => s * 1000);

    // The former computation: every alert loaded, filtered, grouped and counted in memory.
    const rows = (await store.db.selectFrom('alerts').selectAll().execute()).filter(see);
    const groups = new Map<string, AlertRow[]>();
    for (const row of rows) {
      const k = `${row.emergency_unit_id ?? ''}\u0000${row.severity}`;
      groups.set(k, [...(groups.get(k) ?? []), row]);
    }
    const expected = [...groups.entries()].map(([k, list]) => {
      const [unit, severity] = k.split('\u0000') as [string, string];
      const acked = list.filter((row) => row.acked_at != null);
      const secs = acked.map((row) => ((row.acked_at as number) - row.created_at) / 1000);
      const within = acked.filter((row) => (row.acked_at as number) - row.created_at <= deadline(row));
      return {
        unitId: unit || null,
        severity,
        alerts: list.length,
        acknowledged: acked.length,
        meanSecondsToAck: secs.length
          ? Math.round((secs.reduce((a, b) => a + b, 0) / secs.length) * 100) / 100
          : null,
        ackedWithinDeadline: list.length ? Math.round((within.length / list.length) * 10_000) / 10_000 : null,
      };
    });
    expect(expected.length).toBeGreaterThan(10);
    expect(await alertStats(store.db, see, deadline, all)).toEqual(expected);
    // A deadline the caller did not list cannot be counted: refused, not miscounted.
    await expect(alertStats(store.db, see, deadline, [60_000])).rejects.toThrow(/not among/);
  });

  it('tickets: the same totals, per grid node and per level, for a jurisdiction and a time window', async () => {
    const from = 1_700_000_000_000 + 2e8;
    const query = () =>
      store.db
        .selectFrom('tickets')
        .innerJoin('grid_nodes', 'grid_nodes.id', 'tickets.grid_node_id')
        .where(sql<string>`substr(grid_nodes.path, 1, 4)`, '=', '/d/s')
        .where('tickets.created_at', '>=', from)
        .where('tickets.state', '!=', 'rejected');
    const rows = await query().selectAll('tickets').execute();
    // The former computation, as it was.
    const rates = (list: TicketRow[]) => {
      const closed = list.filter((t) => t.closed_at != null);
      const rated = list.filter((t) => t.satisfaction != null);
      const accepted = list.filter((t) => t.accepted_at != null);
      const ratio = (n: number, d: number) => (d === 0 ? null : Math.round((n / d) * 10_000) / 10_000);
      const mean = (xs: number[]) =>
        xs.length === 0 ? null : Math.round((xs.reduce((a, b) => a + b, 0) / xs.length / 60_000) * 100) / 100;
      return {
        tickets: list.length,
        closed: closed.length,
        closureRate: ratio(closed.length, list.length),
        onTimeRate: ratio(
          closed.filter((t) => t.due_at == null || (t.closed_at as number) <= t.due_at).length,
          closed.length,
        ),
        reworkRate: ratio(closed.filter((t) => t.rework_count > 0).length, closed.length),
        satisfactionRate: ratio(rated.filter((t) => (t.satisfaction as number) >= 4).length, rated.length),
        meanMinutesToAccept: mean(accepted.map((t) => (t.accepted_at as number) - t.created_at)),
        meanMinutesToClose: mean(closed.map((t) => (t.closed_at as number) - t.created_at)),
      };
    };
    const group = <K extends string | number>(key: (t: TicketRow) => K) => {
      const m = new Map<K, TicketRow[]>();
      for (const t of rows) m.set(key(t), [...(m.get(key(t)) ?? []), t]);
      return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    };
    const expected = {
      total: rates(rows),
      byGrid: group((t) => t.grid_node_id).map(([gridNodeId, list]) => ({ gridNodeId, ...rates(list) })),
      byLevel: group((t) => t.level).map(([level, list]) => ({ level, ...rates(list) })),
    };
    expect(expected.total.tickets).toBeGreaterThan(10_000);
    const got = await ticketStats(await maxRowid(store.db, 'tickets'), (lo, hi) =>
      query()
        .select(TICKET_COUNTS)
        .where(sql<number>`tickets.rowid`, '>=', lo)
        .where(sql<number>`tickets.rowid`, '<', hi)
        .groupBy(['tickets.grid_node_id', 'tickets.level'])
        .execute(),
    );
    expect(got).toEqual(expected);
  });
});

describe('grid summary added up the tree', () => {
  it('counts what matching every node against every count counted, for each jurisdiction', async () => {
    const nodes = PATHS.map((path) => ({ id: idOf(path), path }));
    const jurisdictions: Jurisdiction[] = [
      { kind: 'all' },
      { kind: 'grid', nodeId: 's1', path: '/d/s1/' },
      { kind: 'sites', siteIds: ['site-b', 'site-d'] },
    ];
    for (const j of jurisdictions) {
      // The former computation: one GROUP BY over each whole table, then a prefix match per node.
      const devices = (
        await store.db
          .selectFrom('devices')
          .innerJoin('grid_nodes', 'grid_nodes.id', 'devices.grid_node_id')
          .select((eb) => [
            'grid_nodes.path',
            'devices.site_id',
            eb.fn.countAll<number>().as('n'),
            eb.fn.sum<number>(eb('devices.online', '=', 0)).as('offline'),
          ])
          .where('devices.status', '!=', 'decommissioned')
          .groupBy(['grid_nodes.path', 'devices.site_id'])
          .execute()
      ).filter((d) => covers(j, { gridPath: d.path, siteId: d.site_id }));
      const open = (
        await store.db
          .selectFrom('tickets')
          .innerJoin('grid_nodes', 'grid_nodes.id', 'tickets.grid_node_id')
          .select((eb) => [
            'grid_nodes.path',
            'tickets.site_id',
            'tickets.level',
            eb.fn.countAll<number>().as('n'),
          ])
          .where('tickets.state', 'not in', [...FINISHED_STATES])
          .groupBy(['grid_nodes.path', 'tickets.site_id', 'tickets.level'])
          .execute()
      ).filter((t) => covers(j, { gridPath: t.path, siteId: t.site_id }));
      const sum = <T>(rows: T[], f: (r: T) => number) => rows.reduce((a, r) => a + Number(f(r)), 0);
      const expected = nodes.map((n) => {
        const under = devices.filter((d) => d.path.startsWith(n.path));
        const tickets = open.filter((t) => t.path.startsWith(n.path));
        return {
          id: n.id,
          devices: sum(under, (d) => d.n),
          offline: sum(under, (d) => d.offline ?? 0),
          openTickets: [1, 2, 3, 4].map((l) =>
            sum(
              tickets.filter((t) => t.level === l),
              (t) => t.n,
            ),
          ),
        };
      });
      expect(expected[0]?.devices, j.kind).toBeGreaterThan(0);
      expect(await gridSummary(store.db, j, nodes), j.kind).toEqual(expected);
    }
  });
});

describe('community file schema check, entry by entry', () => {
  const whole = new Ajv({ allErrors: true, strict: false }).compile(CommunityFile);
  const bad: unknown[] = [
    {
      gridNodes: [
        { id: 'bad id!', kind: 'planet', name: '' },
        { id: 'ok', kind: 'grid', name: 'x' },
      ],
    },
    {
      version: 2,
      extra: true,
      gridNodes: [{ id: 'g', kind: 'grid', name: 'g', duty: [{ role: 'boss', person: 'p' }], x: 1 }],
      people: [{ id: 'p', name: 'p', roles: ['nobody'], scope: { sites: ['a', 'a'] } }],
      sites: [{ id: 's', gridNode: 'g', name: 's', location: { lat: 91, lng: 0 } }, 'not an object'],
      emergencyUnits: [{ id: 'u', name: 'u', kind: 'school' }],
    },
    { gridNodes: 'not a list', departments: [{ id: 'd', district: 'x', kind: 'army', name: 'd' }] },
    [],
    'a string',
    null,
  ];
  it('lists the same problems as a whole-document validation, in the same order', async () => {
    for (const doc of bad) {
      const expected = whole(doc) ? [] : schemaProblems(whole.errors);
      expect(expected.length, JSON.stringify(doc)).toBeGreaterThan(0);
      expect((await schemaCheck(doc, async () => {})).problems, JSON.stringify(doc)).toEqual(expected);
    }
  });
  it('passes a valid file through (the positive control)', async () => {
    const doc = { version: 1, gridNodes: [{ id: 'd', kind: 'district', name: 'd' }], people: [] };
    expect(whole(doc)).toBe(true);
    expect(await schemaCheck(doc, async () => {})).toEqual({ doc, problems: [] });
  });
});
