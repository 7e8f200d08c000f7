/**
 * Proves the ticket side of the rules hub: with test-shortened level deadlines a ticket climbs one
 * level at a time with the new level's assignee and an audit entry, all the way to the district, and
 * stops there; a deadline that passes while the hub is down fires once at start; a policy changed
 * through the API (a site's water-level alarm threshold) changes the next event's outcome without a
 * restart and is audited; a grid-A worker cannot act on grid B's tickets (403) and an invalid
 * transition is a 409; the statistics endpoint matches a scripted history.
 */
import { describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, registerDevice, type TicketLite, tickets, topic } from '../helpers/devices.ts';
import { type ApiClient, startTestHub, tempDirs } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const newDir = tempDirs();

interface Detail {
  ticket: TicketLite;
  timeline: { action: string; level: number; data: { toLevel?: number; assignee?: string } | null }[];
}

async function leakTicket(t: { api: ApiClient }, hub: Parameters<typeof connectDevice>[0], site: string) {
  const d = await registerDevice(t.api, 'generic-water-leak', site);
  const c = await connectDevice(hub, d);
  await c.publishAsync(topic(d.id, 'event'), JSON.stringify({ eventId: 'leak-1', type: 'leak' }), { qos: 1 });
  await c.endAsync();
  return waitFor(async () => (await tickets(t.api, `device=${d.id}`))[0]);
}

describe('escalation through the four levels', () => {
  it('climbs level by level with new assignees and audit entries, and stops at the district', async () => {
    const t = await startTestHub({ dataDir: newDir(), overrides: { 'tickets.schedulerTickMs': 50 } });
    await loadExample(t.api);
    // 0.01 min = 0.6 s per level for leaks at this site.
    await t.api.put('/api/v1/policies/ticket.leak.levelMinutes', {
      scope: { kind: 'site', id: 'site-b4-basement' },
      value: 0.01,
    });
    const ticket = await leakTicket(t, t, 'site-b4-basement');
    expect(ticket).toMatchObject({ level: 1, assigneeId: 'p-grid-worker-1' });
    const top = await waitFor(
      async () => {
        const d = await t.api.get<Detail>(`/api/v1/tickets/${ticket.id}`);
        return d.body.timeline.some((e) => e.action === 'overdue') ? d.body : undefined;
      },
      { timeoutMs: 10_000 },
    );
    const climbs = top.timeline
      .filter((e) => e.action === 'escalate')
      .map((e) => [e.data?.toLevel, e.data?.assignee]);
    expect(climbs).toEqual([
      [2, 'p-grid-leader-1'],
      [3, 'p-street-duty'],
      [4, 'p-district-duty'], // leaks go to 住建 (housing), which has no contact person: the district duty takes it
    ]);
    expect(top.ticket).toMatchObject({ level: 4, departmentId: 'dept-housing', levelDueAt: null });
    const audit = await t.api.get<{ action: string }[]>(
      `/api/v1/audit?entityType=ticket&entityId=${ticket.id}&action=ticket.escalate`,
    );
    expect(audit.body).toHaveLength(3);
    await t.cleanup();
  });

  it('fires a deadline that passed while the hub was down once, at start', async () => {
    const dataDir = newDir();
    const overrides = { 'tickets.schedulerTickMs': 50 };
    const first = await startTestHub({ dataDir, overrides });
    await loadExample(first.api);
    await first.api.put('/api/v1/policies/ticket.leak.levelMinutes', {
      scope: { kind: 'site', id: 'site-b4' },
      value: 2 / 60,
    });
    const ticket = await leakTicket(first, first, 'site-b4');
    const dueAt = Date.parse(ticket.levelDueAt ?? '');
    expect(dueAt - Date.parse(ticket.createdAt)).toBe(2000);
    await first.stop();
    // Down for 5 s from the ticket's creation: past its 2 s deadline.
    await waitFor(() => Date.now() >= Date.parse(ticket.createdAt) + 5000, {
      timeoutMs: 7000,
      what: 'downtime',
    });
    const second = await startTestHub({ dataDir, overrides });
    // start() ran the scheduler once before returning
    const d = await second.api.get<Detail>(`/api/v1/tickets/${ticket.id}`);
    const escalations = d.body.timeline.filter((e) => e.action === 'escalate');
    expect(escalations).toHaveLength(1);
    expect(d.body.ticket.level).toBe(2);
    expect(Date.parse(d.body.ticket.levelDueAt ?? '')).toBeGreaterThan(Date.now());
    await second.stop();
  });
});

