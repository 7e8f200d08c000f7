/**
 * The load balancer as shipped (issue 19): Debian's HAProxy running deploy/haproxy.cfg (listen and
 * server addresses rewritten to loopback, helpers/haproxy.ts) in front of two hub processes. What
 * the README promises of it, independent of cluster mode (the two hubs here are plain single nodes
 * with the same bootstrap admin): MQTT connections are spread over the nodes by count; a SIGKILLed
 * node is taken out within the stated bound and its MQTT clients are closed, so they reconnect
 * through the balancer to the survivor; not one HTTP request through the balancer fails while it
 * happens (a refused connection is redispatched); a restarted node takes connections again; an SSE
 * stream through the balancer gets its first bytes at once (no buffering).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_ADMIN_ID } from '../../src/auth/access.ts';
import { metricValue, staffClientId } from '../helpers/devices.ts';
import { TestHaproxy } from '../helpers/haproxy.ts';
import { HubProcess } from '../helpers/hub-process.ts';
import { ADMIN_TOKEN, tempDirs } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

/** HAProxy takes a dead node out after `fall 2` checks `inter 1s` apart (+ check timeout). */
const MARKED_DOWN_MS = 5_000;

const newDir = tempDirs('gridhub-balancer-');
const nodes = [new HubProcess(newDir()), new HubProcess(newDir())];
let lb: TestHaproxy;

beforeAll(async () => {
  await Promise.all(nodes.map((n) => n.start()));
  lb = new TestHaproxy(
    nodes.map((n, i) => ({ name: `node-${i + 1}`, mqttPort: n.mqttPort, httpPort: n.httpPort })),
  );
  await lb.start();
});
afterAll(async () => {
  await lb?.stop();
  for (const n of nodes) await n.stop();
});

async function staffConnections(n: HubProcess): Promise<number> {
  return metricValue(await n.metrics(), 'gridhub_mqtt_connections', { kind: 'staff' });
}

function connectAdmin(): Promise<MqttClient> {
  return mqtt.connectAsync(lb.mqttUrl, {
    clientId: staffClientId(BOOTSTRAP_ADMIN_ID),
    username: BOOTSTRAP_ADMIN_ID,
    password: ADMIN_TOKEN,
    reconnectPeriod: 100,
    connectTimeout: 3000,
  });
}

describe('HAProxy with deploy/haproxy.cfg', () => {
  it('spreads MQTT by connection count, takes a killed node out, keeps HTTP answering, takes it back', async () => {
    const clients: MqttClient[] = [];
    for (let i = 0; i < 10; i++) clients.push(await connectAdmin());
    const per = await Promise.all(nodes.map(staffConnections));
    expect(per).toEqual([5, 5]);

    // HTTP through the balancer, back to back, while node 1 dies: every request answered
    let running = true;
    const answers: number[] = [];
    const poll = (async () => {
      while (running) {
        const res = await fetch(`${lb.url}/health`).catch(() => undefined);
        answers.push(res?.status ?? 0);
        await res?.arrayBuffer();
      }
    })();
    const killedAt = Date.now();
    await nodes[0]?.kill();
    await lb.waitDown('node-1', MARKED_DOWN_MS);
    expect(Date.now() - killedAt).toBeLessThan(MARKED_DOWN_MS);
    // its five clients were closed and are back, on the survivor
    await waitFor(
      async () =>
        clients.every((c) => c.connected) && (await staffConnections(nodes[1] as HubProcess)) === 10,
      {
        timeoutMs: 10_000,
        what: 'every client on node 2',
      },
    );
    running = false;
    await poll;
    expect(answers.length).toBeGreaterThan(10);
    expect(answers.filter((s) => s !== 200)).toEqual([]);

    await nodes[0]?.start();
    await lb.waitUp(['node-1']);
    const late: MqttClient[] = [];
    for (let i = 0; i < 4; i++) late.push(await connectAdmin());
    // leastconn: the new connections go to the node that has none
    expect(await staffConnections(nodes[0] as HubProcess)).toBe(4);
    await Promise.all([...clients, ...late].map((c) => c.endAsync()));
  });

  it('passes a server-sent event stream through unbuffered', async () => {
    const abort = new AbortController();
    const t0 = Date.now();
    const res = await fetch(`${lb.url}/api/v1/alerts/stream`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    // the hub writes `retry:` at once; a buffering proxy would hold it until a buffer fills
    expect(new TextDecoder().decode(first.value)).toContain('retry: 2000');
    expect(Date.now() - t0).toBeLessThan(2000);
    abort.abort();
    // positive control of the denial beside it: without a token the balancer passes the 401 through
    expect((await fetch(`${lb.url}/api/v1/alerts/stream`)).status).toBe(401);
  });
});
