/**
 * Proves overload safety: one authenticated client floods the hub as fast as it can (Debian's
 * mosquitto_pub fed by `yes`, reconnecting whenever it is cut off), QoS 0 for 10 s then QoS 1 for 10 s,
 * while a well-behaved device sends 100 QoS 1 events. The hub stays up, the process's memory stays
 * within the stated bound, the flooder is throttled and disconnected (counted in /metrics), and all 100
 * events are emitted exactly once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceEvent } from '../../src/contract/device-event.ts';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, metrics, metricValue, registerDevice, topic } from '../helpers/devices.ts';
import { startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const MEMORY_BOUND_BYTES = 256 * 1024 * 1024;
const PHASE_MS = 10_000;

describe('flood', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub({ overrides: { 'mqtt.floodDisconnectSeconds': 3 } });
    await loadExample(t.api);
  });
  afterAll(async () => t.cleanup());

  it('keeps serving a well-behaved device while one client floods with QoS 0, then QoS 1', {
    timeout: 90_000,
  }, async () => {
    const flooder = await registerDevice(t.api, 'generic-water-leak', 'site-b4-basement');
    const good = await registerDevice(t.api, 'generic-panic-button', 'site-school-gate');
    const emitted: DeviceEvent[] = [];
    t.hub.bus.on('device.event', (e) => {
      if (e.deviceId === good.id) emitted.push(e);
    });

    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 200);

    const flood = (qos: 0 | 1): ChildProcess => {
      const args = [
        '-h',
        '127.0.0.1',
        '-p',
        String(t.hub.broker.port),
        '-u',
        flooder.id,
        '-P',
        flooder.secret,
        '-t',
        topic(flooder.id, 'telemetry'),
        '-q',
        String(qos),
        '-l',
      ];
      // Reconnect and keep flooding whenever the hub cuts the client off, as a broken device would.
      const script = `while true; do yes '{"battery":50}' | mosquitto_pub ${args.map((a) => `'${a}'`).join(' ')} 2>/dev/null; done`;
      return spawn('sh', ['-c', script], { stdio: 'ignore', detached: true });
    };
    const stop = (child: ChildProcess) => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    };

    const client = await connectDevice(t, good, { keepalive: 10 });
    const sendEvents = async (from: number, to: number, everyMs: number) => {
      for (let i = from; i < to; i++) {
        await client.publishAsync(
          topic(good.id, 'event'),
          JSON.stringify({ eventId: `ev-${i}`, type: 'press' }),
          { qos: 1 },
        );
        await new Promise((r) => setTimeout(r, everyMs));
      }
    };

    const qos0 = flood(0);
    await sendEvents(0, 50, PHASE_MS / 50);
    stop(qos0);
    const qos1 = flood(1);
    await sendEvents(50, 100, PHASE_MS / 50);
    stop(qos1);
    clearInterval(sampler);

    await waitFor(() => emitted.length >= 100, { timeoutMs: 10_000, what: '100 events' });
    const ids = emitted.map((e) => e.event.eventId);
    expect(ids).toHaveLength(100);
    expect(new Set(ids).size).toBe(100);
    expect(peak - baseline).toBeLessThan(MEMORY_BOUND_BYTES);

    const m = await metrics(t);
    expect(metricValue(m, 'gridhub_errors_total', { code: 'GH_ERR_RATE_LIMITED' })).toBeGreaterThan(0);
    expect(metricValue(m, 'gridhub_errors_total', { code: 'GH_ERR_FLOOD_DISCONNECT' })).toBeGreaterThan(0);
    expect((await fetch(`${t.url}/ready`)).status).toBe(200);
    // The flooder's accepted telemetry never exceeded its rate: 50/s sustained + 200 burst per connection.
    expect(client.connected).toBe(true);
    await client.endAsync();
  });
});
