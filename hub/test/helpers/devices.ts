import { spawn } from 'node:child_process';
import mqtt, { type MqttClient } from 'mqtt';
import { topicFor } from '../../src/contract/topics.ts';
import type { DeviceView } from '../../src/devices/device-schemas.ts';
import { ADMIN_TOKEN, type ApiClient, type TestHub } from './start-hub.ts';

export interface Registered {
  id: string;
  secret: string;
  device: DeviceView;
}

export async function registerDevice(
  api: ApiClient,
  model: string,
  site: string,
  extra: Record<string, unknown> = {},
): Promise<Registered> {
  const res = await api.post<{ device: DeviceView; secret: string }>('/api/v1/devices', {
    model,
    site,
    ...extra,
  });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.device.id, secret: res.body.secret, device: res.body.device };
}

export function topic(deviceId: string, kind: 'event' | 'telemetry' | 'status' | 'cmd'): string {
  return topicFor(kind === 'cmd' ? 'command' : kind, { deviceId });
}

/** A device connected with its own credentials over MQTT/TCP, as real hardware would. */
export async function connectDevice(
  t: TestHub,
  d: Registered,
  options: mqtt.IClientOptions = {},
): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${t.hub.broker.port}`, {
    // the broker binds a device's client id to its device id (issue 14)
    clientId: d.id,
    username: d.id,
    password: d.secret,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  });
}

/** Outcome of a connection attempt that is expected to be refused. */
export async function connectError(
  url: string,
  options: mqtt.IClientOptions,
): Promise<{ code?: number; message: string }> {
  try {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    await c.endAsync();
    return { message: 'connected' };
  } catch (err) {
    return { code: (err as { code?: number }).code, message: (err as Error).message };
  }
}

/** Run Debian's mosquitto_pub once and resolve with its exit code and output. */
export function mosquittoPub(
  args: string[],
  input?: string,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('mosquitto_pub', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
    child.stdin.end(input ?? '');
  });
}

export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((w) => line.includes(w))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

export async function metrics(t: TestHub): Promise<string> {
  const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return res.text();
}

/** Subscribe to one filter; the granted QoS, or 128 when the broker refused it (MQTT-3.9.3). */
export async function granted(client: MqttClient, filter: string, qos: 0 | 1 = 1): Promise<number> {
  try {
    const [g] = await client.subscribeAsync(filter, { qos });
    return g?.qos ?? -1;
  } catch (err) {
    const suback = (err as { packet?: { granted?: number[] } }).packet;
    if (suback?.granted?.[0] === 128) return 128;
    throw err;
  }
}

export interface TicketLite {
  id: string;
  category: string;
  level: number;
  state: string;
  severity: string;
  assigneeId: string | null;
  departmentId: string | null;
  levelDueAt: string | null;
  createdAt: string;
  occurrences: number;
  siteId: string | null;
  deviceId: string | null;
}

export async function tickets(api: ApiClient, query = ''): Promise<TicketLite[]> {
  const res = await api.get<{ items: TicketLite[] }>(`/api/v1/tickets?limit=500${query ? `&${query}` : ''}`);
  if (res.status !== 200) throw new Error(`tickets: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.items;
}

/** A client id a staff person may use: their person id, `:` and a suffix of their choice. */
export function staffClientId(personId: string): string {
  return `${personId}:test-${Math.random().toString(16).slice(2, 10)}`;
}

/** A staff client (leader app, console) logged in with a person's API token. */
export async function connectStaff(
  t: TestHub,
  personId: string,
  token: string,
  options: mqtt.IClientOptions = {},
): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${t.hub.broker.port}`, {
    clientId: staffClientId(personId),
    username: personId,
    password: token,
    reconnectPeriod: 0,
    ...options,
  });
}

/** An elevator standing at floor 1, doors closed, empty: a valid GB/T 24476 monitor reading. */
export const ELEVATOR_IDLE = {
  serviceMode: 1,
  moving: false,
  direction: 'none',
  floor: 1,
  doorZone: true,
  door: 'closed',
  occupied: false,
} as const;
