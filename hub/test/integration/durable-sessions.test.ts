/**
 * Proves that persistent MQTT sessions (cleanSession=false) survive the hub: a staff client's
 * subscription and QoS 1 queue come back after a graceful restart without the client subscribing
 * again (and, as the contrast, are gone with `mqtt.persistence: memory`); a connected persistent
 * session costs almost no disk writes per message; a leader's app (Debian's mosquitto_sub -c)
 * that was away while an alert was raised and the hub restarted gets the alert exactly once on
 * reconnect, and the delivery log goes from `queued` to `delivered` on its PUBACK; the same after
 * the hub was killed (SIGKILL) with the session write still pending, because the alert store sends
 * it again; a person with no channel is logged `no-channel` and skipped at once, the next person
 * paged without waiting the step delay.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import mqtt, { type MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import type { AlertView, DeliveryView } from '../../src/alerts/alert-schemas.ts';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, metrics, metricValue, registerDevice, topic } from '../helpers/devices.ts';
import { ADMIN_TOKEN, ApiClient, startTestHub, type TestHub, tempDirs } from '../helpers/test-hub.ts';
import { testStoreEnv } from '../helpers/test-store.ts';
import { waitFor } from '../helpers/wait.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const newDir = tempDirs();
const FAST = { 'alerts.tickMs': 25 };
const PRINCIPAL = 'p-school-principal';
const ALERT_TOPIC = `gh/v1/hub/person/${PRINCIPAL}/alert`;

/** Debian's mosquitto_sub as a leader's app: persistent session (-c), QoS 1, one payload per line. */
function leaderApp(port: number, personId: string, token: string, clientId: string, filter: string) {
  const child = spawn('mosquitto_sub', [
    ...['-h', '127.0.0.1', '-p', String(port), '-c', '-i', clientId, '-q', '1'],
    ...['-u', personId, '-P', token, '-t', filter, '-F', '%p'],
  ]);
  const lines: string[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    lines,
    alerts: (id: string) => lines.filter((l) => (JSON.parse(l) as { alert?: AlertView }).alert?.id === id),
    /** messages sent with POST /api/v1/notify (used to see that the app is subscribed) */
    notes: () => lines.filter((l) => (JSON.parse(l) as { title?: string }).title === 'probe'),
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function subscribed(t: TestHub, personId: string, filter: string) {
  await waitFor(() => t.hub.broker.staffSubscriptions(personId).includes(filter), {
    what: `${personId} subscribed to ${filter}`,
  });
}

async function gone(t: TestHub, personId: string) {
  await waitFor(() => t.hub.broker.staffSubscriptions(personId).length === 0, { what: `${personId} gone` });
}

async function press(api: ApiClient, mqttPort: number, site = 'site-school-gate') {
  const button = await registerDevice(api, 'generic-panic-button', site);
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
    clientId: button.id,
    username: button.id,
    password: button.secret,
    reconnectPeriod: 0,
  });
  await c.publishAsync(topic(button.id, 'event'), JSON.stringify({ eventId: 'p-1', type: 'press' }), {
    qos: 1,
  });
  await c.endAsync();
  return waitFor(async () => (await api.get<{ items: AlertView[] }>('/api/v1/alerts')).body.items[0], {
    what: 'alert raised',
  });
}

const deliveries = async (api: ApiClient, alertId: string) =>
  (await api.get<{ deliveries: DeliveryView[] }>(`/api/v1/alerts/${alertId}`)).body.deliveries.filter(
    (d) => d.channel === 'mqtt',
  );

/** No escalation step and no re-notification during a test: every message is one we caused. */
async function slowSteps(api: ApiClient) {
  for (const key of ['alert.stepDelaySeconds', 'alert.renotifySeconds']) {
    const res = await api.put(`/api/v1/policies/${key}`, {
      scope: { kind: 'grid', id: 'x-school-1' },
      value: { critical: 600 },
    });
    expect(res.status).toBe(200);
  }
}

/** A staff console on hub events with a persistent session; collects event ids. */
async function staffConsole(t: TestHub, token: string, subscribe: boolean) {
  const got: string[] = [];
  const c: MqttClient = await mqtt.connectAsync(`mqtt://127.0.0.1:${t.hub.broker.port}`, {
    clientId: 'p-street-duty:console',
    username: 'p-street-duty',
    password: token,
    clean: false,
    reconnectPeriod: 0,
    resubscribe: false,
  });
  c.on('message', (_t, p) =>
    got.push((JSON.parse(p.toString()) as { event: { eventId: string } }).event.eventId),
  );
  if (subscribe) await c.subscribeAsync('gh/v1/hub/event/#', { qos: 1 });
  return { c, got };
}

