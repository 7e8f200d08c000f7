/**
 * Proves: the same QoS 1 event delivered twice (same eventId) is emitted once, also after a hub
 * restart; a device that stops heartbeating goes offline after its (test-shortened) deadline; killing a
 * device's socket marks it offline at once through its last will; after a restart a silent device
 * still goes offline at its original deadline, not one reset by the restart.
 */
import { describe, expect, it } from 'vitest';
import type { DeviceEvent, PresenceChange } from '../../src/contract/device-event.ts';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, ELEVATOR_IDLE, registerDevice, topic } from '../helpers/devices.ts';
import { startTestHub, tempDirs } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const newDir = tempDirs();

describe('event deduplication', () => {
  it('emits a redelivered event once, also across a restart', async () => {
    const dataDir = newDir();
    const first = await startTestHub({ dataDir });
    await loadExample(first.api);
    const d = await registerDevice(first.api, 'generic-panic-button', 'site-school-gate');
    const seen: DeviceEvent[] = [];
    first.hub.bus.on('device.event', (e) => {
      seen.push(e);
    });
    const press = JSON.stringify({ eventId: 'press-42', type: 'press', kind: 'long' });
    const c1 = await connectDevice(first, d);
    await c1.publishAsync(topic(d.id, 'event'), press, { qos: 1 });
    // A redelivery as a device sends it after a lost PUBACK: same eventId, DUP flag set.
    await c1.publishAsync(topic(d.id, 'event'), press, { qos: 1, dup: true });
    await c1.publishAsync(topic(d.id, 'event'), JSON.stringify({ eventId: 'press-43', type: 'press' }), {
      qos: 1,
    });
    await waitFor(() => seen.some((e) => e.event.eventId === 'press-43'));
    expect(seen.map((e) => e.event.eventId)).toEqual(['press-42', 'press-43']);
    await c1.endAsync();
    await first.stop();

    const second = await startTestHub({ dataDir });
    const after: DeviceEvent[] = [];
    second.hub.bus.on('device.event', (e) => {
      after.push(e);
    });
    const c2 = await connectDevice(second, d);
    await c2.publishAsync(topic(d.id, 'event'), press, { qos: 1 });
    await c2.publishAsync(topic(d.id, 'event'), JSON.stringify({ eventId: 'press-44', type: 'press' }), {
      qos: 1,
    });
    await waitFor(() => after.some((e) => e.event.eventId === 'press-44'));
    expect(after.map((e) => e.event.eventId)).toEqual(['press-44']);
    const view = await second.api.get<{ accepted: { what: string; duplicate?: boolean }[] }>(
      `/api/v1/devices/${d.id}/commissioning`,
    );
    expect(view.body.accepted.filter((a) => a.duplicate)).toHaveLength(2);
    await c2.endAsync();
    await second.stop();
  });
});

