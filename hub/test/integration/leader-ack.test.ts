/**
 * Proves what the README tells a leader-app developer, over real MQTT and HTTP: the app receives
 * `{ alert, text, ackUrl }` on its person topic, where the link in `text` and `ackUrl` are both
 * signed for the same alert and person (they differ at most in their expiry, each being signed when
 * made) and both lead to the confirmation page; publishing `{}` to `gh/v1/hub/ack/<alertId>` (the
 * README's mosquitto_pub command)
 * acknowledges as the connection's person (channel mqtt), and the change arrives once on the alert
 * topic; a person whose alert it is not is refused (the alert stays theirs to acknowledge: the one
 * who published first is not the one recorded), and a publish outside the request topics closes the
 * connection.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, connectStaff, mosquittoPub, registerDevice, topic } from '../helpers/devices.ts';
import { type ApiClient, startTestHub, type TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

interface PersonAlert {
  alert: { id: string; state: string };
  text: string;
  ackUrl: string;
}

let t: TestHub;
let people: Record<'p-school-principal' | 'p-clinic-head', ApiClient>;
const clients: MqttClient[] = [];

async function staff(personId: keyof typeof people): Promise<MqttClient> {
  const token = (people[personId] as ApiClient).token as string;
  const c = await connectStaff(t, personId, token);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  t = await startTestHub();
  people = await loadExample(t.api, ['p-school-principal', 'p-clinic-head'] as const);
});
afterAll(async () => {
  // A client the broker closed is ended at once (waiting for its goodbye would wait forever).
  for (const c of clients) await c.endAsync(!c.connected);
  await t?.cleanup();
});

describe('a leader app acknowledges over MQTT', () => {
  it('gets { alert, text, ackUrl }, acknowledges by publishing {} to gh/v1/hub/ack/<alertId>', async () => {
    const principal = await staff('p-school-principal');
    const received: PersonAlert[] = [];
    const changes: { action: string; alert: { id: string; ackedBy: string | null; ackChannel: string } }[] =
      [];
    principal.on('message', (topicName, payload) => {
      const body = JSON.parse(payload.toString());
      if (topicName === 'gh/v1/hub/person/p-school-principal/alert') received.push(body);
      else if (topicName.startsWith('gh/v1/hub/alert/')) changes.push(body);
    });
    await principal.subscribeAsync('gh/v1/hub/person/p-school-principal/alert', { qos: 1 });
    await principal.subscribeAsync('gh/v1/hub/alert/#', { qos: 1 });

    const button = await registerDevice(t.api, 'generic-panic-button', 'site-school-gate');
    const device = await connectDevice(t, button);
    await device.publishAsync(topic(button.id, 'event'), JSON.stringify({ eventId: 'a-1', type: 'press' }), {
      qos: 1,
    });
    await device.endAsync();
    const message = await waitFor(() => received[0], { what: 'the alert on the person topic' });
    const alertId = message.alert.id;

    // Two links, one alert and one person: they differ at most in when they expire.
    const inText = /确认：(\S+)/.exec(message.text)?.[1] as string;
    const a = new URL(inText).searchParams;
    const b = new URL(message.ackUrl).searchParams;
    for (const q of [a, b]) {
      expect(q.get('alert')).toBe(alertId);
      expect(q.get('who')).toBe('p-school-principal');
    }
    expect(Math.abs(Number(a.get('exp')) - Number(b.get('exp')))).toBeLessThan(1000);
    for (const link of [inText, message.ackUrl]) {
      const page = await fetch(link);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('确认收到');
    }

    // Someone else's app publishing the same acknowledgement is refused: its connection closes and
    // the alert stays unacknowledged.
    const other = await staff('p-clinic-head');
    const refused = new Promise<void>((r) => other.once('close', () => r()));
    other.publish(`gh/v1/hub/ack/${alertId}`, '{}', { qos: 1 });
    await refused;
    expect(changes.some((c) => c.action === 'acknowledged')).toBe(false);
    // The README's command, with Debian's mosquitto_pub as the leader's app.
    const pub = await mosquittoPub([
      ...['-h', '127.0.0.1', '-p', String(t.hub.broker.port), '-i', 'p-school-principal:ack'],
      ...['-u', 'p-school-principal', '-P', people['p-school-principal'].token as string, '-q', '1'],
      ...['-t', `gh/v1/hub/ack/${alertId}`, '-m', '{}'],
    ]);
    expect(pub.code, pub.output).toBe(0);
    const acked = await waitFor(() => changes.find((c) => c.action === 'acknowledged'), {
      what: 'the acknowledged change',
    });
    expect(acked.alert).toMatchObject({
      id: alertId,
      ackedBy: 'person:p-school-principal',
      ackChannel: 'mqtt',
    });
    const view = await t.api.get<{ alert: { state: string; ackedBy: string } }>(`/api/v1/alerts/${alertId}`);
    expect(view.body.alert).toMatchObject({ state: 'acknowledged', ackedBy: 'person:p-school-principal' });

    // Only the request topics are writable: anything else under gh/v1/hub/ closes the connection.
    const again = await staff('p-clinic-head');
    const closed = new Promise<void>((r) => again.once('close', () => r()));
    again.publish(`gh/v1/hub/ack/${alertId}/extra`, '{}', { qos: 1 });
    await closed;
    expect(again.connected).toBe(false);
  });
});
