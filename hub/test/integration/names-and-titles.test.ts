/**
 * Proves what the console needs to show names and titles rather than ids and codes, over the real
 * HTTP API and MQTT: ticket, alert, delivery and device views carry the names of the people, sites,
 * devices, grid nodes, departments and units next to their ids (lists, details, the live alert
 * stream); rule titles are a code with parameters plus the Chinese text, and name the device, never
 * its id; a confirmed fire retitles its ticket and alert 确认火警 (a single detector stays 烟感报警);
 * a fast-rising flood is titled without English, and a warning that becomes an alarm takes the
 * alarm's title on its ticket and alert; a panic ticket escalated to level 4 is taken by
 * the example community's public-security department; and a signed-out visitor asking for the
 * session gets 204, not an error (a session still gets 200, a bad token still 401).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, type Registered, registerDevice, tickets, topic } from '../helpers/devices.ts';
import { startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

interface Named {
  id: string;
  title: string;
  titleCode: string | null;
  titleParams: Record<string, string | number>;
  [k: string]: unknown;
}

let t: TestHub;
let seq = 0;

async function send(d: Registered, kind: 'event' | 'telemetry', payload: object): Promise<void> {
  const c = await connectDevice(t, d);
  await c.publishAsync(topic(d.id, kind), JSON.stringify(payload), { qos: 1 });
  await c.endAsync();
}

const ticketsOf = async (deviceId: string) =>
  (await t.api.get<{ items: Named[] }>(`/api/v1/tickets?device=${deviceId}`)).body.items;
const alertsOf = async (deviceId: string) =>
  (await t.api.get<{ items: Named[] }>('/api/v1/alerts?limit=500')).body.items.filter(
    (a) => a.deviceId === deviceId,
  );

beforeAll(async () => {
  t = await startTestHub();
  await loadExample(t.api);
});
afterAll(async () => t?.cleanup());

describe('names next to ids', () => {
  it('a panic press: ticket, alert, delivery log and the live stream name the people, place and device', async () => {
    const button = await registerDevice(t.api, 'generic-panic-button', 'site-school-gate', {
      name: '门卫室一键报警',
    });
    // The console's live stream, opened before the press.
    const stream = await fetch(`${t.url}/api/v1/alerts/stream`, {
      headers: { authorization: `Bearer ${t.api.token}` },
    });
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    await send(button, 'event', { eventId: `p-${++seq}`, type: 'press', kind: 'long' });

    const [ticket] = await waitFor(async () => {
      const list = await ticketsOf(button.id);
      return list.length ? list : undefined;
    });
    expect(ticket).toMatchObject({
      title: '一键报警：东园第一小学 门卫室（长按）',
      titleCode: 'panic.press',
      titleParams: { site: '东园第一小学 门卫室', device: '门卫室一键报警', kind: 'long' },
      siteId: 'site-school-gate',
      siteName: '东园第一小学 门卫室',
      deviceName: '门卫室一键报警',
      gridNodeName: '东园第一小学专属网格',
      emergencyUnitName: '东园第一小学最小应急单元',
      assigneeId: 'p-street-duty',
      assigneeName: '东园街道值班室',
      departmentName: null,
    });

    const [alert] = await waitFor(async () => {
      const list = await alertsOf(button.id);
      return list.length ? list : undefined;
    });
    expect(alert).toMatchObject({
      title: ticket?.title,
      titleCode: 'panic.press',
      deviceName: '门卫室一键报警',
      siteName: '东园第一小学 门卫室',
      emergencyUnitName: '东园第一小学最小应急单元',
    });
    expect(alert?.chain).toEqual([
      'p-school-principal',
      'p-school-safety',
      'p-school-teacher',
      'p-street-duty',
    ]);
    expect(alert?.chainNames).toEqual(['吴校长', '郑保卫', '冯老师', '东园街道值班室']);

    const detail = await t.api.get<{ deliveries: { recipient: string; recipientName: string | null }[] }>(
      `/api/v1/alerts/${alert?.id}`,
    );
    expect(detail.body.deliveries.length).toBeGreaterThan(0);
    for (const d of detail.body.deliveries)
      expect(d.recipientName, d.recipient).toBe(
        {
          'p-school-principal': '吴校长',
          'p-school-safety': '郑保卫',
          'p-school-teacher': '冯老师',
          'p-street-duty': '东园街道值班室',
        }[d.recipient],
      );

    // The stream's event for this alert carries the same names.
    let text = '';
    const decoder = new TextDecoder();
    while (!text.includes(alert?.id as string)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    await reader.cancel();
    const event = text
      .split('\n\n')
      .map((block) => /^data: (.*)$/m.exec(block)?.[1])
      .filter((d): d is string => d !== undefined)
      .map((d) => JSON.parse(d) as { alert: Named })
      .find((e) => e.alert.id === alert?.id);
    expect(event?.alert).toMatchObject({
      deviceName: '门卫室一键报警',
      siteName: '东园第一小学 门卫室',
      chainNames: ['吴校长', '郑保卫', '冯老师', '东园街道值班室'],
      titleCode: 'panic.press',
    });

    // The principal acknowledges: the alert names who did.
    const tokens = await t.api.post<{ token: string }>('/api/v1/people/p-school-principal/tokens', {
      label: 'names test',
    });
    const acked = await t.api.as(tokens.body.token).post<Named>(`/api/v1/alerts/${alert?.id}/ack`);
    expect(acked.body).toMatchObject({ ackedBy: 'person:p-school-principal', ackedByName: '吴校长' });
  });

  it('a device list and a device name the model, site, grid node and emergency unit', async () => {
    const d = await registerDevice(t.api, 'generic-nb-smoke', 'site-b3', { name: '3号楼101烟感' });
    const list = await t.api.get<{ items: Named[] }>('/api/v1/devices?site=site-b3');
    const one = await t.api.get<Named>(`/api/v1/devices/${d.id}`);
    for (const view of [list.body.items.find((x) => x.id === d.id), one.body])
      expect(view).toMatchObject({
        name: '3号楼101烟感',
        modelName: { zh: '通用NB-IoT独立式感烟火灾探测报警器', en: 'Generic NB-IoT smoke detector' },
        siteName: '杏花社区3号楼',
        gridNodeName: '1-3号楼微网格',
        emergencyUnitName: '杏花社区1-3号楼最小应急单元',
      });
  });
});

describe('titles', () => {
  it('an elevator fault is titled with the elevator’s name and the code’s name, not the device id', async () => {
    const el = await registerDevice(t.api, 'gbt24476-elevator', 'site-b1', { name: '1号楼1号梯' });
    await send(el, 'event', { eventId: `f-${++seq}`, type: 'fault', code: '09', floor: 3 });
    const [ticket] = await waitFor(async () => {
      const list = await ticketsOf(el.id);
      return list.length ? list : undefined;
    });
    expect(ticket).toMatchObject({
      title: '电梯故障：杏花社区1号楼 1号楼1号梯（09 冲顶，3层）',
      titleCode: 'elevator.fault',
      titleParams: { code: '09', floor: 3, device: '1号楼1号梯' },
      deviceName: '1号楼1号梯',
    });
    expect(ticket?.title).not.toContain(el.id);
    const [alert] = await waitFor(async () => {
      const list = await alertsOf(el.id);
      return list.length ? list : undefined;
    });
    expect(alert).toMatchObject({
      cause: 'elevator-fault-09',
      titleCode: 'elevator.fault',
      title: ticket?.title,
    });
  });

  it('a confirmed fire is titled 确认火警 on its ticket and alert; a lone detector stays 烟感报警', async () => {
    const lone = await registerDevice(t.api, 'generic-nb-smoke', 'site-b4');
    await send(lone, 'event', { eventId: `s-${++seq}`, type: 'smoke.alarm' });
    const a = await registerDevice(t.api, 'generic-nb-smoke', 'site-b2', { name: '2号楼101烟感' });
    const b = await registerDevice(t.api, 'generic-nb-smoke', 'site-b2', { name: '2号楼601烟感' });
    await send(a, 'event', { eventId: `s-${++seq}`, type: 'smoke.alarm' });
    await send(b, 'event', { eventId: `s-${++seq}`, type: 'smoke.alarm' });
    const fire = await waitFor(async () => {
      const list = (await tickets(t.api, 'category=fire')).filter((x) => x.siteId === 'site-b2');
      return list[0]?.level === 4 ? (list[0] as unknown as Named) : undefined;
    });
    expect(fire).toMatchObject({
      title: '确认火警：杏花社区2号楼（2 个烟感报警）',
      titleCode: 'fire.confirmed',
      titleParams: { site: '杏花社区2号楼', detectors: 2 },
      departmentName: '清河区消防救援支队',
      assigneeName: '消防联络员',
    });
    const alert = await waitFor(async () => {
      const list = await alertsOf(a.id);
      return list.find((x) => x.titleCode === 'fire.confirmed');
    });
    expect(alert).toMatchObject({ cause: 'fire-confirmed', title: fire.title, severity: 'critical' });
    // The ticket's links name the detectors.
    const detail = await t.api.get<{ links: { kind: string; ref: string; name: string | null }[] }>(
      `/api/v1/tickets/${fire.id}`,
    );
    expect(
      detail.body.links
        .filter((l) => l.kind === 'device')
        .map((l) => l.name)
        .sort(),
    ).toEqual(['2号楼101烟感', '2号楼601烟感']);

    const [single] = await waitFor(async () => {
      const list = await ticketsOf(lone.id);
      return list.length ? list : undefined;
    });
    expect(single).toMatchObject({ title: '烟感报警：杏花社区4号楼', titleCode: 'fire.smoke', level: 2 });
  });

  it('a fast-rising flood is titled in Chinese with the rate, rounded; no English in the text', async () => {
    const gauge = await registerDevice(t.api, 'generic-water-level', 'site-b4-basement', {
      name: '车库水位计',
    });
    const now = Date.now();
    await send(gauge, 'telemetry', { ts: now - 600_000, level: 5 });
    await send(gauge, 'telemetry', { ts: now, level: 12 });
    const [flood] = await waitFor(async () => {
      const list = await ticketsOf(gauge.id);
      return list.length ? list : undefined;
    });
    expect(flood).toMatchObject({
      title: '水位告警：杏花社区4号楼地下车库 12 cm（每小时上涨 42 cm）',
      titleCode: 'flood.rising',
      titleParams: { level: 12, rate: 42 },
      severity: 'critical',
    });
    expect(flood?.title.replace(/cm/g, '')).not.toMatch(/[A-Za-z]/);
  });

  it('a flood warning that turns into an alarm takes the alarm’s title (水位预警 → 水位告警)', async () => {
    const gauge = await registerDevice(t.api, 'generic-water-level', 'site-b4-basement');
    const dwell = await t.api.put('/api/v1/policies/water.level.dwellSeconds', {
      scope: { kind: 'device', id: gauge.id },
      value: 0,
    });
    expect(dwell.status).toBe(200);
    const now = Date.now();
    await send(gauge, 'telemetry', { ts: now - 7200_000, level: 12 });
    const [warning] = await waitFor(async () => {
      const list = await ticketsOf(gauge.id);
      return list.length ? list : undefined;
    });
    expect(warning).toMatchObject({ titleCode: 'flood.warning', severity: 'warning' });
    expect(warning?.title).toBe('水位预警：杏花社区4号楼地下车库 12 cm（≥ 10 cm）');
    await send(gauge, 'telemetry', { ts: now, level: 30 });
    const alarm = await waitFor(async () => {
      const [x] = await ticketsOf(gauge.id);
      return x?.severity === 'critical' ? x : undefined;
    });
    expect(alarm).toMatchObject({
      id: warning?.id,
      titleCode: 'flood.alarm',
      title: '水位告警：杏花社区4号楼地下车库 30 cm（≥ 25 cm）',
    });
    const [alert] = await waitFor(async () => {
      const list = await alertsOf(gauge.id);
      return list.length ? list : undefined;
    });
    expect(alert).toMatchObject({ titleCode: 'flood.alarm', title: alarm.title });
  });
});

describe('routing to public security', () => {
  it('a panic ticket escalated to level 4 is assigned to the public-security department (公安)', async () => {
    const button = await registerDevice(t.api, 'generic-panic-button', 'site-clinic');
    await send(button, 'event', { eventId: `p-${++seq}`, type: 'press' });
    const [ticket] = await waitFor(async () => {
      const list = await ticketsOf(button.id);
      return list.length ? list : undefined;
    });
    expect(ticket).toMatchObject({ category: 'panic', level: 3, departmentId: null });
    const up = await t.api.post<Named>(`/api/v1/tickets/${ticket?.id}/escalate`, { note: '需要公安到场' });
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({
      level: 4,
      departmentId: 'dept-police',
      departmentName: '清河公安分局',
      assigneeId: 'p-police-duty',
      assigneeName: '公安分局指挥中心值班员',
    });
    // A fire ticket at level 4 still goes to the fire department: the department follows the category.
    const fires = (await tickets(t.api, 'category=fire')).filter((x) => x.level === 4);
    expect(fires.length).toBeGreaterThan(0);
    for (const f of fires) expect(f.departmentId).toBe('dept-fire');
    const detail = await t.api.get<{
      timeline: { action: string; actor: string; actorName: string | null }[];
    }>(`/api/v1/tickets/${ticket?.id}`);
    expect(detail.body.timeline.find((e) => e.action === 'escalate')).toMatchObject({
      actor: 'person:admin',
      actorName: 'Administrator',
    });
    expect(detail.body.timeline.find((e) => e.action === 'dispatch')).toMatchObject({
      actor: 'system',
      actorName: null,
    });
  });
});

describe('the session before sign-in', () => {
  it('answers a signed-out visitor 204 (no error for the browser to log); a session 200, a bad token 401', async () => {
    const anonymous = await fetch(`${t.url}/api/v1/auth/session`);
    expect(anonymous.status).toBe(204);
    expect(await anonymous.text()).toBe('');
    const stale = await fetch(`${t.url}/api/v1/auth/session`, { headers: { cookie: 'gh_session=ended' } });
    expect(stale.status).toBe(204);
    expect(stale.headers.get('set-cookie')).toMatch(/gh_session=;/);
    // Other routes still refuse a visitor.
    expect((await fetch(`${t.url}/api/v1/me`)).status).toBe(401);
    expect((await fetch(`${t.url}/api/v1/tickets`, { headers: { cookie: 'gh_session=ended' } })).status).toBe(
      401,
    );
    const bad = await fetch(`${t.url}/api/v1/auth/session`, {
      headers: { authorization: 'Bearer ghk_nope' },
    });
    expect(bad.status).toBe(401);

    await t.api.put('/api/v1/people/p-secretary/password', { password: 'a long enough password' });
    const login = await fetch(`${t.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'p-secretary', password: 'a long enough password' }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const session = await fetch(`${t.url}/api/v1/auth/session`, { headers: { cookie } });
    expect(session.status).toBe(200);
    expect(((await session.json()) as { me: { name: string } }).me.name).toBe('李书记');
  });
});