describe('presence', () => {
  it('marks a silent device offline at its deadline, and a killed socket offline at once by its will', async () => {
    // Elevator monitor: 60 s heartbeat + 60 s grace; scaled by 0.01 → 1.2 s.
    const t = await startTestHub({
      dataDir: newDir(),
      overrides: { 'presence.timeScale': 0.01, 'presence.sweepMs': 50 },
    });
    await loadExample(t.api);
    const changes: PresenceChange[] = [];
    t.hub.bus.on('device.presence', (p) => {
      changes.push(p);
    });
    const elevator = await registerDevice(t.api, 'gbt24476-elevator', 'site-b1');
    const c = await connectDevice(t, elevator, { clean: true });
    const online = await waitFor(() => changes.find((p) => p.deviceId === elevator.id && p.online));
    const state = ELEVATOR_IDLE;
    await c.publishAsync(topic(elevator.id, 'telemetry'), JSON.stringify(state));
    const lastHeard = Date.now();
    // The TCP session stays open (keep-alive), but the monitor stops reporting: silence is what counts.
    const offline = await waitFor(() => changes.find((p) => p.deviceId === elevator.id && !p.online), {
      timeoutMs: 5000,
    });
    expect(offline.reason).toBe('deadline');
    expect(offline.at - lastHeard).toBeGreaterThanOrEqual(1100);
    expect(online.reason).toBe('connect');
    expect((await t.api.get<{ online: boolean }>(`/api/v1/devices/${elevator.id}`)).body.online).toBe(false);
    await c.endAsync();

    // A smoke detector (25 h deadline) with a last will: killing its socket is offline at once.
    const smoke = await registerDevice(t.api, 'generic-nb-smoke', 'site-b1');
    const s = await connectDevice(t, smoke, {
      will: {
        topic: topic(smoke.id, 'status'),
        payload: Buffer.from('{"state":"offline"}'),
        qos: 1,
        retain: true,
      },
    });
    await s.publishAsync(topic(smoke.id, 'status'), '{"state":"online"}', { qos: 1, retain: true });
    await waitFor(() => changes.find((p) => p.deviceId === smoke.id && p.online));
    const killedAt = Date.now();
    s.stream.destroy();
    const gone = await waitFor(() => changes.find((p) => p.deviceId === smoke.id && !p.online), {
      timeoutMs: 3000,
    });
    expect(gone.reason).toBe('will');
    expect(Date.now() - killedAt).toBeLessThan(2000);
    s.end(true);
    await t.cleanup();
  });

  it('keeps a silent device’s original deadline across a restart', async () => {
    const dataDir = newDir();
    // Elevator: 120 s × 0.025 = 3 s deadline.
    const overrides = { 'presence.timeScale': 0.025, 'presence.sweepMs': 50 };
    const first = await startTestHub({ dataDir, overrides });
    await loadExample(first.api);
    const elevator = await registerDevice(first.api, 'gbt24476-elevator', 'site-b1');
    const c = await connectDevice(first, elevator);
    const state = ELEVATOR_IDLE;
    await c.publishAsync(topic(elevator.id, 'telemetry'), JSON.stringify(state));
    const lastHeard = Date.now();
    await c.endAsync(); // a clean DISCONNECT: no will, so only the deadline can say it is gone
    await first.stop();
    // The hub stays down for 1.5 s, so the original deadline (lastHeard + 3 s) and a deadline reset
    // by the restart (restart + 3 s) are 1.5 s apart.
    await waitFor(() => Date.now() >= lastHeard + 1500, { timeoutMs: 3000, what: 'downtime' });

    const second = await startTestHub({ dataDir, overrides });
    const restartedAt = Date.now();
    const changes: PresenceChange[] = [];
    second.hub.bus.on('device.presence', (p) => {
      changes.push(p);
    });
    expect((await second.api.get<{ online: boolean }>(`/api/v1/devices/${elevator.id}`)).body.online).toBe(
      true,
    );
    const offline = await waitFor(() => changes.find((p) => p.deviceId === elevator.id && !p.online), {
      timeoutMs: 6000,
    });
    const wentOfflineAt = Date.now();
    expect(offline.reason).toBe('deadline');
    // Original deadline: lastHeard + 3 s. A deadline reset by the restart would be restartedAt + 3 s.
    expect(wentOfflineAt).toBeGreaterThanOrEqual(lastHeard + 2900);
    expect(wentOfflineAt).toBeLessThan(restartedAt + 2500);
    await second.stop();
  });

  it('fires a deadline that passed while the hub was down at start', async () => {
    const dataDir = newDir();
    const overrides = { 'presence.timeScale': 0.005, 'presence.sweepMs': 50 }; // elevator: 0.6 s
    const first = await startTestHub({ dataDir, overrides });
    await loadExample(first.api);
    const elevator = await registerDevice(first.api, 'gbt24476-elevator', 'site-b1');
    const c = await connectDevice(first, elevator);
    const lastHeard = Date.now();
    await c.endAsync();
    await first.stop();
    // The hub is down past the device's 0.6 s deadline.
    await waitFor(() => Date.now() >= lastHeard + 800, { what: 'downtime' });
    const second = await startTestHub({ dataDir, overrides });
    const res = await second.api.get<{ online: boolean }>(`/api/v1/devices/${elevator.id}`);
    expect(res.body.online).toBe(false);
    await second.stop();
  });
});
