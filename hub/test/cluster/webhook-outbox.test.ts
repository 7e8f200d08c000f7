/**
 * Pending webhook deliveries survive a node's death (issue 19). Two hub processes share one
 * PostgreSQL database; a real local HTTP receiver stands in for a group's chat robot and counts
 * every request. Normal case: an alert raised on one node is POSTed exactly once (both nodes poll
 * the outbox). Bad day: the node that queued a delivery is SIGKILLed while its request is still
 * unanswered; the other node takes the delivery over when its lease (2 × timeout + 5 s) has run
 * out and delivers it: one 2xx answer in all, one "delivered" line in the alert's log.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import { registerDevice, topic } from '../helpers/devices.ts';
import type { HubProcess } from '../helpers/hub-process.ts';
import { tempDirs } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';
import { type TwoHubs, twoHubs } from './two-hubs.ts';

const newDir = tempDirs('gridhub-cluster-');
const TIMEOUT_MS = 1000;
const LEASE_MS = TIMEOUT_MS * 2 + 5000;

interface Hit {
  at: number;
  alertId: string;
  answered: boolean;
}

/** A robot that leaves requests unanswered while `hold` is set, and answers 200 otherwise. */
class Robot {
  readonly hits: Hit[] = [];
  hold = false;
  private readonly held: ServerResponse[] = [];
  private readonly server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString('utf8');
    });
    req.on('end', () => {
      const alertId = (JSON.parse(body) as { alert?: { id?: string } }).alert?.id ?? '';
      const hit = { at: Date.now(), alertId, answered: !this.hold };
      this.hits.push(hit);
      if (this.hold) this.held.push(res);
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async stop(): Promise<void> {
    for (const r of this.held) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

let c: TwoHubs;
const robot = new Robot();

async function press(hub: HubProcess, site: string, eventId: string): Promise<void> {
  const button = await registerDevice(hub.api, 'generic-panic-button', site);
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, {
    clientId: button.id,
    username: button.id,
    password: button.secret,
    reconnectPeriod: 0,
  });
  await client.publishAsync(topic(button.id, 'event'), JSON.stringify({ eventId, type: 'press' }), {
    qos: 1,
  });
  await client.endAsync();
}

async function quiet(ms: number): Promise<void> {
  const until = Date.now() + ms;
  await waitFor(() => Date.now() >= until, { timeoutMs: ms + 5000, what: 'observation window' });
}

async function webhookLog(alertId: string) {
  return c.rows<{ attempt: number; result: string }>(
    "SELECT attempt::int AS attempt, result FROM alert_deliveries WHERE alert_id = $1 AND channel LIKE 'webhook:%' ORDER BY id",
    [alertId],
  );
}

beforeAll(async () => {
  const url = await robot.start();
  c = await twoHubs(
    newDir,
    { GRIDHUB_ALERTS_WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS), GRIDHUB_ALERTS_WEBHOOK_RETRY_BASE_MS: '500' },
    async (a) => {
      // The school's people are reachable (API tokens) and nobody's step falls due in the test,
      // so the group hears of each alert once, on raise, from the node that raised it.
      await loadExample(a.api, [
        'p-school-principal',
        'p-school-safety',
        'p-school-teacher',
        'p-street-duty',
      ]);
      for (const key of ['alert.stepDelaySeconds', 'alert.renotifySeconds']) {
        const res = await a.api.put(`/api/v1/policies/${key}`, {
          scope: { kind: 'grid', id: 'x-school-1' },
          value: { critical: 3600 },
        });
        expect(res.status).toBe(200);
      }
      const hook = await a.api.post('/api/v1/webhooks', {
        name: '学校安保群',
        kind: 'generic',
        url,
        secret: 'whsec',
        scope: { kind: 'unit', id: 'eu-school-1' },
      });
      expect(hook.status).toBe(201);
    },
  );
});

afterAll(async () => {
  await c?.stop();
  await robot.stop();
});

describe('the webhook outbox on two nodes sharing one store', () => {
  it('POSTs an alert once to its group while both nodes poll the outbox', async () => {
    await press(c.a, 'site-school-gate', 'w-1');
    await waitFor(() => robot.hits.length >= 1, { what: 'the robot reached' });
    await quiet(2000);
    expect(robot.hits.map((h) => h.answered)).toEqual([true]);
    const [alert] = await c.rows<{ id: string }>("SELECT id FROM alerts WHERE site_id = 'site-school-gate'");
    expect(robot.hits[0]?.alertId).toBe(alert?.id);
    expect((await webhookLog(alert?.id as string)).map((l) => l.result)).toEqual(['delivered']);
    expect(await c.count('SELECT count(*) AS n FROM webhook_outbox')).toBe(0);
  });

  it('delivers, from the surviving node, a message whose node was SIGKILLed mid-request: once', async () => {
    robot.hits.length = 0;
    robot.hold = true;
    await press(c.b, 'site-school-main', 'w-2');
    await waitFor(() => robot.hits.length === 1, { what: 'the first request, left unanswered' });
    await c.b.kill();
    const killedAt = Date.now();
    robot.hold = false;
    await waitFor(() => robot.hits.length === 2, {
      timeoutMs: LEASE_MS + 5000,
      what: 'the delivery taken over by node A',
    });
    const takenAfter = Date.now() - killedAt;
    // Not before the dead node's lease ran out (it might still have been answering), and within
    // the lease plus a poll.
    expect(takenAfter).toBeGreaterThan(LEASE_MS - TIMEOUT_MS - 500);
    expect(takenAfter).toBeLessThan(LEASE_MS + 2000);
    await quiet(2000);
    const [alert] = await c.rows<{ id: string }>("SELECT id FROM alerts WHERE site_id = 'site-school-main'");
    expect(robot.hits.map((h) => [h.alertId, h.answered])).toEqual([
      [alert?.id, false],
      [alert?.id, true],
    ]);
    expect((await webhookLog(alert?.id as string)).map((l) => l.result)).toEqual(['delivered']);
    expect(await c.count('SELECT count(*) AS n FROM webhook_outbox')).toBe(0);
    await c.b.start();
  });
});