describe('durable broker sessions', () => {
  for (const persistence of ['sqlite', 'memory'] as const) {
    it(`${persistence === 'sqlite' ? 'keeps' : 'with mqtt.persistence=memory, loses'} a persistent session’s subscription and queue across a restart`, async () => {
      const dataDir = newDir();
      const overrides = { 'mqtt.persistence': persistence };
      const first = await startTestHub({ dataDir, overrides });
      const { 'p-street-duty': duty } = await loadExample(first.api, ['p-street-duty']);
      const token = duty.token as string;
      const away = await staffConsole(first, token, true);
      await subscribed(first, 'p-street-duty', 'gh/v1/hub/event/#');
      await away.c.endAsync();
      await gone(first, 'p-street-duty');

      const smoke = await registerDevice(first.api, 'generic-nb-smoke', 'site-b1');
      const dev = await connectDevice(first, smoke, { clientId: smoke.id });
      for (const id of ['e-1', 'e-2', 'e-3'])
        await dev.publishAsync(topic(smoke.id, 'event'), JSON.stringify({ eventId: id, type: 'tamper' }), {
          qos: 1,
        });
      await dev.endAsync();
      await first.stop();

      const second = await startTestHub({ dataDir, overrides });
      // Back without subscribing again, as a device or an app with a stored session does.
      const back = await staffConsole(second, token, false);
      if (persistence === 'sqlite') {
        await waitFor(() => back.got.length >= 3, { what: 'the three queued events' });
        expect(second.hub.broker.staffSubscriptions('p-street-duty')).toEqual(['gh/v1/hub/event/#']);
      } else {
        // The contrast: nothing restored, nothing delivered (watched for a moment).
        const until = Date.now() + 1000;
        await waitFor(() => Date.now() > until, { what: 'observation window' });
        expect(second.hub.broker.staffSubscriptions('p-street-duty')).toEqual([]);
      }
      expect(back.got).toEqual(persistence === 'sqlite' ? ['e-1', 'e-2', 'e-3'] : []);
      await back.c.endAsync();
      await second.cleanup();
    });
  }

  it('writes almost nothing to disk for a connected persistent session that acknowledges at once', async () => {
    const t = await startTestHub({ dataDir: newDir() });
    const { 'p-street-duty': duty } = await loadExample(t.api, ['p-street-duty']);
    const live = await staffConsole(t, duty.token as string, true);
    await subscribed(t, 'p-street-duty', 'gh/v1/hub/event/#');
    const smoke = await registerDevice(t.api, 'generic-nb-smoke', 'site-b1');
    const dev = await connectDevice(t, smoke, { clientId: smoke.id });
    await waitFor(async () => metricValue(await metrics(t), 'gridhub_mqtt_session_writes_total') > 0, {
      what: 'the subscription written',
    });
    const before = metricValue(await metrics(t), 'gridhub_mqtt_session_writes_total', { outcome: 'written' });
    const N = 200;
    for (let i = 0; i < N; i++)
      await dev.publishAsync(
        topic(smoke.id, 'event'),
        JSON.stringify({ eventId: `w-${i}`, type: 'selftest', result: 'ok' }),
        { qos: 1 },
      );
    await waitFor(() => live.got.length >= N, { what: `${N} events at the console` });
    await waitFor(() => t.hub.broker.sessionQueue('p-street-duty:console').then((q) => q.length === 0), {
      what: 'queue empty',
    });
    t.hub.broker.flushSessions();
    const written =
      metricValue(await metrics(t), 'gridhub_mqtt_session_writes_total', { outcome: 'written' }) - before;
    expect(live.got).toHaveLength(N);
    // Without coalescing each message would cost an insert and a delete (2 N rows).
    expect(written).toBeLessThan(N / 10);
    await dev.endAsync();
    await live.c.endAsync();
    await t.cleanup();
  });
});

