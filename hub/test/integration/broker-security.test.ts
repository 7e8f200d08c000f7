/**
 * Proves DESIGN.md contract 2 on the real broker: a wrong secret, an unknown device and a
 * decommissioned device are refused at CONNECT; a publish under another device's id closes the
 * connection, is counted, and provably reaches no subscriber and no rule; a device may subscribe only
 * to its own command topic; staff clients log in with a person id and API token, may subscribe only to
 * hub topics, and receive only what lies in their jurisdiction; a rotated secret ends the live session.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceEvent } from '../../src/contract/device-event.ts';
import { loadExample } from '../helpers/community.ts';
import {
  connectDevice,
  connectError,
  granted,
  metrics,
  metricValue,
  registerDevice,
  topic,
} from '../helpers/devices.ts';
import type { ApiClient } from '../helpers/test-hub.ts';
import { startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

describe('broker authentication and authorisation', () => {
  let t: TestHub;
  let url: string;
  let people: Record<'p-grid-worker-1' | 'p-installer', ApiClient>;
  const events: DeviceEvent[] = [];
  beforeAll(async () => {
    t = await startTestHub();
    url = `mqtt://127.0.0.1:${t.hub.broker.port}`;
    people = await loadExample(t.api, ['p-grid-worker-1', 'p-installer']);
    t.hub.bus.on('device.event', (e) => {
      events.push(e);
    });
  });
  afterAll(async () => t.cleanup());

  it('refuses a wrong secret, an unknown device, no credentials and a decommissioned device', async () => {
    const d = await registerDevice(t.api, 'generic-nb-smoke', 'site-b1');
    expect((await connectError(url, { username: d.id, password: `${d.secret}x` })).code).toBe(4);
    expect((await connectError(url, { username: 'sd-nobody', password: d.secret })).code).toBe(4);
    expect((await connectError(url, {})).code).toBe(4);
    expect((await connectError(url, { clientId: d.id, username: d.id, password: d.secret })).message).toBe(
      'connected',
    );
    await t.api.post(`/api/v1/devices/${d.id}/decommission`);
    expect((await connectError(url, { username: d.id, password: d.secret })).code).toBe(5);
    const m = await metrics(t);
    // The unknown device got the same CONNACK as a wrong secret, but is counted as what it was.
    expect(
      metricValue(m, 'gridhub_errors_total', { code: 'GH_ERR_MQTT_BAD_CREDENTIALS' }),
    ).toBeGreaterThanOrEqual(2);
    expect(metricValue(m, 'gridhub_errors_total', { code: 'GH_ERR_DEVICE_UNKNOWN' })).toBe(1);
    expect(metricValue(m, 'gridhub_errors_total', { code: 'GH_ERR_DEVICE_DECOMMISSIONED' })).toBe(1);
  });

  it('closes a device publishing under another id; nothing reaches subscribers or rules', async () => {
    const mallory = await registerDevice(t.api, 'generic-panic-button', 'site-b1');
    const victim = await registerDevice(t.api, 'generic-panic-button', 'site-b1');
    // A staff client watching every hub topic it may see, and a raw wildcard attempt.
    const token = (await t.api.post<{ token: string }>('/api/v1/people/admin/tokens', { label: 'watch' }))
      .body.token;
    const watcher = await mqtt.connectAsync(url, {
      clientId: 'admin:watch',
      username: 'admin',
      password: token,
      reconnectPeriod: 0,
    });
    const seen: string[] = [];
    watcher.on('message', (topicName) => seen.push(topicName));
    expect(await granted(watcher, 'gh/v1/hub/#')).toBe(1);
    expect(await granted(watcher, '#')).toBe(128);

    const before = metricValue(await metrics(t), 'gridhub_errors_total', {
      code: 'GH_ERR_MQTT_PUBLISH_FORBIDDEN',
    });
    const client = await connectDevice(t, mallory);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(
      topic(victim.id, 'event'),
      JSON.stringify({ eventId: 'forged-1', type: 'press', kind: 'single' }),
      { qos: 1 },
    );
    await closed;
    expect(
      metricValue(await metrics(t), 'gridhub_errors_total', { code: 'GH_ERR_MQTT_PUBLISH_FORBIDDEN' }),
    ).toBe(before + 1);
    client.end(true);

    // Prove absence against a positive control: a genuine press by the victim arrives on both.
    const genuine = await connectDevice(t, victim);
    await genuine.publishAsync(
      topic(victim.id, 'event'),
      JSON.stringify({ eventId: 'real-1', type: 'press' }),
      { qos: 1 },
    );
    const victimEventTopic = (s: string) => s.startsWith('gh/v1/hub/event/') && s.endsWith(`/${victim.id}`);
    await waitFor(() => seen.some(victimEventTopic), { what: 'genuine press on the hub topic' });
    const victimEvents = events.filter((e) => e.deviceId === victim.id).map((e) => e.event.eventId);
    expect(victimEvents).toEqual(['real-1']);
    expect(seen.filter(victimEventTopic)).toHaveLength(1);
    expect(seen.some((s) => s.startsWith('gh/v1/dev/'))).toBe(false);
    const view = await t.api.get<{ accepted: { excerpt: string }[] }>(
      `/api/v1/devices/${victim.id}/commissioning`,
    );
    expect(JSON.stringify(view.body)).not.toContain('forged-1');
    await genuine.endAsync();
    await watcher.endAsync();
  });

  it('lets a device subscribe only to its own command topic', async () => {
    const a = await registerDevice(t.api, 'gbt24476-elevator', 'site-b1');
    const b = await registerDevice(t.api, 'gbt24476-elevator', 'site-b1');
    const client = await connectDevice(t, a);
    expect(await granted(client, topic(a.id, 'cmd'))).toBe(1);
    expect(await granted(client, topic(b.id, 'cmd'))).toBe(128);
    expect(await granted(client, 'gh/v1/hub/#')).toBe(128);
    expect(client.connected).toBe(true);
    expect(
      metricValue(await metrics(t), 'gridhub_errors_total', { code: 'GH_ERR_MQTT_SUBSCRIBE_FORBIDDEN' }),
    ).toBeGreaterThanOrEqual(2);
    await client.endAsync();
  });

  it('gives staff clients hub topics within their jurisdiction only', async () => {
    const workerToken = people['p-grid-worker-1'].token as string;
    expect((await connectError(url, { username: 'p-installer', password: workerToken })).code).toBe(4);
    const worker = await mqtt.connectAsync(url, {
      clientId: 'p-grid-worker-1:app',
      username: 'p-grid-worker-1',
      password: workerToken,
      reconnectPeriod: 0,
    });
    expect(await granted(worker, 'gh/v1/hub/event/#')).toBe(1);
    expect(await granted(worker, 'gh/v1/dev/+/event')).toBe(128);
    const got: string[] = [];
    worker.on('message', (_topic, payload) =>
      got.push((JSON.parse(payload.toString()) as DeviceEvent).deviceId),
    );

    const inside = await registerDevice(t.api, 'generic-water-leak', 'site-b4-basement'); // grid 1
    const outside = await registerDevice(t.api, 'generic-water-leak', 'site-b7'); // grid 2
    for (const d of [outside, inside]) {
      const c = await connectDevice(t, d);
      await c.publishAsync(topic(d.id, 'event'), JSON.stringify({ eventId: 'w-1', type: 'leak' }), {
        qos: 1,
      });
      await c.endAsync();
    }
    await waitFor(() => got.includes(inside.id), { what: 'in-jurisdiction event' });
    await waitFor(() => events.some((e) => e.deviceId === outside.id), { what: 'outside event processed' });
    expect(got).not.toContain(outside.id);
    await worker.endAsync();
  });

  it('ends a live session when the secret is rotated', async () => {
    const d = await registerDevice(t.api, 'gbt24476-elevator', 'site-b1');
    const client = await connectDevice(t, d);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const rotated = await people['p-installer'].post<{ secret: string }>(
      `/api/v1/devices/${d.id}/rotate-secret`,
    );
    await closed;
    client.end(true);
    expect((await connectError(url, { username: d.id, password: d.secret })).code).toBe(4);
    expect(
      (await connectError(url, { clientId: d.id, username: d.id, password: rotated.body.secret })).message,
    ).toBe('connected');
  });

  it('refuses an MQTT 5 CONNECT clearly (aedes 1.x speaks 3.1.1 and 3.1)', async () => {
    const d = await registerDevice(t.api, 'generic-nb-smoke', 'site-b1');
    const refused = await connectError(url, { username: d.id, password: d.secret, protocolVersion: 5 });
    expect(refused.message).toMatch(/Unacceptable protocol version/);
  });
});
