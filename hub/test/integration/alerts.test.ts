/**
 * Proves alert delivery to emergency-unit leaders on the real hub: a panic press reaches the point
 * leader's MQTT topic, a real webhook receiver (HMAC verified) and a console's SSE stream within one
 * second; unacknowledged, it re-notifies and escalates person by person to the street duty room, and an
 * acknowledgement at step 2 stops everything, with a delivery log equal to what the recipients got;
 * WeCom, DingTalk and Feishu robots get their documented formats (DingTalk signature checked as
 * DingTalk does); a webhook target that refuses connections or answers 500 never delays MQTT and is
 * retried with back-off; a restart between steps resumes the next step once; unit leaders see and
 * acknowledge only their own units' alerts.
 */
import { createHmac } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import type { AlertView, DeliveryView } from '../../src/alerts/alert-schemas.ts';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, connectStaff, registerDevice, topic } from '../helpers/devices.ts';
import { HttpReceiver } from '../helpers/http-receiver.ts';
import { type ApiClient, startTestHub, type TestHub, tempDirs } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const FAST = { 'alerts.tickMs': 25, 'alerts.webhookRetryBaseMs': 100, 'alerts.webhookRetries': 3 };
const newDir = tempDirs();

const SCHOOL = ['p-school-principal', 'p-school-safety', 'p-school-teacher', 'p-street-duty'] as const;

async function press(t: TestHub, site: string, eventId = 'press-1') {
  const button = await registerDevice(t.api, 'generic-panic-button', site);
  const c = await connectDevice(t, button);
  const at = Date.now();
  await c.publishAsync(topic(button.id, 'event'), JSON.stringify({ eventId, type: 'press' }), { qos: 1 });
  await c.endAsync();
  return { button, at };
}

/** Leader apps: each person subscribed to their own alert topic, counting what arrives. */
async function leaderApps(t: TestHub, people: Record<string, ApiClient>, ids: readonly string[]) {
  const got: Record<string, { at: number; alertId: string }[]> = {};
  const clients: MqttClient[] = [];
  for (const id of ids) {
    got[id] = [];
    const c = await connectStaff(t, id, people[id]?.token as string);
    await c.subscribeAsync(`gh/v1/hub/person/${id}/alert`, { qos: 1 });
    c.on('message', (_t, payload) =>
      got[id]?.push({
        at: Date.now(),
        alertId: (JSON.parse(payload.toString()) as { alert: AlertView }).alert.id,
      }),
    );
    clients.push(c);
  }
  return { got, close: () => Promise.all(clients.map((c) => c.endAsync())) };
}