describe('elevator maintenance', () => {
  it('raises a ticket when no visit was recorded within the interval, and a recorded visit counts', async () => {
    const t = await startTestHub({
      dataDir: newDir(),
      overrides: { 'tickets.maintenanceCheckMinutes': 0.005 },
    });
    const people = await loadExample(t.api, ['p-property']);
    // 0.00001 days ≈ 0.9 s between required visits at this site.
    await t.api.put('/api/v1/policies/elevator.maintenance.intervalDays', {
      scope: { kind: 'site', id: 'site-b2' },
      value: 0.00001,
    });
    const el = await registerDevice(t.api, 'gbt24476-elevator', 'site-b2');
    const overdue = await waitFor(
      async () => (await tickets(t.api, `device=${el.id}&category=maintenance`))[0],
      { what: 'overdue ticket' },
    );
    expect(overdue).toMatchObject({ assigneeId: 'p-property', level: 1 });
    const visit = await people['p-property'].post(`/api/v1/elevators/${el.id}/maintenance-visits`, {
      notes: '半月保养',
    });
    expect(visit.status).toBe(204);
    const other = await registerDevice(t.api, 'gbt24476-elevator', 'site-b7');
    expect(
      (await people['p-property'].post(`/api/v1/elevators/${other.id}/maintenance-visits`, {})).status,
    ).toBe(403);
    await t.cleanup();
  });
});

