/**
 * Proves: staff output gives life-safety messages priority over ordinary ones. An alert, a person
 * message, a ticket change and a life-safety event are published at once, ahead of every ordinary
 * event and presence change already waiting; ordinary messages go out in order on later turns of the
 * event loop; when more wait than the bound, the oldest ordinary ones are dropped and counted, and
 * alerts are never dropped. (The broker is replaced by a recorder of what it was asked to publish:
 * what is under test is the order and the dropping, not MQTT.)
 */
import { describe, expect, it } from 'vitest';
import type { DeliveryScope } from '../../src/bus.ts';
import { Bus } from '../../src/bus.ts';
import type { DeviceEvent, PresenceChange } from '../../src/contract/device-event.ts';
import { createLogger } from '../../src/logger.ts';
import { Metrics } from '../../src/metrics.ts';
import { StaffOutput } from '../../src/output/staff-output.ts';
import { DropOldestQueue } from '../../src/output/staff-queue.ts';

const place = {
  modelId: 'generic-panic-button',
  siteId: 'site-a',
  gridNodeId: 'g-1',
  gridPath: '/d/g-1/',
  emergencyUnitId: 'eu-1',
};
const scope: DeliveryScope = { gridPath: '/d/g-1/', siteId: 'site-a', emergencyUnitId: 'eu-1' };

function press(deviceId: string, eventId: string): DeviceEvent {
  return {
    ...place,
    deviceId,
    deviceType: 'panic-button',
    receivedAt: 1,
    at: 1,
    event: { eventId, type: 'press', kind: 'single' },
  } as DeviceEvent;
}
function battery(deviceId: string, eventId: string): DeviceEvent {
  return { ...press(deviceId, eventId), event: { eventId, type: 'battery.low' } } as DeviceEvent;
}
function presence(deviceId: string): PresenceChange {
  return { ...place, deviceId, deviceType: 'panic-button', online: true, at: 1, reason: 'connect' };
}

function setUp(maxQueued = 100) {
  const bus = new Bus(createLogger('silent'));
  const metrics = new Metrics();
  const published: string[] = [];
  const output = new StaffOutput(
    bus,
    // like the broker: called back once the copies are written, on a later turn
    {
      publishToStaff: (topic, _payload, _scope, delivered) => {
        published.push(topic);
        if (delivered) setImmediate(delivered);
      },
    },
    metrics,
    createLogger('silent'),
    { maxQueued, budgetMs: 5, lifeSafety: (e) => e.event.type === 'press' },
  );
  return { bus, metrics, published, output };
}

const turn = () => new Promise((r) => setImmediate(r));

async function dropped(metrics: Metrics, topic: string): Promise<number> {
  const m = await metrics.staffOutputDropped.get();
  return m.values.find((v) => v.labels.topic === topic)?.value ?? 0;
}

describe('staff output', () => {
  it('publishes alerts, person messages, tickets and life-safety events ahead of waiting ordinary output', async () => {
    const { bus, published, output } = setUp();
    await output.start();
    for (let i = 0; i < 5; i++) bus.emit('device.event', battery('dev-b', `b-${i}`));
    bus.emit('device.presence', presence('dev-b'));
    bus.emit('device.event', press('dev-p', 'p-1'));
    bus.emit('person.delivery', { topic: 'personAlert', personId: 'p-leader', payload: { n: 1 } });
    expect(published).toEqual(['gh/v1/hub/event/g-1/site-a/dev-p', 'gh/v1/hub/person/p-leader/alert']);

    // the ordinary ones follow on a later turn of the loop, in the order they came
    await turn();
    await turn();
    expect(published.slice(2)).toEqual([
      ...Array.from({ length: 5 }, () => 'gh/v1/hub/event/g-1/site-a/dev-b'),
      'gh/v1/hub/presence/g-1/site-a/dev-b',
    ]);
    await output.stop();
  });

  it('drops the oldest ordinary messages beyond its bound, counts them, and never drops an alert', async () => {
    const { bus, metrics, published, output } = setUp(10);
    await output.start();
    for (let i = 0; i < 25; i++) bus.emit('device.event', battery(`dev-${i}`, `b-${i}`));
    for (let i = 0; i < 30; i++)
      bus.emit('alert.changed', {
        seq: i,
        action: 'raised',
        alert: { id: `a-${i}`, gridNodeId: 'g-1', siteId: 'site-a' } as never,
        scope,
      });
    expect(published).toHaveLength(30); // every alert, at once
    expect(await dropped(metrics, 'hubEvent')).toBe(15);
    expect((await metrics.staffOutputQueued.get()).values[0]?.value).toBe(10);

    await turn();
    await turn();
    // the ten newest ordinary events went out, the fifteen oldest did not
    expect(published.slice(30)).toEqual(
      Array.from({ length: 10 }, (_, i) => `gh/v1/hub/event/g-1/site-a/dev-${15 + i}`),
    );
    expect((await metrics.staffOutputQueued.get()).values[0]?.value).toBe(0);
    await output.stop();
  });

  it('publishes nothing more after stop', async () => {
    const { bus, published, output } = setUp();
    await output.start();
    bus.emit('device.event', battery('dev-b', 'b-1'));
    await output.stop();
    await turn();
    bus.emit('device.event', press('dev-p', 'p-1'));
    expect(published).toEqual([]);
  });
});

describe('drop-oldest queue', () => {
  it('keeps order across wrap-around and returns what it drops', () => {
    const q = new DropOldestQueue<number>(3);
    expect([q.push(1), q.push(2), q.push(3)]).toEqual([undefined, undefined, undefined]);
    expect(q.push(4)).toBe(1);
    expect(q.shift()).toBe(2);
    q.push(5);
    expect([q.shift(), q.shift(), q.shift(), q.shift()]).toEqual([3, 4, 5, undefined]);
    expect(q.size).toBe(0);
  });
});