describe('refused filters of a persistent session', () => {
  it('are not kept: they neither queue messages nor come back after a restart', async () => {
    const dataDir = newDir();
    const first = await startTestHub({ dataDir });
    const { 'p-street-duty': duty } = await loadExample(first.api, ['p-street-duty']);
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${first.hub.broker.port}`, {
      clientId: 'p-street-duty:console',
      username: 'p-street-duty',
      password: duty.token as string,
      clean: false,
      reconnectPeriod: 0,
    });
    // One SUBSCRIBE with an allowed filter and one staff may not read (device uplinks).
    const suback = await c
      .subscribeAsync({ 'gh/v1/hub/event/#': { qos: 1 }, 'gh/v1/dev/#': { qos: 1 } })
      .then(() => undefined)
      .catch((err: { packet?: { granted?: number[] } }) => err.packet?.granted);
    expect(suback).toEqual([1, 128]);
    const got: string[] = [];
    c.on('message', (tp) => got.push(tp));
    const smoke = await registerDevice(first.api, 'generic-nb-smoke', 'site-b1');
    const dev = await connectDevice(first, smoke, { clientId: smoke.id });
    for (const id of ['r-1', 'r-2', 'r-3'])
      await dev.publishAsync(topic(smoke.id, 'event'), JSON.stringify({ eventId: id, type: 'tamper' }), {
        qos: 1,
      });
    await waitFor(() => got.length === 3, { what: 'the three hub events' });
    // Only the hub events came, and nothing waits in the session for the refused filter.
    expect(got.every((tp) => tp.startsWith('gh/v1/hub/event/'))).toBe(true);
    await waitFor(async () => (await first.hub.broker.sessionQueue('p-street-duty:console')).length === 0, {
      what: 'an empty session queue',
    });
    await Promise.all([dev.endAsync(), c.endAsync()]);
    await first.stop();
    const second = await startTestHub({ dataDir });
    const back = await staffConsole(second, duty.token as string, false);
    await waitFor(() => second.hub.broker.staffSubscriptions('p-street-duty').length > 0);
    expect(second.hub.broker.staffSubscriptions('p-street-duty')).toEqual(['gh/v1/hub/event/#']);
    await back.c.endAsync();
    await second.cleanup();
  });
});

describe('a leader’s app across a restart', () => {
  it('gets an alert raised while it was away and the hub restarted, once; the log goes queued → delivered', async () => {
    const dataDir = newDir();
    const first = await startTestHub({ dataDir, overrides: FAST });
    const people = await loadExample(first.api, [PRINCIPAL]);
    const token = people[PRINCIPAL].token as string;
    await slowSteps(first.api);
    const app = leaderApp(first.hub.broker.port, PRINCIPAL, token, `${PRINCIPAL}:app`, ALERT_TOPIC);
    await subscribed(first, PRINCIPAL, ALERT_TOPIC);
    await app.stop();
    await gone(first, PRINCIPAL);

    const alert = await press(first.api, first.hub.broker.port);
    const queued = await waitFor(async () => (await deliveries(first.api, alert.id))[0]);
    expect(queued).toMatchObject({ recipient: PRINCIPAL, result: 'queued', confirmedAt: null });
    await first.stop();

    const second = await startTestHub({ dataDir, overrides: FAST });
    const back = leaderApp(second.hub.broker.port, PRINCIPAL, token, `${PRINCIPAL}:app`, ALERT_TOPIC);
    const log = await waitFor(
      async () => {
        const d = await deliveries(second.api, alert.id);
        return d[0]?.result === 'delivered' ? d : undefined;
      },
      { what: 'delivered on PUBACK' },
    );
    expect(back.alerts(alert.id)).toHaveLength(1);
    expect(log).toEqual([
      expect.objectContaining({
        recipient: PRINCIPAL,
        result: 'delivered',
        detail: `PUBACK from client ${PRINCIPAL}:app`,
        confirmedAt: expect.any(String),
      }),
    ]);
    // Watch a moment longer: no second copy arrives (the subscribe after reconnect re-sends nothing held).
    const until = Date.now() + 800;
    await waitFor(() => Date.now() > until, { what: 'observation window' });
    expect(back.lines).toHaveLength(1);
    await back.stop();
    await second.cleanup();
  });

  it('gets it after the hub was killed with the session write still pending: the alert store sends it again', async () => {
    const dataDir = newDir();
    const hub = await startMain({
      GRIDHUB_DATA_DIR: dataDir,
      GRIDHUB_HTTP_HOST: '127.0.0.1',
      GRIDHUB_HTTP_PORT: '0',
      GRIDHUB_MQTT_HOST: '127.0.0.1',
      GRIDHUB_MQTT_PORT: '0',
      GRIDHUB_AUTH_BOOTSTRAP_ADMIN_TOKEN: ADMIN_TOKEN,
      GRIDHUB_NODE_RED_ENABLED: 'false',
      GRIDHUB_LOG_LEVEL: 'silent',
      // Nothing of the broker's sessions reaches the disk before the kill.
      GRIDHUB_MQTT_PERSISTENCE_FLUSH_MS: '10000',
    });
    const started = await waitFor(
      () => /API and console\s+(http:\S+)\/[\s\S]*mqtt:\/\/[\d.]+:(\d+)/.exec(hub.output()),
      {
        timeoutMs: 30_000,
        what: 'the hub printing its addresses',
      },
    );
    const api = new ApiClient(started[1] as string, ADMIN_TOKEN);
    const mqttPort = Number(started[2]);
    const people = await loadExample(api, [PRINCIPAL]);
    const token = people[PRINCIPAL].token as string;
    await slowSteps(api);
    const app = leaderApp(mqttPort, PRINCIPAL, token, `${PRINCIPAL}:app`, `gh/v1/hub/person/${PRINCIPAL}/#`);
    // The app is subscribed once a message to the person reaches it.
    await waitFor(
      async () => {
        await api.post('/api/v1/notify', {
          to: { kind: 'person', id: PRINCIPAL },
          title: 'probe',
          text: 'x',
        });
        return app.notes().length > 0;
      },
      { intervalMs: 200, what: 'the app subscribed' },
    );
    await app.stop();
    const alert = await press(api, mqttPort);
    await waitFor(async () => (await deliveries(api, alert.id))[0]?.result === 'queued', { what: 'queued' });
    hub.child.kill('SIGKILL');
    await hub.exited;

    const second = await startTestHub({ dataDir, overrides: FAST });
    const back = leaderApp(
      second.hub.broker.port,
      PRINCIPAL,
      token,
      `${PRINCIPAL}:app`,
      `gh/v1/hub/person/${PRINCIPAL}/#`,
    );
    await waitFor(async () => (await deliveries(second.api, alert.id))[0]?.result === 'delivered', {
      what: 'delivered after the kill',
    });
    expect(back.alerts(alert.id)).toHaveLength(1);
    await back.stop();
    await second.cleanup();
  });
});

