/**
 * Alarms ahead of the staff fan-out (issue 16). A real hub process has 100 staff subscribers on
 * `gh/v1/hub/#` (the district duty officer's dashboards, Node-RED, apps: every hub message goes to
 * each of them) while 20 devices send ordinary QoS 1 events below their rate limit — more than the
 * hub can republish to 100 subscribers, so ordinary output backs up and, past
 * mqtt.staffQueueMessages, is dropped. Once it is dropping, ten panic buttons are pressed.
 *
 * Proves, by counting: every press reaches the point leader's own topic, and every press's event
 * and alert reach a dashboard; at that dashboard each press's event arrives while ordinary events
 * the hub had acknowledged before the press are still waiting (the alarm overtakes the backlog —
 * order, not time); every ordinary event the hub acknowledged is either delivered to the dashboard
 * or counted as dropped (gridhub_staff_output_dropped_total), and the drop is logged with its code;
 * all 100 subscribers receive the same messages; when the load ends the backlog drains and an
 * ordinary event is delivered again (the positive control). No time is asserted.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { dialDevices, type RawDevice } from '../../../device-sim/src/raw-mqtt.ts';
import { loadExample } from '../helpers/community.ts';
import { metricValue, type Registered, registerDevice, topic } from '../helpers/devices.ts';
import { HubProcess } from '../helpers/hub-process.ts';
import { tempDirs } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const newDir = tempDirs('gridhub-staff-fan-out-');
const SUBSCRIBERS = 100;
const FLOODERS = 20;
const RATE = 40; // events/s per device, below the default mqtt.ratePerSecond (50): none is refused
const PRESSES = 10;
const DUTY = 'p-district-duty'; // sees every grid
const LEADER = 'p-school-principal';

/** Topic and payload of an MQTT 3.1.1 PUBLISH at QoS 0 (MQTT 3.3.2: no packet id). */
function decode(packet: Buffer): { topic: string; payload: string } {
  let at = 1;
  while ((packet[at] as number) & 0x80) at++;
  at++;
  const length = packet.readUInt16BE(at);
  return {
    topic: packet.toString('utf8', at + 2, at + 2 + length),
    payload: packet.toString('utf8', at + 2 + length),
  };
}

async function connect(hub: HubProcess, d: Registered): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, {
    clientId: d.id,
    username: d.id,
    password: d.secret,
    reconnectPeriod: 0,
  });
}

