/**
 * A site outage across nodes (issue 19): the devices of one building are spread over the nodes of
 * a cluster, so no node's own outage window holds enough of them. Six dropping at once, three on
 * each of two nodes, still make one site-outage ticket naming all six and no per-device tickets,
 * as on one node; two dropping at another site (one per node) are two maintenance tickets and no
 * outage (the count is the site's, not a node's guess).
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../helpers/cluster.ts';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, type Registered, registerDevice, tickets, topic } from '../helpers/devices.ts';
import type { TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

describe('site outage across nodes', () => {
  const cluster = new TestCluster();
  let a: TestHub;
  let b: TestHub;

  beforeAll(async () => {
    await cluster.start();
    a = await cluster.addNode('node-a');
    b = await cluster.addNode('node-b');
    await loadExample(a.api, []);
    const put = await a.api.put('/api/v1/policies/outage.site.windowSeconds', {
      scope: { kind: 'global', id: '*' },
      value: 1,
    });
    expect(put.status).toBe(200);
    await waitFor(() => b.hub.policies.resolve('outage.site.windowSeconds').value === 1, {
      what: 'B sees the window',
    });
  });
  afterAll(() => cluster.cleanup());

  /** Connects each device to a node in turn (A, B, A, …) with a will, as real hardware would. */
  async function spread(devices: Registered[]): Promise<MqttClient[]> {
    const clients: MqttClient[] = [];
    for (const [i, d] of devices.entries())
      clients.push(
        await connectDevice(i % 2 ? b : a, d, {
          will: {
            topic: topic(d.id, 'status'),
            payload: Buffer.from('{"state":"offline"}'),
            qos: 1,
            retain: false,
          },
        }),
      );
    for (const d of devices)
      await waitFor(() => a.hub.presence.state(d.id)?.online || b.hub.presence.state(d.id)?.online, {
        what: `${d.id} online`,
      });
    return clients;
  }

  const deviceLinks = async (id: string) =>
    (await a.api.get<{ links: { kind: string; ref: string }[] }>(`/api/v1/tickets/${id}`)).body.links
      .filter((l) => l.kind === 'device')
      .map((l) => l.ref);

  it('six devices of one site, three per node, drop at once → one site-outage ticket, no maintenance', async () => {
    const devices: Registered[] = [];
    for (let i = 0; i < 6; i++)
      devices.push(await registerDevice(a.api, i % 3 ? 'generic-nb-smoke' : 'generic-water-leak', 'site-b7'));
    const clients = await spread(devices);
    // the building's power goes: every socket dies at once
    for (const c of clients) c.stream.destroy();
    const outage = await waitFor(
      async () => (await tickets(a.api, 'category=site-outage')).find((x) => x.siteId === 'site-b7'),
      { timeoutMs: 10_000, what: 'a site-outage ticket' },
    );
    // both nodes settled their share: every device is noted on the one ticket
    const noted = await waitFor(
      async () => {
        const refs = await deviceLinks(outage.id);
        return refs.length >= devices.length ? refs : undefined;
      },
      { timeoutMs: 10_000, what: 'six device notes' },
    );
    expect(noted.sort()).toEqual(devices.map((d) => d.id).sort());
    await a.hub.rules.idle();
    await b.hub.rules.idle();
    const outages = (await tickets(a.api, 'category=site-outage')).filter((x) => x.siteId === 'site-b7');
    expect(outages).toHaveLength(1);
    const perDevice = (await tickets(a.api, 'category=maintenance')).filter((x) =>
      devices.some((d) => d.id === x.deviceId),
    );
    expect(perDevice).toEqual([]);
  });

  it('positive control: two devices of another site, one per node → two maintenance tickets, no outage', async () => {
    const devices = [
      await registerDevice(a.api, 'generic-nb-smoke', 'site-school-gate'),
      await registerDevice(a.api, 'generic-nb-smoke', 'site-school-gate'),
    ];
    const clients = await spread(devices);
    for (const c of clients) c.stream.destroy();
    const perDevice = await waitFor(
      async () => {
        const list = (await tickets(a.api, 'category=maintenance')).filter((x) =>
          devices.some((d) => d.id === x.deviceId),
        );
        return list.length >= 2 ? list : undefined;
      },
      { timeoutMs: 10_000, what: 'two maintenance tickets' },
    );
    expect(perDevice.map((x) => x.deviceId).sort()).toEqual(devices.map((d) => d.id).sort());
    const outages = (await tickets(a.api, 'category=site-outage')).filter(
      (x) => x.siteId === 'site-school-gate',
    );
    expect(outages).toEqual([]);
  });
});