describe('a person with no channel', () => {
  it('is logged no-channel and skipped at once; the next person is paged without the step delay', async () => {
    const t = await startTestHub({ dataDir: newDir(), overrides: FAST });
    // The principal never had a token; the safety officer has one and a persistent app.
    const people = await loadExample(t.api, ['p-school-safety']);
    await slowSteps(t.api);
    const app = leaderApp(
      t.hub.broker.port,
      'p-school-safety',
      people['p-school-safety'].token as string,
      'p-school-safety:app',
      'gh/v1/hub/person/p-school-safety/alert',
    );
    await subscribed(t, 'p-school-safety', 'gh/v1/hub/person/p-school-safety/alert');
    const pressedAt = Date.now();
    const alert = await press(t.api, t.hub.broker.port);
    await waitFor(() => app.alerts(alert.id).length === 1, { what: 'the safety officer paged' });
    // The step delay is 10 minutes: only the skip explains a page within seconds.
    expect(Date.now() - pressedAt).toBeLessThan(5000);
    const log = await waitFor(async () => {
      const d = await deliveries(t.api, alert.id);
      return d.some((x) => x.result === 'delivered') ? d : undefined;
    });
    expect(log.map((d) => [d.step, d.recipient, d.result])).toEqual([
      [0, PRINCIPAL, 'no-channel'],
      [1, 'p-school-safety', 'delivered'],
    ]);
    expect(log[0]?.detail).toContain('no API token');
    // Positive control: the reachable officer is not skipped — the chain rests at step 1.
    const until = Date.now() + 1000;
    await waitFor(() => Date.now() > until, { what: 'observation window' });
    const now = (await t.api.get<{ alert: AlertView }>(`/api/v1/alerts/${alert.id}`)).body.alert;
    expect(now.step).toBe(1);
    expect(app.lines).toHaveLength(1);
    expect((await deliveries(t.api, alert.id)).map((d) => d.recipient)).toEqual([
      PRINCIPAL,
      'p-school-safety',
    ]);
    await app.stop();
    await t.cleanup();
  });
});

async function startMain(env: Record<string, string>): Promise<{
  child: ChildProcess;
  output: () => string;
  exited: Promise<void>;
}> {
  // the `pg` project: the data directory's own PostgreSQL database (helpers/test-store.ts)
  const store =
    env.GRIDHUB_DATA_DIR && env.GRIDHUB_STORE_URL === undefined
      ? await testStoreEnv(env.GRIDHUB_DATA_DIR)
      : {};
  const child = spawn(process.execPath, ['--import', 'tsx', 'hub/src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...store, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { child, output: () => out, exited };
}
