/**
 * An event storm does not end the process (issue 16's bench found it): 1,000 devices send QoS 1
 * events at 5,000 per second in all while a staff client takes every event on gh/v1/hub/event/#.
 * With a cap on messages in delivery, mqemitter drained its backlog by recursion and the hub died
 * of a stack overflow. The hub must stay up, stop cleanly, and republish every event it
 * acknowledged — or, where the staff output could not keep up (ordinary output gives way to the
 * devices and alarms; output/staff-output.ts), count it as dropped: none goes missing unannounced.
 * Rates are not asserted (the bench reports them).
 */
import { describe, expect, it } from 'vitest';
import { runLoad } from '../../../device-sim/src/load.ts';
import { loadExample } from '../helpers/community.ts';
import { metricValue } from '../helpers/devices.ts';
import { HubProcess } from '../helpers/hub-process.ts';
import { tempDirs } from '../helpers/test-hub.ts';

const newDir = tempDirs('gridhub-storm-');

describe('an event storm', () => {
  it('keeps the hub up and republishes every acknowledged event', async () => {
    const hub = new HubProcess(newDir(), {
      GRIDHUB_MQTT_RATE_PER_SECOND: '1000',
      GRIDHUB_MQTT_RATE_BURST: '1000',
    });
    await hub.start();
    try {
      await loadExample(hub.api);
      const csv = ['model,site', ...Array.from({ length: 1000 }, () => 'generic-nb-smoke,site-b1')].join(
        '\n',
      );
      const imported = await hub.api.post<{ registered: { id: string; secret: string }[] }>(
        '/api/v1/devices/import',
        csv,
        'text/csv',
      );
      expect(imported.status).toBe(200);
      const devices = imported.body.registered.map((r) => ({ id: r.id, secret: r.secret }));
      const token = (await hub.api.post<{ token: string }>('/api/v1/people/admin/tokens', { label: 'storm' }))
        .body.token;
      const result = await runLoad({
        url: `mqtt://127.0.0.1:${hub.mqttPort}`,
        devices,
        rate: 5000,
        seconds: 8,
        qos: 1,
        subscribe: { topic: 'gh/v1/hub/event/#', options: { username: 'admin', password: token } },
        drainMs: 30_000,
      });
      const metrics = await hub.metrics();
      const dropped = metricValue(metrics, 'gridhub_staff_output_dropped_total', { topic: 'hubEvent' });
      console.log(
        `event storm: sent ${result.sent}, acknowledged ${result.acked}, republished ${result.received}, dropped ${dropped}`,
      );
      expect(result.acked).toBeGreaterThan(0);
      // the backlog drained while the subscriber listened: what was not dropped was sent to it
      expect(metricValue(metrics, 'gridhub_staff_output_queued')).toBe(0);
      expect(result.received + dropped).toBeGreaterThanOrEqual(result.acked);
      expect((await fetch(`${hub.url}/health`)).status).toBe(200);
      expect(hub.output).not.toContain('RangeError');
    } finally {
      // a clean stop (exit 0) is part of the promise
      await hub.stop();
    }
  });
});
