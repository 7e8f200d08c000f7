/**
 * Contract details a device maker hits (issues 13 and 15): every accepted event is kept in the local
 * series store, with or without a code; an empty retained publish clears the status instead of being
 * refused; a connection that publishes a retained "offline" and leaves ends offline; a topic outside
 * the contract under the device's own id is dropped as GH_ERR_TOPIC_UNKNOWN (the connection stays);
 * a device clock far off is replaced by the receive time (GH_ERR_DEVICE_CLOCK), and no read route
 * answers 500 for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import {
  connectDevice,
  metrics,
  metricValue,
  mosquittoPub,
  registerDevice,
  tickets,
  topic,
} from '../helpers/devices.ts';
import { startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

describe('protocol details', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub({ overrides: { 'series.flushMs': 50 } });
    await loadExample(t.api);
  });
  afterAll(() => t.cleanup());

  it('keeps every accepted event in the local series store, with or without a code', async () => {
    const d = await registerDevice(t.api, 'generic-nb-smoke', 'site-b2');
    const c = await connectDevice(t, d, { clientId: d.id });
    const sent = [
      { eventId: 'k-1', type: 'smoke.alarm' },
      { eventId: 'k-2', type: 'tamper' },
      { eventId: 'k-3', type: 'battery.low', battery: 9 },
      { eventId: 'k-4', type: 'fault.clear' },
      { eventId: 'k-5', type: 'fault', code: 'E42' },
    ];
    for (const [i, e] of sent.entries())
      await c.publishAsync(topic(d.id, 'event'), JSON.stringify({ ...e, ts: Date.now() - 10_000 + i }), {
        qos: 1,
      });
    await c.endAsync();
    const stored = await waitFor(
      async () => {
        const rows = await t.hub.localSeries.events(d.id, Date.now() - 60_000, Date.now() + 1);
        return rows.length === sent.length ? rows : undefined;
      },
      { what: 'all five events in the local store' },
    );
    expect(stored.map((r) => [r.type, r.code])).toEqual([
      ['smoke.alarm', null],
      ['tamper', null],
      ['battery.low', null],
      ['fault.clear', null],
      ['fault', 'E42'],
    ]);
  });

  it('takes an empty retained status publish as a clear, not as bad JSON', async () => {
    const d = await registerDevice(t.api, 'generic-water-leak', 'site-b2');
    const args = ['-h', '127.0.0.1', '-p', String(t.hub.broker.port), '-i', d.id, '-u', d.id, '-P', d.secret];
    const clear = await mosquittoPub([...args, '-q', '1', '-r', '-t', topic(d.id, 'status'), '-n']);
    expect(clear.code).toBe(0);
    const view = await waitFor(async () => {
      const res = await t.api.get<{ accepted: { what: string }[]; rejected: { code: string }[] }>(
        `/api/v1/devices/${d.id}/commissioning`,
      );
      return res.body.accepted.some((a) => a.what === 'status cleared') ? res.body : undefined;
    });
    expect(view.rejected).toEqual([]);
    // Positive control: a non-JSON status is still refused with its code.
    await mosquittoPub([...args, '-q', '1', '-t', topic(d.id, 'status'), '-m', 'not json']);
    await waitFor(async () => {
      const res = await t.api.get<{ rejected: { code: string }[] }>(`/api/v1/devices/${d.id}/commissioning`);
      return res.body.rejected.some((r) => r.code === 'GH_ERR_PAYLOAD_NOT_JSON');
    });
  });

  it('ends offline after a short connection that publishes a retained offline status', async () => {
    const d = await registerDevice(t.api, 'gbt24476-elevator', 'site-b1');
    const args = ['-h', '127.0.0.1', '-p', String(t.hub.broker.port), '-i', d.id, '-u', d.id, '-P', d.secret];
    for (let round = 0; round < 10; round++) {
      const out = await mosquittoPub([
        ...args,
        '-q',
        '1',
        '-r',
        '-t',
        topic(d.id, 'status'),
        '-m',
        '{"state":"offline"}',
      ]);
      expect(out.code).toBe(0);
      await waitFor(
        async () => {
          const res = await t.api.get<{ online: boolean }>(`/api/v1/devices/${d.id}`);
          return res.body.online === false;
        },
        { what: `offline after round ${round}` },
      );
    }
    // Positive control: an online birth message does make it online.
    await mosquittoPub([...args, '-q', '1', '-r', '-t', topic(d.id, 'status'), '-m', '{"state":"online"}']);
    await waitFor(
      async () => (await t.api.get<{ online: boolean }>(`/api/v1/devices/${d.id}`)).body.online === true,
    );
  });

  it('drops a topic outside the contract under the device’s own id as GH_ERR_TOPIC_UNKNOWN, connection kept', async () => {
    const d = await registerDevice(t.api, 'generic-panic-button', 'site-b2');
    const c = await connectDevice(t, d, { clientId: d.id });
    const before = metricValue(await metrics(t), 'gridhub_errors_total', { code: 'GH_ERR_TOPIC_UNKNOWN' });
    await c.publishAsync(`gh/v1/dev/${d.id}/telemetry/extra`, '{}', { qos: 1 });
    await c.publishAsync(`gh/v1/dev/${d.id}/nonsense`, '{}', { qos: 1 });
    await waitFor(
      async () =>
        metricValue(await metrics(t), 'gridhub_errors_total', { code: 'GH_ERR_TOPIC_UNKNOWN' }) ===
        before + 2,
      { what: 'two GH_ERR_TOPIC_UNKNOWN' },
    );
    expect(c.connected).toBe(true);
    // Positive control: the same connection still delivers an event.
    await c.publishAsync(topic(d.id, 'event'), JSON.stringify({ eventId: 'p-1', type: 'press' }), { qos: 1 });
    await waitFor(async () => (await tickets(t.api, `device=${d.id}`)).length === 1);
    // A device topic under another id is still refused with the connection closed.
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.publish('gh/v1/dev/someone-else/event', '{}', { qos: 1 });
    await closed;
    const forbidden = metricValue(await metrics(t), 'gridhub_errors_total', {
      code: 'GH_ERR_MQTT_PUBLISH_FORBIDDEN',
    });
    expect(forbidden).toBeGreaterThan(0);
  });

  it('replaces an absurd device clock by the receive time; the ticket reads fine', async () => {
    const d = await registerDevice(t.api, 'generic-panic-button', 'site-school-gate');
    const c = await connectDevice(t, d, { clientId: d.id });
    const before = Date.now();
    await c.publishAsync(topic(d.id, 'event'), JSON.stringify({ eventId: 'far', type: 'press', ts: 9e15 }), {
      qos: 1,
    });
    await c.endAsync();
    const [ticket] = await waitFor(async () => {
      const list = await tickets(t.api, `device=${d.id}`);
      return list.length ? list : undefined;
    });
    const detail = await t.api.get<{ links: { kind: string; at: string }[] }>(
      `/api/v1/tickets/${ticket?.id}`,
    );
    expect(detail.status).toBe(200);
    const at = Date.parse(detail.body.links.find((l) => l.kind === 'event')?.at ?? '');
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThan(Date.now() + 1000);
    expect(metricValue(await metrics(t), 'gridhub_errors_total', { code: 'GH_ERR_DEVICE_CLOCK' })).toBe(1);
    const view = await t.api.get<{ accepted: { code?: string }[] }>(`/api/v1/devices/${d.id}/commissioning`);
    expect(view.body.accepted[0]?.code).toBe('GH_ERR_DEVICE_CLOCK');
  });
});
