/**
 * Commands across nodes (issue 19): a command created through node A's API reaches a detector
 * connected to node B, and the detector's answer — cmd/ack, then its `silenced` or `selftest`
 * event at once, as the simulator and real firmware send them — closes it on B, in the store,
 * exactly once, although A's open-command index made it, B's learns of it only at its next
 * sweep, and B handles the event before it has stored the cmd/ack that came first. Every command is counted: each done on both nodes' API, one `done` audit entry each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandView } from '../../src/commands/command-schemas.ts';
import { TestCluster } from '../helpers/cluster.ts';
import { loadExample } from '../helpers/community.ts';
import { connectDevice, registerDevice, topic } from '../helpers/devices.ts';
import type { ApiClient, TestHub } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

const RESULT = { silence: { type: 'silenced' }, selftest: { type: 'selftest', result: 'ok' } } as const;

describe('commands across nodes', () => {
  const cluster = new TestCluster();
  let a: TestHub;
  let b: TestHub;

  beforeAll(async () => {
    await cluster.start();
    a = await cluster.addNode('node-a');
    b = await cluster.addNode('node-b');
    await loadExample(a.api, []);
  });
  afterAll(() => cluster.cleanup());

  const stateIn = async (api: ApiClient, deviceId: string, id: string) =>
    (await api.get<CommandView>(`/api/v1/devices/${deviceId}/commands/${id}`)).body.state;

  it('created on A, answered on B: every command done, on both nodes, audited once', async () => {
    const smoke = await registerDevice(a.api, 'generic-nb-smoke', 'site-b1');
    const dev = await connectDevice(b, smoke);
    let n = 0;
    // the detector answers each command at once: accepted, then the event that finishes it
    dev.on('message', (_t, p) => {
      const c = JSON.parse(p.toString()) as { commandId: string; type: keyof typeof RESULT };
      const ack = JSON.stringify({ commandId: c.commandId, status: 'accepted' });
      n += 1;
      void dev.publishAsync(`gh/v1/dev/${smoke.id}/cmd/ack`, ack, { qos: 1 }).then(() =>
        dev.publishAsync(topic(smoke.id, 'event'), JSON.stringify({ eventId: `e-${n}`, ...RESULT[c.type] }), {
          qos: 1,
        }),
      );
    });
    await dev.subscribeAsync(topic(smoke.id, 'cmd'), { qos: 1 });
    // B's broker must know the subscription before A publishes (a relayed command has no session yet)
    await waitFor(() => b.hub.broker.clients.byDevice.get(smoke.id)?.size === 1, { what: 'device on B' });

    const ids: string[] = [];
    for (const type of ['silence', 'selftest', 'silence', 'selftest'] as const) {
      const res = await a.api.post<CommandView>(`/api/v1/devices/${smoke.id}/commands`, { type });
      expect(res.status).toBe(201);
      const id = res.body.id;
      ids.push(id);
      // the answer follows at once, before B's next sweep of open commands
      await waitFor(async () => (await stateIn(b.api, smoke.id, id)) === 'done', {
        timeoutMs: 5000,
        what: `${type} ${id} done on B`,
      });
      expect(await stateIn(a.api, smoke.id, id)).toBe('done');
    }
    expect(n).toBe(4);
    const audit = await a.api.get<{ action: string; data: { commandId?: string } }[]>(
      `/api/v1/audit?entityType=device&entityId=${smoke.id}&limit=100`,
    );
    for (const id of ids)
      expect(
        audit.body.filter((e) => e.action === 'device.command.done' && e.data.commandId === id),
      ).toHaveLength(1);
    await dev.endAsync();
  });
});
