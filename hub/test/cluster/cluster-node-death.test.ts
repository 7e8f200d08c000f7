/**
 * A node killed with SIGKILL (issue 19): node K runs as its own process, node S in-process. Of
 * three devices on K, one with a last will that does not come back gets its will published by the
 * survivor (one offline, reason will); one without a will that does not come back is ended by the
 * survivor's reaper (one offline); one that reconnects to S stays online, with no offline at all.
 * K leaves GET /api/v1/cluster within three heartbeats. Restarted, K registers again under its name
 * and serves devices; stopped with SIGTERM it exits cleanly and leaves the registry at once. Bounds: 3 heartbeats until K counts as dead,
 * wills within 4 more, the reaper within 13 more (TEST_HEARTBEAT_MS each).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PresenceChange } from '../../src/contract/device-event.ts';
import { TEST_HEARTBEAT_MS, TestCluster } from '../helpers/cluster.ts';
import { loadExample } from '../helpers/community.ts';
import { type Registered, registerDevice, topic } from '../helpers/devices.ts';
import type { HubProcess } from '../helpers/hub-process.ts';
import type { TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

describe('a node killed mid-run', () => {
  const cluster = new TestCluster();
  let k: HubProcess;
  let s: TestHub;
  const changes: PresenceChange[] = [];

  beforeAll(async () => {
    await cluster.start();
    s = await cluster.addNode('node-s');
    await loadExample(s.api, []);
    k = await cluster.addProcess('node-k');
    s.hub.bus.on('device.presence', (c) => {
      changes.push(c);
    });
  });
  afterAll(() => cluster.cleanup());

  const connect = (port: number, d: Registered, will: boolean): Promise<MqttClient> =>
    mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      clientId: d.id,
      username: d.id,
      password: d.secret,
      reconnectPeriod: 0,
      ...(will
        ? {
            will: {
              topic: topic(d.id, 'status'),
              payload: Buffer.from('{"state":"offline"}'),
              qos: 1,
              retain: false,
            },
          }
        : {}),
    });
  const offlines = (id: string) => changes.filter((c) => c.deviceId === id && !c.online);
  const online = async (id: string) =>
    (await s.api.get<{ online: boolean }>(`/api/v1/devices/${id}`)).body.online;

  it('the survivor delivers the will, reaps the silent one, keeps the one that came back', async () => {
    const [willing, silent, mover] = await Promise.all(
      [1, 2, 3].map(() => registerDevice(s.api, 'generic-panic-button', 'site-school-gate')),
    );
    const clients = [
      await connect(k.mqttPort, willing as Registered, true),
      await connect(k.mqttPort, silent as Registered, false),
      await connect(k.mqttPort, mover as Registered, true),
    ];
    for (const c of clients) c.on('error', () => {});
    type View = { nodes: { id: string; connectedDevices: number }[] };
    await waitFor(
      async () =>
        (await s.api.get<View>('/api/v1/cluster')).body.nodes.find((n) => n.id === 'node-k')
          ?.connectedDevices === 3,
      { what: 'K holding three devices' },
    );
    // K writes presence within a quarter second: all three online in the shared store
    for (const d of [willing, silent, mover])
      await waitFor(() => online((d as Registered).id), { what: 'online in the store' });

    await k.kill();
    const killedAt = Date.now();
    // the mover comes straight back, to the survivor
    const back = await connect(s.hub.broker.port, mover as Registered, true);

    await waitFor(
      async () => !(await s.api.get<View>('/api/v1/cluster')).body.nodes.some((n) => n.id === 'node-k'),
      {
        timeoutMs: TEST_HEARTBEAT_MS * 3 + 2000,
        what: 'K gone from the registry',
      },
    );
    const bound = TEST_HEARTBEAT_MS * 16 + 3000;
    await waitFor(() => offlines((willing as Registered).id).length === 1, {
      timeoutMs: bound,
      what: 'the will',
    });
    await waitFor(() => offlines((silent as Registered).id).length === 1, {
      timeoutMs: bound,
      what: 'the reaper',
    });
    expect(Date.now() - killedAt).toBeLessThan(bound);
    // wait out another full will and reaper period before counting
    await new Promise((r) => setTimeout(r, TEST_HEARTBEAT_MS * 10));
    expect(offlines((willing as Registered).id).map((c) => c.reason)).toEqual(['will']);
    expect(offlines((silent as Registered).id).map((c) => c.reason)).toEqual(['deadline']);
    expect(offlines((mover as Registered).id).map((c) => [c.reason, c.at - killedAt])).toEqual([]);
    await s.hub.presence.flush();
    expect(await online((willing as Registered).id)).toBe(false);
    expect(await online((silent as Registered).id)).toBe(false);
    expect(await online((mover as Registered).id)).toBe(true);
    await back.endAsync();
  });

  it('the killed node comes back under its name, serves devices, and leaves cleanly on SIGTERM', async () => {
    type View = { nodes: { id: string; connectedDevices: number }[] };
    const ids = async () => (await s.api.get<View>('/api/v1/cluster')).body.nodes.map((n) => n.id);
    await k.start();
    await waitFor(async () => (await ids()).includes('node-k'), { what: 'K registered again' });
    const d = await registerDevice(s.api, 'generic-panic-button', 'site-school-gate');
    const c = await connect(k.mqttPort, d, true);
    await waitFor(
      async () =>
        (await s.api.get<View>('/api/v1/cluster')).body.nodes.find((n) => n.id === 'node-k')
          ?.connectedDevices === 1,
      { what: 'K counting its device' },
    );
    await c.endAsync();
    // exit code 0 or HubProcess.stop throws with the node's output
    await k.stop();
    expect(await ids()).toEqual(['node-s']);
  });
});
