/**
 * Proves that every life-safety rule family pages people again when its alarm comes back after the
 * alert was resolved while the ticket is still open: panic press, confirmed fire, a single smoke
 * detector (which then confirms with a second), water leak, water level crossing the alarm level
 * again, elevator entrapment (code 11) and another critical elevator code (09). Each time a new alert
 * is raised (the resolved one stays as it was), reaches the first person of the chain over MQTT
 * exactly once and escalates to the second person as before. A repeat panic press while the alert is
 * acknowledged tells the person who acknowledged it (their MQTT topic) and the board (SSE) that it was
 * pressed again, and nobody else.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertView } from '../../src/alerts/alert-schemas.ts';
import { loadExample } from '../helpers/community.ts';
import {
  connectDevice,
  connectStaff,
  type Registered,
  registerDevice,
  tickets,
  topic,
} from '../helpers/devices.ts';
import { type ApiClient, startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const PEOPLE = [
  'p-school-principal',
  'p-school-safety',
  'p-school-teacher',
  'p-clinic-head',
  'p-clinic-safety',
  'p-block-leader',
  'p-grid-worker-1',
  'p-grid-leader-1',
  'p-grid-leader-2',
  'p-street-duty',
] as const;

interface Received {
  alert: AlertView;
  text: string;
}

describe('re-alert after resolve', () => {
  let t: TestHub;
  let people: Record<(typeof PEOPLE)[number], ApiClient>;
  const got: Record<string, Received[]> = {};
  const apps: MqttClient[] = [];

  beforeAll(async () => {
    t = await startTestHub({ overrides: { 'alerts.tickMs': 25 } });
    people = await loadExample(t.api, [...PEOPLE]);
    // Escalate quickly, never re-notify during a test: every message a person gets is counted.
    await t.api.put('/api/v1/policies/alert.stepDelaySeconds', {
      scope: { kind: 'global', id: '*' },
      value: { critical: 0.3, major: 0.3, minor: 0.3, warning: 0.3 },
    });
    await t.api.put('/api/v1/policies/alert.renotifySeconds', {
      scope: { kind: 'global', id: '*' },
      value: { critical: 600, major: 600, minor: 600, warning: 600 },
    });
    for (const id of PEOPLE) {
      got[id] = [];
      const c = await connectStaff(t, id, people[id].token as string);
      await c.subscribeAsync(`gh/v1/hub/person/${id}/alert`, { qos: 1 });
      c.on('message', (_topic, payload) => got[id]?.push(JSON.parse(payload.toString()) as Received));
      apps.push(c);
    }
  });
  afterAll(async () => {
    await Promise.all(apps.map((c) => c.endAsync()));
    await t.cleanup();
  });

  const alertsOfTicket = async (ticketId: string) =>
    (await t.api.get<{ items: AlertView[] }>('/api/v1/alerts?limit=500')).body.items
      .filter((a) => a.ticketId === ticketId)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));

  const messages = (person: string, alertId: string) =>
    got[person]?.filter((m) => m.alert.id === alertId).length ?? 0;

  async function send(
    d: Registered,
    payload: Record<string, unknown>,
    kind: 'event' | 'telemetry' = 'event',
  ) {
    const c = await connectDevice(t, d);
    await c.publishAsync(topic(d.id, kind), JSON.stringify(payload), { qos: 1 });
    await c.endAsync();
  }

  /** The only open ticket of a device (or a site, for fire tickets). */
  async function ticketOf(query: string): Promise<string> {
    const [ticket] = await waitFor(async () => {
      const list = (await tickets(t.api, query)).filter((x) => x.state !== 'closed');
      return list.length === 1 ? list : undefined;
    });
    return ticket?.id as string;
  }

  /**
   * The first alert of a ticket is resolved (by `resolve`, default through the API); the alarm comes
   * back; a second alert must be raised, reach chain[0] once and escalate to chain[1].
   */
  async function expectReAlert(opts: {
    ticketId: string;
    cause: string;
    severity: string;
    chain: string[];
    again: () => Promise<void>;
    resolve?: (first: AlertView) => Promise<void>;
  }): Promise<AlertView> {
    const [first] = await waitFor(async () => {
      const list = await alertsOfTicket(opts.ticketId);
      return list.length === 1 ? list : undefined;
    });
    expect(first).toMatchObject({ cause: opts.cause, severity: opts.severity, state: 'raised' });
    expect(first?.chain.slice(0, 2)).toEqual(opts.chain);
    if (opts.resolve) await opts.resolve(first as AlertView);
    else
      expect(
        (await t.api.post(`/api/v1/alerts/${first?.id}/resolve`, { reason: 'handled on site' })).status,
      ).toBe(200);
    await waitFor(async () => (await alertsOfTicket(opts.ticketId))[0]?.state === 'resolved', {
      what: 'first alert resolved',
    });

    await opts.again();
    const second = await waitFor(
      async () => {
        const list = await alertsOfTicket(opts.ticketId);
        return list.length === 2 ? list[1] : undefined;
      },
      { what: `a new ${opts.cause} alert` },
    );
    expect(second.id).not.toBe(first?.id);
    expect(second).toMatchObject({ cause: opts.cause, severity: opts.severity });
    // The resolved alert keeps its record.
    expect((await alertsOfTicket(opts.ticketId))[0]).toMatchObject({ id: first?.id, state: 'resolved' });
    // Escalates as before: first person, then the next one after the step delay.
    const [p0, p1] = opts.chain as [string, string];
    await waitFor(() => messages(p1, second.id) > 0, { what: `escalation of ${second.id} to ${p1}` });
    expect(messages(p0, second.id)).toBe(1);
    expect(messages(p1, second.id)).toBe(1);
    expect(
      (await t.api.get<{ alert: AlertView }>(`/api/v1/alerts/${second.id}`)).body.alert.step,
    ).toBeGreaterThanOrEqual(1);
    return second;
  }

  it('panic: a press after the alert was resolved raises a new alert that escalates', async () => {
    const button = await registerDevice(t.api, 'generic-panic-button', 'site-clinic');
    await send(button, { eventId: 'p-1', type: 'press' });
    await expectReAlert({
      ticketId: await ticketOf(`device=${button.id}`),
      cause: 'panic-press',
      severity: 'critical',
      chain: ['p-clinic-head', 'p-clinic-safety'],
      again: () => send(button, { eventId: 'p-2', type: 'press', kind: 'long' }),
    });
  });

  it('panic: a repeat press while acknowledged tells the acknowledging person and the board, nobody else', async () => {
    // Slow escalation here: the principal acknowledges before anyone else is paged.
    await t.api.put('/api/v1/policies/alert.stepDelaySeconds', {
      scope: { kind: 'site', id: 'site-school-gate' },
      value: { critical: 600 },
    });
    const button = await registerDevice(t.api, 'generic-panic-button', 'site-school-gate');
    await send(button, { eventId: 'g-1', type: 'press' });
    const ticketId = await ticketOf(`device=${button.id}`);
    const [alert] = await waitFor(async () => {
      const list = await alertsOfTicket(ticketId);
      return list.length === 1 ? list : undefined;
    });
    const id = (alert as AlertView).id;
    await waitFor(() => messages('p-school-principal', id) === 1, { what: 'the principal paged' });

    // The board: a console on the SSE stream as the street duty room.
    const sse = await fetch(`${t.url}/api/v1/alerts/stream`, {
      headers: { authorization: `Bearer ${people['p-street-duty'].token}` },
    });
    const board: { action: string; alert: AlertView }[] = [];
    const reader = (sse.body as ReadableStream<Uint8Array>).getReader();
    let buffer = '';
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        buffer += Buffer.from(value as Uint8Array).toString('utf8');
        for (let i = buffer.indexOf('\n\n'); i >= 0; i = buffer.indexOf('\n\n')) {
          const frame = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const data = frame.split('\n').find((l) => l.startsWith('data: '));
          if (data) board.push(JSON.parse(data.slice(6)) as { action: string; alert: AlertView });
        }
      }
    })();

    // The principal's leader app acknowledges over MQTT.
    const principal = apps[PEOPLE.indexOf('p-school-principal')] as MqttClient;
    await principal.publishAsync(`gh/v1/hub/ack/${id}`, '{}', { qos: 1 });
    await waitFor(() => board.some((c) => c.alert.id === id && c.action === 'acknowledged'), {
      what: 'acknowledgement on the board',
    });

    await send(button, { eventId: 'g-2', type: 'press' });
    const again = await waitFor(() => got['p-school-principal']?.filter((m) => m.alert.id === id)[1], {
      what: 'the acknowledging person told of the repeat',
    });
    expect(again.alert).toMatchObject({
      id,
      state: 'acknowledged',
      count: 2,
      ackedBy: 'person:p-school-principal',
    });
    expect(again.text).toContain('确认后再次报警');
    expect(again.text).toContain('第 2 次');
    const change = await waitFor(() =>
      board.find((c) => c.alert.id === id && c.action === 'repeated-after-ack'),
    );
    expect(change.alert).toMatchObject({ state: 'acknowledged', count: 2 });
    // Exactly one message each way: the first page and the repeat; nobody else in the chain was paged.
    expect(messages('p-school-principal', id)).toBe(2);
    for (const other of ['p-school-safety', 'p-school-teacher', 'p-street-duty'])
      expect(messages(other, id)).toBe(0);
    expect((await alertsOfTicket(ticketId)).map((a) => a.id)).toEqual([id]);
    await reader.cancel();
  });

  it('fire: two detectors alarming again after the confirmed-fire alert was resolved raise a new confirmed-fire alert', async () => {
    const a = await registerDevice(t.api, 'generic-nb-smoke', 'site-b1');
    const b = await registerDevice(t.api, 'generic-nb-smoke', 'site-b1');
    await send(a, { eventId: 'f-1', type: 'smoke.alarm' });
    await send(b, { eventId: 'f-2', type: 'smoke.alarm' });
    const ticketId = await ticketOf(`category=fire&device=${a.id}`);
    await waitFor(async () => (await alertsOfTicket(ticketId))[0]?.cause === 'fire-confirmed', {
      what: 'the confirmed-fire alert',
    });
    await expectReAlert({
      ticketId,
      cause: 'fire-confirmed',
      severity: 'critical',
      chain: ['p-block-leader', 'p-grid-worker-1'],
      again: async () => {
        await send(a, { eventId: 'f-3', type: 'smoke.alarm' });
        await send(b, { eventId: 'f-4', type: 'smoke.alarm' });
      },
    });
    // Still one fire ticket for the building, at district level.
    expect((await tickets(t.api, `category=fire&device=${a.id}`)).map((x) => x.level)).toEqual([4]);
  });

  it('smoke: a detector alarming again after a resolve re-alerts, and with a second detector confirms the fire', async () => {
    const a = await registerDevice(t.api, 'generic-nb-smoke', 'site-b2');
    const b = await registerDevice(t.api, 'generic-nb-smoke', 'site-b2');
    // Ten minutes ago, far outside the 2-minute confirmation window.
    await send(a, { eventId: 's-1', type: 'smoke.alarm', ts: Date.now() - 600_000 });
    const ticketId = await ticketOf(`category=fire&device=${a.id}`);
    await expectReAlert({
      ticketId,
      cause: 'smoke-alarm',
      severity: 'major',
      chain: ['p-block-leader', 'p-grid-worker-1'],
      again: () => send(a, { eventId: 's-2', type: 'smoke.alarm' }),
    });
    // Now the second detector: both alarmed within the window (a's latest alarm counts, not its first).
    await send(b, { eventId: 's-3', type: 'smoke.alarm' });
    const confirmed = await waitFor(
      async () => {
        const list = await alertsOfTicket(ticketId);
        return list[1]?.cause === 'fire-confirmed' ? list[1] : undefined;
      },
      { what: 'confirmation after the re-alarm' },
    );
    expect(confirmed.severity).toBe('critical');
    const [fire] = await tickets(t.api, `device=${a.id}`);
    expect(fire).toMatchObject({ level: 4, severity: 'critical', departmentId: 'dept-fire' });
  });

  it('water leak: a leak after the alert was resolved raises a new alert', async () => {
    const sensor = await registerDevice(t.api, 'generic-water-leak', 'site-b4-basement');
    await send(sensor, { eventId: 'l-1', type: 'leak' });
    await expectReAlert({
      ticketId: await ticketOf(`device=${sensor.id}`),
      cause: 'water-leak',
      severity: 'major',
      chain: ['p-grid-leader-1', 'p-street-duty'],
      // the sensor's own restore resolves the alert (the ticket stays for people to verify)
      resolve: () => send(sensor, { eventId: 'l-2', type: 'leak.clear' }),
      again: () => send(sensor, { eventId: 'l-3', type: 'leak' }),
    });
  });

  it('water level: crossing the alarm level again after a resolve raises a new alert', async () => {
    await t.api.put('/api/v1/policies/water.level.dwellSeconds', {
      scope: { kind: 'site', id: 'site-b7' },
      value: 0,
    });
    // Only the level decides here, not the rate of rise between the scripted readings.
    await t.api.put('/api/v1/policies/water.level.riseCmPerHour', {
      scope: { kind: 'site', id: 'site-b7' },
      value: 1_000_000,
    });
    const sensor = await registerDevice(t.api, 'generic-water-level', 'site-b7');
    const c = await connectDevice(t, sensor);
    const level = (cm: number) =>
      c.publishAsync(topic(sensor.id, 'telemetry'), JSON.stringify({ level: cm }), { qos: 1 });
    await level(5);
    await level(30);
    await expectReAlert({
      ticketId: await ticketOf(`device=${sensor.id}`),
      cause: 'flood-alarm',
      severity: 'critical',
      chain: ['p-grid-leader-2', 'p-street-duty'],
      again: async () => {
        await level(15); // under the alarm level, still over the warning level
        await level(32);
      },
    });
    await c.endAsync();
  });

  it('elevator: a second entrapment after the first was cleared raises a new alert on the open rescue ticket', async () => {
    const el = await registerDevice(t.api, 'gbt24476-elevator', 'site-b3');
    await send(el, { eventId: 'e-1', type: 'fault', code: '11', occupied: true });
    await expectReAlert({
      ticketId: await ticketOf(`device=${el.id}&category=elevator-rescue`),
      cause: 'elevator-entrapment',
      severity: 'critical',
      chain: ['p-block-leader', 'p-grid-worker-1'],
      // the monitor reports the passenger out: the alert resolves, the rescue ticket stays open
      resolve: () => send(el, { eventId: 'e-2', type: 'fault.clear', code: '11' }),
      again: () => send(el, { eventId: 'e-3', type: 'fault', code: '11', occupied: true }),
    });
  });

  it('elevator: another critical code (09 冲顶) after a resolve raises a new alert', async () => {
    const el = await registerDevice(t.api, 'gbt24476-elevator', 'site-b3');
    await send(el, { eventId: 'o-1', type: 'fault', code: '09' });
    await expectReAlert({
      ticketId: await ticketOf(`device=${el.id}&category=elevator-fault`),
      cause: 'elevator-fault-09',
      severity: 'critical',
      chain: ['p-block-leader', 'p-grid-worker-1'],
      again: () => send(el, { eventId: 'o-2', type: 'fault', code: '09' }),
    });
  });
});
