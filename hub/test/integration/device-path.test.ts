/**
 * Proves the device path end to end with clients nobody here wrote (Debian's mosquitto_pub) and
 * MQTT.js: a registered device's schema-valid smoke alarm shows in the commissioning view and on the
 * bus, and the device turns active and online; not-JSON, schema-invalid, unknown-type and oversized
 * payloads are each refused with their own code, visible in the commissioning view and /metrics, while
 * the same connection's later valid messages still work; a giant frame is cut at the transport.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceEvent } from '../../src/contract/device-event.ts';
import type { DeviceView } from '../../src/devices/device-schemas.ts';
import { loadExample } from '../helpers/community.ts';
import {
  connectDevice,
  metrics,
  metricValue,
  mosquittoPub,
  type Registered,
  registerDevice,
  topic,
} from '../helpers/devices.ts';
import { startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

interface Commissioning {
  device: DeviceView;
  accepted: { what: string; duplicate?: boolean }[];
  rejected: { code: string; reason: string; excerpt: string }[];
}

describe('device path', () => {
  let t: TestHub;
  const events: DeviceEvent[] = [];
  beforeAll(async () => {
    t = await startTestHub({ overrides: { 'mqtt.maxPayloadBytes': 1024 } });
    await loadExample(t.api);
    t.hub.bus.on('device.event', (e) => {
      events.push(e);
    });
  });
  afterAll(async () => t.cleanup());

  it('takes a smoke alarm from mosquitto_pub: commissioning view, bus, active and online', async () => {
    const d = await registerDevice(t.api, 'generic-nb-smoke', 'site-b2');
    expect(d.device.status).toBe('provisioned');
    const pub = await mosquittoPub([
      '-h',
      '127.0.0.1',
      '-p',
      String(t.hub.broker.port),
      '-V',
      'mqttv311',
      '-i',
      d.id,
      '-u',
      d.id,
      '-P',
      d.secret,
      '-t',
      topic(d.id, 'event'),
      '-q',
      '1',
      '-m',
      JSON.stringify({ eventId: 'mp-1', type: 'smoke.alarm', smokeDensity: 0.31, extraVendorField: 'x' }),
    ]);
    expect(pub.code, pub.output).toBe(0);
    const seen = await waitFor(() => events.find((e) => e.deviceId === d.id), {
      what: 'smoke alarm on the bus',
    });
    expect(seen.deviceType).toBe('smoke-detector');
    expect(seen.event).toEqual({ eventId: 'mp-1', type: 'smoke.alarm', smokeDensity: 0.31 });
    expect(seen).toMatchObject({
      siteId: 'site-b2',
      gridNodeId: 'mg-xinghua-1-a',
      emergencyUnitId: 'eu-block-1',
    });

    const view = await t.api.get<Commissioning>(`/api/v1/devices/${d.id}/commissioning`);
    expect(view.status).toBe(200);
    expect(view.body.accepted[0]?.what).toBe('smoke.alarm');
    expect(view.body.device).toMatchObject({ status: 'active', online: true });
    // The list filters in the store, which trails the live state by up to one presence flush
    // (250 ms) and the activation write: wait for it rather than race them.
    const listed = await waitFor(async () => {
      const res = await t.api.get<{ items: DeviceView[] }>(
        `/api/v1/devices?site=site-b2&online=true&status=active`,
      );
      return res.body.items.some((x) => x.id === d.id) ? res : undefined;
    });
    expect(listed.body.items.map((x) => x.id)).toContain(d.id);
  });

  it('refuses bad payloads each with its own code and keeps the connection working', async () => {
    const d: Registered = await registerDevice(t.api, 'generic-nb-smoke', 'site-b3');
    const client = await connectDevice(t, d);
    const before = await metrics(t);
    const send = (payload: string) => client.publishAsync(topic(d.id, 'event'), payload, { qos: 1 });
    await send('{"eventId": "x1", "type": "smoke.alarm"'); // not JSON
    await send(JSON.stringify({ type: 'smoke.alarm' })); // no eventId
    await send(JSON.stringify({ eventId: 'x3', type: 'smoke.party' })); // unknown type
    await send(JSON.stringify({ eventId: 'x4', type: 'smoke.alarm', note: 'y'.repeat(2000) })); // oversized (limit 1024)
    await send(JSON.stringify({ eventId: 'x5', type: 'selftest', result: 'ok' })); // valid, same connection
    await waitFor(() => events.some((e) => e.deviceId === d.id && e.event.eventId === 'x5'), {
      what: 'valid event after rejects',
    });
    expect(client.connected).toBe(true);
    expect(events.filter((e) => e.deviceId === d.id).map((e) => e.event.eventId)).toEqual(['x5']);

    const view = await t.api.get<Commissioning>(`/api/v1/devices/${d.id}/commissioning`);
    expect(view.body.rejected.map((r) => r.code).reverse()).toEqual([
      'GH_ERR_PAYLOAD_NOT_JSON',
      'GH_ERR_PAYLOAD_SCHEMA',
      'GH_ERR_EVENT_TYPE_UNKNOWN',
      'GH_ERR_PAYLOAD_TOO_LARGE',
    ]);
    expect(view.body.rejected.find((r) => r.code === 'GH_ERR_PAYLOAD_SCHEMA')?.reason).toMatch(/eventId/);
    expect(view.body.accepted[0]?.what).toBe('selftest');

    const after = await metrics(t);
    for (const code of [
      'GH_ERR_PAYLOAD_NOT_JSON',
      'GH_ERR_PAYLOAD_SCHEMA',
      'GH_ERR_EVENT_TYPE_UNKNOWN',
      'GH_ERR_PAYLOAD_TOO_LARGE',
    ]) {
      expect(
        metricValue(after, 'gridhub_errors_total', { code }) -
          metricValue(before, 'gridhub_errors_total', { code }),
        code,
      ).toBe(1);
    }
    await client.endAsync();
  });

  it('validates telemetry against the model and normalises a vendor model', async () => {
    const elevator = await registerDevice(t.api, 'gbt24476-elevator', 'site-b1');
    const acme = await registerDevice(t.api, 'acme-nb-smoke-s1', 'site-b1');
    const telemetry: unknown[] = [];
    t.hub.bus.on('device.telemetry', (x) => {
      telemetry.push(x);
    });
    const el = await connectDevice(t, elevator);
    await el.publishAsync(
      topic(elevator.id, 'telemetry'),
      JSON.stringify({
        serviceMode: 1,
        moving: true,
        direction: 'up',
        floor: 3,
        doorZone: false,
        door: 'closed',
        occupied: true,
        speed: 1.0,
      }),
    );
    await el.publishAsync(topic(elevator.id, 'telemetry'), JSON.stringify({ serviceMode: 9, moving: 'yes' }));
    await waitFor(() => telemetry.length === 1, { what: 'elevator telemetry' });
    const view = await waitFor(async () => {
      const res = await t.api.get<Commissioning>(`/api/v1/devices/${elevator.id}/commissioning`);
      return res.body.rejected.length === 1 ? res.body : undefined;
    });
    expect(view.rejected[0]?.code).toBe('GH_ERR_PAYLOAD_SCHEMA');
    expect(view.rejected[0]?.reason).toMatch(/serviceMode/);

    const ac = await connectDevice(t, acme);
    await ac.publishAsync(
      topic(acme.id, 'event'),
      JSON.stringify({ eventId: 'a-1', code: 1, density: 4.2 }),
      { qos: 1 },
    );
    const normalised = await waitFor(() => events.find((e) => e.deviceId === acme.id));
    expect(normalised.event).toEqual({ eventId: 'a-1', type: 'smoke.alarm', smokeDensity: 4.2 });
    await el.endAsync();
    await ac.endAsync();
  });

  it('cuts a giant frame at the transport, counts it, and keeps serving others', async () => {
    const d = await registerDevice(t.api, 'generic-water-leak', 'site-b4-basement');
    const client = await connectDevice(t, d);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const before = metricValue(await metrics(t), 'gridhub_errors_total', {
      code: 'GH_ERR_PAYLOAD_TOO_LARGE',
    });
    client.publish(topic(d.id, 'event'), Buffer.alloc(2 * 1024 * 1024, 0x20), { qos: 0 });
    await closed;
    expect(metricValue(await metrics(t), 'gridhub_errors_total', { code: 'GH_ERR_PAYLOAD_TOO_LARGE' })).toBe(
      before + 1,
    );
    client.end(true);
    const again = await connectDevice(t, d);
    await again.publishAsync(topic(d.id, 'event'), JSON.stringify({ eventId: 'l-1', type: 'leak' }), {
      qos: 1,
    });
    await waitFor(() => events.some((e) => e.deviceId === d.id && e.event.eventId === 'l-1'));
    await again.endAsync();
  });
});
