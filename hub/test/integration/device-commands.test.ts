/**
 * Proves device commands end to end over the real API and MQTT: a property manager silences a
 * sleeping NB-IoT style smoke detector (persistent session, client id = device id); the hub
 * restarts before the device wakes; on its next connect — without subscribing again — it gets the
 * command once, and the log follows it: queued → sent (PUBACK) → acknowledged (cmd/ack) → done (its
 * `silenced` event), each step audited; a self-test finishes with the result the device reports.
 * Roles and jurisdiction are checked (each denial beside an allowed call), a model refuses commands
 * it does not take and settings it does not declare, a device answers only for itself (cmd/ack under
 * another id closes the connection and changes nothing) and an unknown commandId is refused with its
 * code; a command nobody takes expires at its TTL and is then not delivered, while a fresh one is; a
 * device that had no session when the command was sent gets it when it subscribes.
 */
import { spawn } from 'node:child_process';
import mqtt, { type MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import type { CommandView } from '../../src/commands/command-schemas.ts';
import { loadExample } from '../helpers/community.ts';
import {
  connectDevice,
  metrics,
  metricValue,
  type Registered,
  registerDevice,
  topic,
} from '../helpers/devices.ts';
import { type ApiClient, startTestHub, type TestHub, tempDirs } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const newDir = tempDirs();
const PEOPLE = ['p-property', 'p-installer', 'p-street-duty', 'p-grid-worker-2'] as const;

/** A device that sleeps between reports: a persistent session under its own id. */
async function wake(t: TestHub, d: Registered, subscribe: boolean) {
  const got: { topic: string; command: Record<string, unknown> }[] = [];
  const c: MqttClient = await connectDevice(t, d, { clientId: d.id, clean: false, resubscribe: false });
  c.on('message', (tp, p) =>
    got.push({ topic: tp, command: JSON.parse(p.toString()) as Record<string, unknown> }),
  );
  if (subscribe) await c.subscribeAsync(topic(d.id, 'cmd'), { qos: 1 });
  return { c, got };
}

const log = async (api: ApiClient, id: string) =>
  (await api.get<CommandView[]>(`/api/v1/devices/${id}/commands`)).body;

async function state(api: ApiClient, deviceId: string, commandId: string, want: string) {
  return waitFor(
    async () => {
      const c = (await log(api, deviceId)).find((x) => x.id === commandId);
      return c?.state === want ? c : undefined;
    },
    { what: `command ${commandId} ${want}` },
  );
}

const ack = (c: MqttClient, id: string, commandId: string, status: string) =>
  c.publishAsync(`gh/v1/dev/${id}/cmd/ack`, JSON.stringify({ commandId, status }), { qos: 1 });

describe('device commands', () => {
  it('reaches a sleeping detector on its next connect across a hub restart; the log follows it to done', async () => {
    const dataDir = newDir();
    const first = await startTestHub({ dataDir });
    const people = await loadExample(first.api, [...PEOPLE]);
    const smoke = await registerDevice(first.api, 'generic-nb-smoke', 'site-b1');
    // Its session exists (it subscribed once, as its firmware does at first start), then it sleeps.
    const once = await wake(first, smoke, true);
    await once.c.endAsync();

    const res = await people['p-property'].post<CommandView>(`/api/v1/devices/${smoke.id}/commands`, {
      type: 'silence',
    });
    expect(res.status).toBe(201);
    const silence = res.body;
    expect(silence).toMatchObject({ type: 'silence', state: 'queued', createdBy: 'person:p-property' });
    await first.stop();

    const second = await startTestHub({ dataDir });
    const installer = second.api.as(people['p-installer'].token as string);
    const dev = await wake(second, smoke, false);
    await waitFor(() => dev.got.length > 0, { what: 'the command on wake-up' });
    expect(dev.got).toEqual([
      {
        topic: topic(smoke.id, 'cmd'),
        command: { commandId: silence.id, type: 'silence', expiresAt: Date.parse(silence.expiresAt) },
      },
    ]);
    await state(second.api, smoke.id, silence.id, 'sent');
    await ack(dev.c, smoke.id, silence.id, 'accepted');
    await state(second.api, smoke.id, silence.id, 'acknowledged');
    await dev.c.publishAsync(topic(smoke.id, 'event'), JSON.stringify({ eventId: 's-1', type: 'silenced' }), {
      qos: 1,
    });
    const done = await state(second.api, smoke.id, silence.id, 'done');
    expect(done).toMatchObject({ result: { event: 'silenced' } });
    expect(done.sentAt && done.acknowledgedAt && done.finishedAt).toBeTruthy();

    // A self-test: the device's result event finishes it, with what it found.
    const test = await installer.post<CommandView>(`/api/v1/devices/${smoke.id}/commands`, {
      type: 'selftest',
    });
    expect(test.status).toBe(201);
    await waitFor(() => dev.got.length === 2, { what: 'the self-test command' });
    await dev.c.publishAsync(
      topic(smoke.id, 'event'),
      JSON.stringify({ eventId: 's-2', type: 'selftest', result: 'failed' }),
      { qos: 1 },
    );
    expect(await state(second.api, smoke.id, test.body.id, 'done')).toMatchObject({
      result: { event: 'selftest', selftest: 'failed' },
    });
    const audit = await second.api.get<{ action: string; data: { commandId?: string } }[]>(
      `/api/v1/audit?entityType=device&entityId=${smoke.id}&limit=100`,
    );
    expect(
      audit.body
        .filter((a) => a.data?.commandId === silence.id)
        .map((a) => a.action)
        .sort(),
    ).toEqual([
      'device.command',
      'device.command.acknowledged',
      'device.command.done',
      'device.command.sent',
    ]);
    expect(dev.got).toHaveLength(2);
    await dev.c.endAsync();
    await second.cleanup();
  });

  it('checks roles, jurisdiction and the model’s command schema, each denial beside an allowed call', async () => {
    const t = await startTestHub({ dataDir: newDir() });
    const people = await loadExample(t.api, [...PEOPLE]);
    const inScope = await registerDevice(t.api, 'generic-nb-smoke', 'site-b1');
    const outside = await registerDevice(t.api, 'generic-nb-smoke', 'site-b7');
    const leak = await registerDevice(t.api, 'generic-water-leak', 'site-b1');
    const send = (who: ApiClient, id: string, body: unknown) =>
      who.post<CommandView & { error: { code: string; details?: unknown } }>(
        `/api/v1/devices/${id}/commands`,
        body,
      );

    // Property manager: own sites yes, others no.
    expect((await send(people['p-property'], inScope.id, { type: 'selftest' })).status).toBe(201);
    const far = await send(people['p-property'], outside.id, { type: 'selftest' });
    expect([far.status, far.body.error.code]).toEqual([403, 'GH_ERR_FORBIDDEN_SCOPE']);
    // ... and may not even read that device's log.
    expect((await people['p-property'].get(`/api/v1/devices/${outside.id}/commands`)).status).toBe(403);
    // Street duty and installer within their street; a grid worker may not command at all.
    expect((await send(people['p-street-duty'], outside.id, { type: 'selftest' })).status).toBe(201);
    expect((await send(people['p-installer'], outside.id, { type: 'silence' })).status).toBe(201);
    const worker = await send(people['p-grid-worker-2'], outside.id, { type: 'selftest' });
    expect([worker.status, worker.body.error.code]).toEqual([403, 'GH_ERR_FORBIDDEN_ROLE']);
    // ... though the worker may read the log of a device in their grid.
    expect(
      (await people['p-grid-worker-2'].get<CommandView[]>(`/api/v1/devices/${outside.id}/commands`)).body,
    ).toHaveLength(2);

    // The model decides: a leak sensor cannot be silenced, but can be configured with its own settings.
    const silenceLeak = await send(t.api, leak.id, { type: 'silence' });
    expect([silenceLeak.status, silenceLeak.body.error.code]).toEqual([422, 'GH_ERR_COMMAND_UNSUPPORTED']);
    expect(silenceLeak.body.error.details).toEqual({ supported: ['configure'] });
    const typo = await send(t.api, leak.id, { type: 'configure', settings: { heartbeatMinuts: 60 } });
    expect([typo.status, typo.body.error.code]).toEqual([400, 'GH_ERR_VALIDATION']);
    const range = await send(t.api, leak.id, { type: 'configure', settings: { heartbeatMinutes: 1 } });
    expect([range.status, range.body.error.code]).toEqual([400, 'GH_ERR_VALIDATION']);
    const ok = await send(t.api, leak.id, { type: 'configure', settings: { heartbeatMinutes: 60 } });
    expect([ok.status, ok.body.settings]).toEqual([201, { heartbeatMinutes: 60 }]);
    const unknown = await send(t.api, 'no-such-device', { type: 'selftest' });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'GH_ERR_DEVICE_UNKNOWN']);
    const missing = await t.api.get<{ error: { code: string } }>(
      `/api/v1/devices/${leak.id}/commands/C-none`,
    );
    expect([missing.status, missing.body.error.code]).toEqual([404, 'GH_ERR_COMMAND_UNKNOWN']);

    // The model list says what each model takes.
    const models = await t.api.get<{ id: string; commands: string[] }[]>('/api/v1/device-models');
    expect(models.body.find((m) => m.id === 'generic-nb-smoke')?.commands).toEqual([
      'silence',
      'selftest',
      'configure',
    ]);
    await t.cleanup();
  });

  it('lets a device answer only its own commands, and refuses an unknown commandId with its code', async () => {
    const t = await startTestHub({ dataDir: newDir() });
    await loadExample(t.api);
    const a = await registerDevice(t.api, 'generic-nb-smoke', 'site-b1');
    const b = await registerDevice(t.api, 'generic-nb-smoke', 'site-b1');
    const cmd = (await t.api.post<CommandView>(`/api/v1/devices/${a.id}/commands`, { type: 'selftest' }))
      .body;

    // b answers for a: refused, connection closed, a's command untouched.
    const intruder = await connectDevice(t, b, { clientId: b.id });
    const closed = new Promise<void>((resolve) => intruder.once('close', () => resolve()));
    intruder.publish(`gh/v1/dev/${a.id}/cmd/ack`, JSON.stringify({ commandId: cmd.id, status: 'done' }), {
      qos: 1,
    });
    await closed;
    expect((await log(t.api, a.id))[0]?.state).toBe('queued');

    // b answers with a command id that is not its own: kept connected, refused with its code.
    const own = await connectDevice(t, b, { clientId: b.id });
    await ack(own, b.id, cmd.id, 'done');
    const view = await waitFor(async () => {
      const v = await t.api.get<{ rejected: { code: string; what: string }[] }>(
        `/api/v1/devices/${b.id}/commissioning`,
      );
      return v.body.rejected.length ? v.body : undefined;
    });
    expect(view.rejected[0]).toMatchObject({ code: 'GH_ERR_COMMAND_UNKNOWN', what: 'cmd/ack' });
    expect(metricValue(await metrics(t), 'gridhub_errors_total', { code: 'GH_ERR_COMMAND_UNKNOWN' })).toBe(1);
    expect(own.connected).toBe(true);
    expect((await log(t.api, a.id))[0]?.state).toBe('queued');

    // Positive control: a answers for itself and it counts.
    const owner = await connectDevice(t, a, { clientId: a.id });
    await ack(owner, a.id, cmd.id, 'failed');
    expect((await state(t.api, a.id, cmd.id, 'failed')).result).toEqual({ status: 'failed' });
    await Promise.all([own.endAsync(), owner.endAsync()]);
    await t.cleanup();
  });

  it('expires a command nobody takes and does not deliver it afterwards; a fresh one still arrives', async () => {
    const t = await startTestHub({ dataDir: newDir() });
    await loadExample(t.api);
    const smoke = await registerDevice(t.api, 'generic-nb-smoke', 'site-b1');
    const once = await wake(t, smoke, true);
    await once.c.endAsync();
    const stale = (
      await t.api.post<CommandView>(`/api/v1/devices/${smoke.id}/commands`, {
        type: 'silence',
        ttlSeconds: 1,
      })
    ).body;
    await state(t.api, smoke.id, stale.id, 'expired');
    const fresh = (
      await t.api.post<CommandView>(`/api/v1/devices/${smoke.id}/commands`, { type: 'selftest' })
    ).body;
    const dev = await wake(t, smoke, false);
    await state(t.api, smoke.id, fresh.id, 'sent');
    expect(dev.got.map((g) => g.command.commandId)).toEqual([fresh.id]);
    expect((await log(t.api, smoke.id)).find((c) => c.id === stale.id)?.state).toBe('expired');
    await dev.c.endAsync();
    await t.cleanup();
  });

  it('sends a command queued while the device had no session when the device subscribes', async () => {
    const t = await startTestHub({ dataDir: newDir() });
    await loadExample(t.api);
    const panic = await registerDevice(t.api, 'generic-panic-button', 'site-school-gate');
    const cmd = (await t.api.post<CommandView>(`/api/v1/devices/${panic.id}/commands`, { type: 'selftest' }))
      .body;
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${t.hub.broker.port}`, {
      clientId: panic.id,
      username: panic.id,
      password: panic.secret,
      reconnectPeriod: 0,
    });
    const got: string[] = [];
    c.on('message', (_t, p) => got.push((JSON.parse(p.toString()) as { commandId: string }).commandId));
    await c.subscribeAsync(topic(panic.id, 'cmd'), { qos: 1 });
    await waitFor(() => got.length > 0, { what: 'the queued command after subscribing' });
    expect(got).toEqual([cmd.id]);
    await c.endAsync();
    await t.cleanup();
  });

  it('works as the README shows: a command sent first, then mosquitto_sub -c as the device gets it once', async () => {
    const t = await startTestHub({ dataDir: newDir() });
    const people = await loadExample(t.api, ['p-property']);
    const smoke = await registerDevice(t.api, 'generic-nb-smoke', 'site-b1');
    const cmd = (
      await people['p-property'].post<CommandView>(`/api/v1/devices/${smoke.id}/commands`, {
        type: 'silence',
      })
    ).body;
    const sub = spawn('mosquitto_sub', [
      ...['-h', '127.0.0.1', '-p', String(t.hub.broker.port), '-c', '-i', smoke.id],
      ...[
        '-u',
        smoke.id,
        '-P',
        smoke.secret,
        '-q',
        '1',
        '-t',
        `gh/v1/dev/${smoke.id}/cmd`,
        '-C',
        '1',
        '-W',
        '10',
      ],
    ]);
    let out = '';
    sub.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => sub.on('exit', resolve));
    expect(code).toBe(0);
    expect(
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual([{ commandId: cmd.id, type: 'silence', expiresAt: Date.parse(cmd.expiresAt) }]);
    await state(t.api, smoke.id, cmd.id, 'sent');
    await t.cleanup();
  });
});