describe('policies, roles and statistics', () => {
  it('applies a changed water-level threshold to the next reading, without a restart, and audits it', async () => {
    const t = await startTestHub({ dataDir: newDir() });
    await loadExample(t.api);
    await t.api.put('/api/v1/policies/water.level.dwellSeconds', {
      scope: { kind: 'site', id: 'site-b4-basement' },
      value: 0,
    });
    const sensor = await registerDevice(t.api, 'generic-water-level', 'site-b4-basement');
    const c = await connectDevice(t, sensor);
    await c.publishAsync(topic(sensor.id, 'telemetry'), JSON.stringify({ level: 18 }));
    const warning = await waitFor(async () => (await tickets(t.api, `device=${sensor.id}`))[0]);
    expect(warning).toMatchObject({ category: 'flood', severity: 'warning', level: 1 });

    const set = await t.api.put<{ source: { kind: string } }>('/api/v1/policies/water.level.alarmCm', {
      scope: { kind: 'site', id: 'site-b4-basement' },
      value: 15,
    });
    expect(set.status).toBe(200);
    const resolved = await t.api.get<{ value: number; source: { kind: string; id: string } }>(
      `/api/v1/policies/water.level.alarmCm/resolve?device=${sensor.id}`,
    );
    expect(resolved.body).toMatchObject({ value: 15, source: { kind: 'site', id: 'site-b4-basement' } });
    const elsewhere = await t.api.get<{ value: number }>(
      '/api/v1/policies/water.level.alarmCm/resolve?site=site-b7',
    );
    expect(elsewhere.body.value).toBe(25);

    await c.publishAsync(topic(sensor.id, 'telemetry'), JSON.stringify({ level: 18 }));
    const alarm = await waitFor(async () => {
      const x = (await tickets(t.api, `device=${sensor.id}`))[0];
      return x?.severity === 'critical' ? x : undefined;
    });
    expect(alarm).toMatchObject({ id: warning?.id, level: 2 });
    const audit = await t.api.get<{ actor: string; data: { to: number; scope: { id: string } } }[]>(
      '/api/v1/audit?entityType=policy&entityId=water.level.alarmCm',
    );
    expect(audit.body[0]).toMatchObject({
      actor: 'person:admin',
      data: { to: 15, scope: { id: 'site-b4-basement' } },
    });
    await c.endAsync();
    await t.cleanup();
  });

  it('refuses street duty a global policy and anyone without the role', async () => {
    const t = await startTestHub({ dataDir: newDir() });
    const c = await loadExample(t.api, ['p-street-duty', 'p-grid-worker-1']);
    const global = await c['p-street-duty'].put<{ error: { code: string } }>(
      '/api/v1/policies/smoke.confirm.count',
      { scope: { kind: 'global', id: '*' }, value: 3 },
    );
    expect(global.status).toBe(403);
    const own = await c['p-street-duty'].put('/api/v1/policies/smoke.confirm.count', {
      scope: { kind: 'grid', id: 'c-xinghua' },
      value: 3,
    });
    expect(own.status).toBe(200);
    const worker = await c['p-grid-worker-1'].put<{ error: { code: string } }>(
      '/api/v1/policies/smoke.confirm.count',
      { scope: { kind: 'grid', id: 'g-xinghua-1' }, value: 4 },
    );
    expect(worker.body.error.code).toBe('GH_ERR_FORBIDDEN_ROLE');
    const bad = await t.api.put<{ error: { code: string } }>('/api/v1/policies/smoke.confirm.count', {
      scope: { kind: 'global', id: '*' },
      value: 'many',
    });
    expect(bad.body.error.code).toBe('GH_ERR_VALIDATION');
    await t.cleanup();
  });

  it('keeps grid A’s worker out of grid B’s tickets and refuses invalid transitions', async () => {
    const t = await startTestHub({ dataDir: newDir() });
    const c = await loadExample(t.api, ['p-grid-worker-1', 'p-grid-worker-2']);
    const b = await c['p-grid-worker-2'].post<TicketLite>('/api/v1/tickets', {
      title: '7号楼楼道堆物',
      site: 'site-b7',
    });
    expect(b.status).toBe(201);
    expect(b.body).toMatchObject({ state: 'reported', level: 1, assigneeId: 'p-grid-worker-2' });
    const workerA = c['p-grid-worker-1'];
    const denied = await workerA.post<{ error: { code: string } }>(`/api/v1/tickets/${b.body.id}/accept`);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('GH_ERR_FORBIDDEN_SCOPE');
    expect((await workerA.get(`/api/v1/tickets/${b.body.id}`)).status).toBe(403);
    expect((await tickets(workerA)).map((x) => x.id)).not.toContain(b.body.id);
    expect((await workerA.post('/api/v1/tickets', { title: 'x', site: 'site-b7' })).status).toBe(403);

    const invalid = await c['p-grid-worker-2'].post<{ error: { code: string } }>(
      `/api/v1/tickets/${b.body.id}/close`,
    );
    expect(invalid.status).toBe(409);
    expect(invalid.body.error.code).toBe('GH_ERR_INVALID_TRANSITION');
    await t.cleanup();
  });

  it('computes closure, on-time, rework and satisfaction rates that match a scripted history', async () => {
    const t = await startTestHub({ dataDir: newDir() });
    await loadExample(t.api);
    const make = async (title: string, site: string) =>
      (await t.api.post<TicketLite>('/api/v1/tickets', { title, site })).body.id;
    const run = async (id: string, steps: (string | [string, object])[]) => {
      for (const s of steps) {
        const [action, body] = typeof s === 'string' ? [s, {}] : s;
        const res = await t.api.post(`/api/v1/tickets/${id}/${action}`, body);
        expect(res.status, `${action} on ${id}: ${JSON.stringify(res.body)}`).toBe(200);
      }
    };
    const done = ['accept', 'dispatch', 'sign', 'start', 'report-back', 'verify'];
    // grid 1: two closed (one reworked, rated 5 and 3), one open; grid 2: one closed rated 4, one rejected
    const a = await make('A', 'site-b1');
    await run(a, [...done, 'close', ['rate', { rating: 5 }]]);
    const b = await make('B', 'site-b2');
    await run(b, [...done, 'rework', 'report-back', 'verify', 'close', ['rate', { rating: 3 }]]);
    const c = await make('C', 'site-b3');
    await run(c, ['accept']);
    const d = await make('D', 'site-b7');
    await run(d, [...done, 'close', ['rate', { rating: 4 }]]);
    const e = await make('E', 'site-b7');
    await run(e, ['reject']);

    const stats = await t.api.get<{
      total: Record<string, number | null>;
      byGrid: ({ gridNodeId: string } & Record<string, number | null>)[];
      byLevel: ({ level: number } & Record<string, number | null>)[];
    }>('/api/v1/stats/tickets');
    expect(stats.status).toBe(200);
    expect(stats.body.total).toMatchObject({
      tickets: 4,
      closed: 3,
      closureRate: 0.75,
      onTimeRate: 1,
      reworkRate: 0.3333,
      satisfactionRate: 0.6667,
    });
    expect(stats.body.total.meanMinutesToAccept).toBeGreaterThanOrEqual(0);
    expect(stats.body.total.meanMinutesToClose).toBeGreaterThanOrEqual(0);
    const grid1 = stats.body.byGrid.find((g) => g.gridNodeId === 'mg-xinghua-1-a');
    expect(grid1).toMatchObject({
      tickets: 3,
      closed: 2,
      closureRate: 0.6667,
      reworkRate: 0.5,
      satisfactionRate: 0.5,
    });
    const grid2 = stats.body.byGrid.find((g) => g.gridNodeId === 'g-xinghua-2');
    expect(grid2).toMatchObject({
      tickets: 1,
      closed: 1,
      closureRate: 1,
      reworkRate: 0,
      satisfactionRate: 1,
    });
    expect(stats.body.byLevel).toEqual([expect.objectContaining({ level: 1, tickets: 4 })]);
    const detail = await t.api.get<{ timeline: { action: string }[] }>(`/api/v1/tickets/${b}`);
    expect(detail.body.timeline.map((x) => x.action)).toEqual([
      'report',
      'accept',
      'dispatch',
      'sign',
      'start',
      'report-back',
      'verify',
      'rework',
      'report-back',
      'verify',
      'close',
      'rate',
    ]);
    await t.cleanup();
  });
});
