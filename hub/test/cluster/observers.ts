/**
 * What people see during a cluster test, each on the node it was connected to: a unit leader's app
 * (MQTT, their personal alert topic, persistent session), a district observer of device presence
 * (MQTT), and a console's server-sent event stream. Every message is recorded, duplicates included.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { staffClientId } from '../helpers/devices.ts';

export interface Observers {
  /** the alert id of every message on the leader's alert topic, in arrival order */
  leader: string[];
  /** the alert id of every `raised` change on the SSE stream */
  sseRaised: string[];
  /** per device, every presence announcement (true = online) */
  presence: Map<string, boolean[]>;
  close(): Promise<void>;
}

interface Person {
  personId: string;
  token: string;
}

async function staff(url: string, p: Person): Promise<MqttClient> {
  return mqtt.connectAsync(url, {
    clientId: staffClientId(p.personId),
    username: p.personId,
    password: p.token,
    reconnectPeriod: 0,
    keepalive: 60,
  });
}

/** Read an SSE stream until aborted, handing each `event: alert` data object to `on`. */
async function readSse(url: string, token: string, signal: AbortSignal, on: (data: unknown) => void) {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal });
  if (res.status !== 200 || !res.body) throw new Error(`SSE ${url}: ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const pump = async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      buffer += value;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = block.split('\n');
        if (!lines.includes('event: alert')) continue;
        const data = lines.find((l) => l.startsWith('data: '));
        if (data) on(JSON.parse(data.slice(6)));
      }
    }
  };
  void pump();
}

export async function alertObservers(o: {
  leaderMqtt: string;
  leader: Person;
  presenceMqtt: string;
  presence: Person;
  sseUrl: string;
  sseToken: string;
}): Promise<Observers> {
  const out: Observers = { leader: [], sseRaised: [], presence: new Map(), close: async () => {} };
  const leader = await staff(o.leaderMqtt, o.leader);
  leader.on('message', (_t, payload) => {
    const id = (JSON.parse(payload.toString()) as { alert?: { id?: string } }).alert?.id;
    out.leader.push(id ?? '(no id)');
  });
  await leader.subscribeAsync(`gh/v1/hub/person/${o.leader.personId}/alert`, { qos: 1 });
  const presence = await staff(o.presenceMqtt, o.presence);
  presence.on('message', (topic, payload) => {
    const deviceId = topic.split('/').pop() as string;
    const online = (JSON.parse(payload.toString()) as { online?: boolean }).online;
    if (typeof online !== 'boolean') return;
    out.presence.set(deviceId, [...(out.presence.get(deviceId) ?? []), online]);
  });
  await presence.subscribeAsync('gh/v1/hub/presence/#', { qos: 1 });
  const abort = new AbortController();
  await readSse(o.sseUrl, o.sseToken, abort.signal, (data) => {
    const d = data as { action?: string; alert?: { id?: string } };
    if (d.action === 'raised') out.sseRaised.push(d.alert?.id ?? '(no id)');
  });
  out.close = async () => {
    abort.abort();
    await Promise.all([leader.endAsync(), presence.endAsync()]);
  };
  return out;
}