describe('alarms ahead of the staff fan-out', () => {
  const hub = new HubProcess(newDir(), {
    GRIDHUB_MQTT_STAFF_QUEUE_MESSAGES: '100',
    GRIDHUB_LOG_LEVEL: 'warn',
  });
  afterAll(() => hub.stop());

  it('delivers every panic press ahead of the ordinary backlog of 100 subscribers, and counts every drop', {
    timeout: 240_000,
  }, async () => {
    await hub.start();
    const people = await loadExample(hub.api, [DUTY, LEADER]);
    const buttons: Registered[] = [];
    for (let i = 0; i < PRESSES; i++)
      buttons.push(await registerDevice(hub.api, 'generic-panic-button', 'site-school-gate'));
    const flooders: Registered[] = [];
    for (let i = 0; i < FLOODERS; i++)
      flooders.push(await registerDevice(hub.api, 'generic-nb-smoke', 'site-b1'));
    const floodIds = new Set(flooders.map((d) => d.id));
    const buttonIds = new Set(buttons.map((d) => d.id));

    // The leader's app: alerts on the leader's own topic.
    const leader = await mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, {
      clientId: `${LEADER}:app`,
      username: LEADER,
      password: people[LEADER].token,
    });
    const alerted = new Set<string>();
    leader.on('message', (_t, payload) => {
      const { alert } = JSON.parse(payload.toString()) as { alert: { deviceId: string } };
      alerted.add(alert.deviceId);
    });
    await leader.subscribeAsync(`gh/v1/hub/person/${LEADER}/alert`, { qos: 1 });

    // 100 staff subscribers on gh/v1/hub/#; the first one (the "dashboard") decodes what it gets.
    const subscribers: RawDevice[] = await dialDevices(
      `mqtt://127.0.0.1:${hub.mqttPort}`,
      Array.from({ length: SUBSCRIBERS }, (_, i) => ({
        id: `${DUTY}:dashboard-${i}`,
        secret: people[DUTY].token,
      })),
      { username: DUTY },
    );
    await Promise.all(subscribers.map((s) => s.subscribe('gh/v1/hub/#')));
    const dashboard = subscribers[0] as RawDevice;
    /** ordinary flood events the dashboard received, as `deviceId:eventId` */
    const floodSeen = new Set<string>();
    /** at the moment each press's own event reached the dashboard: the flood events seen by then */
    const seenAtPress = new Map<string, Set<string>>();
    const alertsSeen = new Set<string>();
    dashboard.onPublish = (packet) => {
      const { topic: t, payload } = decode(packet);
      if (t.startsWith('gh/v1/hub/event/')) {
        const e = JSON.parse(payload) as { deviceId: string; event: { eventId: string } };
        if (floodIds.has(e.deviceId)) floodSeen.add(`${e.deviceId}:${e.event.eventId}`);
        else if (buttonIds.has(e.deviceId)) seenAtPress.set(e.deviceId, new Set(floodSeen));
      } else if (t.startsWith('gh/v1/hub/alert/')) {
        const { alert, action } = JSON.parse(payload) as { action: string; alert: { deviceId: string } };
        if (action === 'raised') alertsSeen.add(alert.deviceId);
      }
    };

    // The flood: ordinary self-tests, each acknowledged (PUBACK) by the hub, in order.
    const clients = await Promise.all(flooders.map((d) => connect(hub, d)));
    const acked: string[] = [];
    let sent = 0;
    let flooding = true;
    const timers = clients.map((c, i) => {
      let n = 0;
      const d = flooders[i] as Registered;
      return setInterval(() => {
        if (!flooding) return;
        for (let k = 0; k < RATE / 10; k++) {
          const eventId = `flood-${n++}`;
          sent++;
          c.publish(
            topic(d.id, 'event'),
            JSON.stringify({ eventId, type: 'selftest', result: 'ok' }),
            { qos: 1 },
            (err) => {
              if (!err) acked.push(`${d.id}:${eventId}`);
            },
          );
        }
      }, 100);
    });
    const dropped = async () =>
      metricValue(await hub.metrics(), 'gridhub_staff_output_dropped_total', { topic: 'hubEvent' });
    await waitFor(async () => (await dropped()) > 0, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'the staff output to back up and drop ordinary events',
    });

    // The presses, one after another, each a new incident of its own button.
    const ackedBefore = new Map<string, Set<string>>();
    const presses = await Promise.all(buttons.map((b) => connect(hub, b)));
    for (const [i, b] of buttons.entries()) {
      ackedBefore.set(b.id, new Set(acked));
      await (presses[i] as MqttClient).publishAsync(
        topic(b.id, 'event'),
        JSON.stringify({ eventId: `press-${i}`, type: 'press' }),
        { qos: 1 },
      );
      await waitFor(() => alerted.has(b.id), { timeoutMs: 60_000, what: `press ${i} reaching the leader` });
    }

    flooding = false;
    for (const t of timers) clearInterval(t);
    await waitFor(() => acked.length === sent, { timeoutMs: 60_000, what: 'every flood event acknowledged' });
    await waitFor(async () => metricValue(await hub.metrics(), 'gridhub_staff_output_queued') === 0, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'the backlog to drain',
    });

    // every press reached the leader, and its event and its alert reached the dashboard
    expect(alerted.size).toBe(PRESSES);
    await waitFor(() => seenAtPress.size === PRESSES && alertsSeen.size === PRESSES, {
      what: 'every press and alert at the dashboard',
    });
    // each press overtook ordinary events acknowledged before it was pressed
    for (const b of buttons) {
      const overtaken = [...(ackedBefore.get(b.id) as Set<string>)].filter(
        (id) => !(seenAtPress.get(b.id) as Set<string>).has(id),
      );
      expect(overtaken.length, `ordinary events still waiting when ${b.id}'s press arrived`).toBeGreaterThan(
        0,
      );
    }
    // every acknowledged ordinary event was delivered or counted as dropped, and the drop was logged
    const droppedEvents = await dropped();
    expect(droppedEvents).toBeGreaterThan(0);
    await waitFor(() => floodSeen.size + droppedEvents === acked.length, {
      what: `delivered (${floodSeen.size}) + dropped (${droppedEvents}) = acknowledged (${acked.length})`,
    });
    expect(hub.output).toContain('"code":"GH_ERR_STAFF_OUTPUT_DROPPED"');
    // all 100 subscribers got the same messages: none was cut off, none was skipped
    await waitFor(() => subscribers.every((s) => s.received === dashboard.received), {
      what: 'every subscriber to have what the dashboard has',
    });

    // positive control: with the load gone, an ordinary event reaches the dashboard again
    const before = floodSeen.size;
    await (clients[0] as MqttClient).publishAsync(
      topic((flooders[0] as Registered).id, 'event'),
      JSON.stringify({ eventId: 'after-the-flood', type: 'selftest', result: 'ok' }),
      { qos: 1 },
    );
    await waitFor(() => floodSeen.has(`${(flooders[0] as Registered).id}:after-the-flood`), {
      what: 'an ordinary event after the flood',
    });
    expect(floodSeen.size).toBe(before + 1);
    expect(await dropped()).toBe(droppedEvents);

    console.log(
      `staff fan-out: ${acked.length} ordinary events to ${SUBSCRIBERS} subscribers, ${floodSeen.size - 1} delivered, ` +
        `${droppedEvents} dropped; ${PRESSES}/${PRESSES} presses at the leader`,
    );
    for (const s of subscribers) s.close();
    await Promise.all([...clients, ...presses, leader].map((c) => c.endAsync()));
  });
});