describe('alerts', () => {
  it('reaches the point leader over MQTT, a webhook and the SSE stream within one second', async () => {
    const t = await startTestHub({ dataDir: newDir(), overrides: FAST });
    const people = await loadExample(t.api, [...SCHOOL]);
    const receiver = new HttpReceiver();
    const url = await receiver.start();
    const hook = await t.api.post('/api/v1/webhooks', {
      name: '学校安保群',
      kind: 'generic',
      url: `${url}/hook`,
      secret: 'whsec',
      scope: { kind: 'unit', id: 'eu-school-1' },
    });
    expect(hook.status).toBe(201);
    const apps = await leaderApps(t, people, ['p-school-principal']);

    // A console on the SSE stream, as the unit leader.
    const sse = await fetch(`${t.url}/api/v1/alerts/stream`, {
      headers: { authorization: `Bearer ${people['p-school-principal'].token}` },
    });
    expect(sse.headers.get('content-type')).toContain('text/event-stream');
    let streamed = '';
    let streamedAt = 0;
    const reader = (sse.body as ReadableStream<Uint8Array>).getReader();
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        streamed += Buffer.from(value).toString('utf8');
        if (!streamedAt && streamed.includes('event: alert')) streamedAt = Date.now();
      }
    })();

    const { at } = await press(t, 'site-school-gate');
    await waitFor(() => apps.got['p-school-principal']?.length && receiver.received.length && streamedAt, {
      what: 'all three channels',
    });
    expect((apps.got['p-school-principal']?.[0]?.at ?? 0) - at).toBeLessThan(1000);
    expect((receiver.received[0]?.at ?? 0) - at).toBeLessThan(1000);
    expect(streamedAt - at).toBeLessThan(1000);

    const req = receiver.received[0];
    const signature = createHmac('sha256', 'whsec')
      .update(`${req?.headers['x-gridhub-timestamp']}.${req?.body}`)
      .digest('hex');
    expect(req?.headers['x-gridhub-signature']).toBe(`sha256=${signature}`);
    const body = JSON.parse(req?.body ?? '{}') as { alert: AlertView; ackUrl: string };
    expect(body.alert).toMatchObject({
      cause: 'panic-press',
      severity: 'critical',
      emergencyUnitId: 'eu-school-1',
      state: 'raised',
    });
    expect(streamed).toContain(body.alert.id);

    // The signed link acknowledges only through its confirmation page's POST.
    const page = await fetch(body.ackUrl);
    expect(await page.text()).toContain('确认收到');
    expect((await t.api.get<{ alert: AlertView }>(`/api/v1/alerts/${body.alert.id}`)).body.alert.state).toBe(
      'raised',
    );
    const q = new URL(body.ackUrl).searchParams.toString();
    const confirm = await fetch(`${t.url}/alerts/ack`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ q }),
    });
    expect(confirm.status).toBe(200);
    const acked = (await t.api.get<{ alert: AlertView }>(`/api/v1/alerts/${body.alert.id}`)).body.alert;
    expect(acked).toMatchObject({
      state: 'acknowledged',
      ackChannel: 'link',
      ackedBy: `link:webhook:${(hook.body as { id: string }).id}`,
    });
    await reader.cancel();
    await apps.close();
    await receiver.stop();
    await t.cleanup();
  });

  it('re-notifies and escalates to the street duty room; an ack at step 2 stops everything; the log matches', async () => {
    const t = await startTestHub({ dataDir: newDir(), overrides: FAST });
    const people = await loadExample(t.api, [...SCHOOL]);
    await t.api.put('/api/v1/policies/alert.renotifySeconds', {
      scope: { kind: 'grid', id: 'x-school-1' },
      value: { critical: 0.3 },
    });
    await t.api.put('/api/v1/policies/alert.stepDelaySeconds', {
      scope: { kind: 'grid', id: 'x-school-1' },
      value: { critical: 0.8 },
    });
    const apps = await leaderApps(t, people, SCHOOL);

    // First alert: nobody answers; it climbs all the way to the street duty room.
    await press(t, 'site-school-gate', 'a-1');
    await waitFor(() => apps.got['p-street-duty']?.length, { timeoutMs: 8000, what: 'street duty notified' });
    const first = (await t.api.get<{ items: AlertView[] }>('/api/v1/alerts')).body.items[0] as AlertView;
    expect(first.chain).toEqual([
      'p-school-principal',
      'p-school-safety',
      'p-school-teacher',
      'p-street-duty',
    ]);
    expect(first.step).toBe(3);
    await t.api.post(`/api/v1/alerts/${first.id}/ack`);

    // Second alert: acknowledged by the teacher as soon as step 2 reaches them.
    await press(t, 'site-school-main', 'b-1');
    const second = await waitFor(
      async () => (await t.api.get<{ items: AlertView[] }>('/api/v1/alerts?state=raised')).body.items[0],
    );
    await waitFor(() => apps.got['p-school-teacher']?.some((g) => g.alertId === second.id), {
      timeoutMs: 5000,
      what: 'step 2',
    });
    const ack = await people['p-school-teacher'].post<AlertView>(`/api/v1/alerts/${second.id}/ack`);
    expect(ack.body).toMatchObject({ state: 'acknowledged', ackedBy: 'person:p-school-teacher', step: 2 });
    const countAtAck = (id: string) => apps.got[id]?.filter((g) => g.alertId === second.id).length ?? 0;
    const snapshot = Object.fromEntries(SCHOOL.map((id) => [id, countAtAck(id)]));
    // Watch for longer than a re-notification interval and a step delay together: nothing more comes.
    const quietUntil = Date.now() + 1500;
    await waitFor(() => Date.now() >= quietUntil, { timeoutMs: 3000, what: 'observation window' });
    expect(Object.fromEntries(SCHOOL.map((id) => [id, countAtAck(id)]))).toEqual(snapshot);
    expect(snapshot['p-street-duty']).toBe(0);
    expect(snapshot['p-school-principal']).toBeGreaterThan(1); // re-notified

    const detail = await t.api.get<{ deliveries: DeliveryView[] }>(`/api/v1/alerts/${second.id}`);
    const logged = (id: string) =>
      detail.body.deliveries.filter((d) => d.channel === 'mqtt' && d.recipient === id).length;
    for (const id of SCHOOL) expect(logged(id), id).toBe(snapshot[id]);
    await apps.close();
    await t.cleanup();
  });

  it('sends WeCom, DingTalk and Feishu robots their formats, DingTalk signature verified', async () => {
    const t = await startTestHub({ dataDir: newDir(), overrides: FAST });
    await loadExample(t.api);
    const robot = new HttpReceiver();
    const url = await robot.start();
    for (const [kind, path, secret] of [
      ['wecom', '/cgi-bin/webhook/send?key=wk', undefined],
      ['dingtalk', '/robot/send?access_token=dt', 'SECding'],
      ['feishu', '/open-apis/bot/v2/hook/fs', 'fs-secret'],
    ] as const) {
      const res = await t.api.post('/api/v1/webhooks', {
        name: kind,
        kind,
        url: `${url}${path}`,
        ...(secret ? { secret } : {}),
        scope: { kind: 'grid', id: 's-dongyuan' },
      });
      expect(res.status).toBe(201);
    }
    await press(t, 'site-school-gate');
    await waitFor(() => robot.received.length === 3, { what: 'three robots' });
    const by = (p: string) => robot.received.find((r) => r.url.startsWith(p));
    const wecom = JSON.parse(by('/cgi-bin')?.body ?? '{}') as {
      msgtype: string;
      markdown: { content: string };
    };
    expect(wecom.msgtype).toBe('markdown');
    expect(wecom.markdown.content).toContain('一键报警');

    const ding = by('/robot/send');
    const q = new URL(`http://x${ding?.url}`).searchParams;
    const ts = q.get('timestamp') as string;
    // As DingTalk checks: recompute from the timestamp and the secret, and the timestamp is fresh.
    expect(q.get('sign')).toBe(createHmac('sha256', 'SECding').update(`${ts}\nSECding`).digest('base64'));
    expect(Math.abs(Date.now() - Number(ts))).toBeLessThan(3_600_000);
    expect(JSON.parse(ding?.body ?? '{}')).toMatchObject({
      msgtype: 'markdown',
      markdown: { title: expect.stringContaining('紧急告警') },
    });

    const fs = JSON.parse(by('/open-apis')?.body ?? '{}') as {
      timestamp: string;
      sign: string;
      msg_type: string;
      content: { text: string };
    };
    expect(fs.sign).toBe(createHmac('sha256', `${fs.timestamp}\nfs-secret`).update('').digest('base64'));
    expect(fs.msg_type).toBe('text');
    expect(fs.content.text).toMatch(/地点：.*\n设备：.*\n原因：一键报警[\s\S]*时间：[\s\S]*确认：http/);
    await robot.stop();
    await t.cleanup();
  });

  it('never delays MQTT for a webhook that is down, and retries it with back-off', async () => {
    const t = await startTestHub({ dataDir: newDir(), overrides: FAST });
    const people = await loadExample(t.api, ['p-school-principal']);
    const failing = new HttpReceiver();
    failing.status = 500;
    const failingUrl = await failing.start();
    const closed = new HttpReceiver();
    const closedUrl = await closed.start();
    await closed.stop(); // nothing listens there any more: connection refused
    await t.api.post('/api/v1/webhooks', {
      name: 'refused',
      kind: 'generic',
      url: `${closedUrl}/x`,
      scope: { kind: 'unit', id: 'eu-school-1' },
    });
    await t.api.post('/api/v1/webhooks', {
      name: 'five hundred',
      kind: 'generic',
      url: `${failingUrl}/x`,
      scope: { kind: 'unit', id: 'eu-school-1' },
    });
    const apps = await leaderApps(t, people, ['p-school-principal']);
    const { at } = await press(t, 'site-school-gate');
    await waitFor(() => apps.got['p-school-principal']?.length);
    expect((apps.got['p-school-principal']?.[0]?.at ?? 0) - at).toBeLessThan(1000);

    const alertId = apps.got['p-school-principal']?.[0]?.alertId as string;
    const webhookLog = async () =>
      (await t.api.get<{ deliveries: DeliveryView[] }>(`/api/v1/alerts/${alertId}`)).body.deliveries.filter(
        (d) => d.channel === 'webhook:generic',
      );
    const log = await waitFor(
      async () => {
        const l = await webhookLog();
        return l.filter((d) => d.result === 'failed').length === 2 ? l : undefined;
      },
      { timeoutMs: 5000, what: 'both targets given up' },
    );
    for (const recipient of new Set(log.map((d) => d.recipient))) {
      const attempts = log.filter((d) => d.recipient === recipient);
      expect(attempts.map((d) => [d.attempt, d.result])).toEqual([
        [1, 'retrying'],
        [2, 'retrying'],
        [3, 'failed'],
      ]);
      // Back-off: the waits grow from the base (100 ms, then 200 ms). A timer never fires early, so
      // these lower bounds hold on any machine; a busy one only makes the gaps longer.
      const times = attempts.map((d) => Date.parse(d.at));
      expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(100);
      expect((times[2] as number) - (times[1] as number)).toBeGreaterThanOrEqual(200);
    }
    expect(log.some((d) => d.detail?.startsWith('HTTP 500'))).toBe(true);
    expect(failing.received).toHaveLength(3);
    await apps.close();
    await failing.stop();
    await t.cleanup();
  });

  it('resumes escalation after a restart between steps: the next step happens once, at start', async () => {
    const dataDir = newDir();
    const first = await startTestHub({ dataDir, overrides: FAST });
    // Both first steps can be reached (a token each), so neither is skipped as having no channel.
    const people = await loadExample(first.api, ['p-school-principal', 'p-school-safety']);
    // 5 s between steps: long enough that a slow start does not reach the step after the one due.
    await first.api.put('/api/v1/policies/alert.stepDelaySeconds', {
      scope: { kind: 'grid', id: 'x-school-1' },
      value: { critical: 5 },
    });
    await first.api.put('/api/v1/policies/alert.renotifySeconds', {
      scope: { kind: 'grid', id: 'x-school-1' },
      value: { critical: 60 },
    });
    const { at } = await press(first, 'site-school-gate');
    const raised = await waitFor(
      async () => (await first.api.get<{ items: AlertView[] }>('/api/v1/alerts')).body.items[0],
    );
    expect(raised.step).toBe(0);
    await first.stop();
    await waitFor(() => Date.now() >= at + 5500, { timeoutMs: 8000, what: 'downtime past the step time' });

    const second = await startTestHub({ dataDir, overrides: FAST });
    const apps = await leaderApps(second, people, ['p-school-safety']);
    const after = (
      await second.api.get<{ alert: AlertView; deliveries: DeliveryView[] }>(`/api/v1/alerts/${raised.id}`)
    ).body;
    // Step 1 fell due while the hub was down. On a slow machine the start can take past the next
    // step time too (the teacher, who has no channel, is then skipped at once): every step that
    // fell due happens, and each exactly once.
    expect(after.alert.step).toBeGreaterThanOrEqual(1);
    const audit = await second.api.get<{ data: { step: number } }[]>(
      `/api/v1/audit?entityType=alert&entityId=${raised.id}&action=alert.escalate`,
    );
    expect(audit.body.map((e) => e.data.step).sort()).toEqual(
      Array.from({ length: after.alert.step }, (_, i) => i + 1),
    );
    expect(after.deliveries.filter((d) => d.recipient === 'p-school-safety' && d.step === 1)).toHaveLength(1);
    await apps.close();
    await second.stop();
  });

  it('lets a unit leader see and acknowledge only the alerts of their own units', async () => {
    const t = await startTestHub({ dataDir: newDir(), overrides: FAST });
    const people = await loadExample(t.api, ['p-school-principal', 'p-block-leader']);
    await press(t, 'site-school-gate');
    const alert = await waitFor(
      async () => (await t.api.get<{ items: AlertView[] }>('/api/v1/alerts')).body.items[0],
    );
    const outsider = people['p-block-leader'];
    expect((await outsider.get(`/api/v1/alerts/${alert.id}`)).status).toBe(403);
    const denied = await outsider.post<{ error: { code: string } }>(`/api/v1/alerts/${alert.id}/ack`);
    expect(denied.status).toBe(403);
    expect((await outsider.get<{ items: AlertView[] }>('/api/v1/alerts')).body.items).toEqual([]);
    const own = people['p-school-principal'];
    expect((await own.get<{ items: AlertView[] }>('/api/v1/alerts')).body.items.map((a) => a.id)).toEqual([
      alert.id,
    ]);
    expect((await own.post<AlertView>(`/api/v1/alerts/${alert.id}/ack`)).body.ackedBy).toBe(
      'person:p-school-principal',
    );
    expect((await own.post<{ error: { code: string } }>(`/api/v1/alerts/${alert.id}/ack`)).status).toBe(409);
    const stats =
      await own.get<{ unitId: string; acknowledged: number; ackedWithinDeadline: number }[]>(
        '/api/v1/stats/alerts',
      );
    expect(stats.body).toEqual([
      expect.objectContaining({ unitId: 'eu-school-1', acknowledged: 1, ackedWithinDeadline: 1 }),
    ]);
    await t.cleanup();
  });
});
