/**
 * Issue 14 item 2 (SSRF with the answer readable) against real hubs and real HTTP receivers: by
 * default webhook targets on loopback, metadata, private or IPv6-loopback addresses are refused at
 * registration, and a target stored while it was allowed is refused again when a message is sent
 * (the address is judged after DNS, on the socket that would be opened); with an allow-list the
 * receiver is reached (positive control), only the status line is kept, and redirects are not
 * followed. Secrets in robot URLs are masked on read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../helpers/community.ts';
import { HttpReceiver } from '../helpers/http-receiver.ts';
import { type ApiClient, startTestHub, type TestHub, tempDirs } from '../helpers/test-hub.ts';
import { waitFor } from '../helpers/wait.ts';

interface Notification {
  id: string;
  deliveries: { attempt: number; result: string; detail: string | null }[];
}
const FAST = { 'alerts.webhookRetryBaseMs': 50, 'alerts.webhookRetries': 3 };
const newDir = tempDirs();
const receiver = new HttpReceiver();
let base: string;

beforeAll(async () => {
  base = await receiver.start();
});
afterAll(async () => receiver.stop());

const target = (api: ApiClient, name: string, url: string, kind = 'generic') =>
  api.post<{ id: string; url: string; error?: { code: string } }>('/api/v1/webhooks', {
    name,
    kind,
    url,
    scope: { kind: 'grid', id: 'g-xinghua-1' },
    minSeverity: 'critical',
  });

async function notifyAndWait(api: ApiClient, targetName: string, settled: (n: Notification) => boolean) {
  const sent = await api.post<Notification>('/api/v1/notify', {
    to: { kind: 'webhook', target: targetName },
    title: '测试',
    text: 'hello',
  });
  expect(sent.status).toBe(202);
  return waitFor(
    async () => {
      const n = (await api.get<Notification>(`/api/v1/notify/${sent.body.id}`)).body;
      return settled(n) ? n : undefined;
    },
    { what: `delivery to ${targetName}` },
  );
}

describe('by default (outbound.allow empty)', () => {
  let t: TestHub;
  let duty: ApiClient;
  let worker: ApiClient;
  const dataDir = newDir();

  afterAll(async () => t?.cleanup());

  it('refuses targets on loopback, metadata, private and IPv6-mapped addresses at registration; a public robot is accepted and masked', async () => {
    t = await startTestHub({ dataDir, overrides: { ...FAST, 'outbound.allow': [] } });
    ({ 'p-street-duty': duty } = await loadExample(t.api, ['p-street-duty']));
    const port = new URL(base).port;
    for (const url of [
      `${base}/atk`,
      `http://localhost:${port}/atk`,
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      'http://100.100.100.200/latest/meta-data/',
      `http://[::ffff:127.0.0.1]:${port}/atk`,
      `http://[::1]:${port}/atk`,
      'http://10.0.0.5:8080/internal',
      'http://0.0.0.0:1880/atk',
    ]) {
      const r = await target(duty, `atk-${url.length}`, url);
      expect(r.status, url).toBe(400);
      expect(r.body.error?.code, url).toBe('GH_ERR_OUTBOUND_FORBIDDEN');
    }
    // Positive control: a chat robot on the internet is registered, its hook token masked on read.
    const feishu = 'https://open.feishu.cn/open-apis/bot/v2/hook/3b5c8a5e-1f2b-4c7a-9d0e-123456789abc';
    const ok = await target(duty, '街道飞书群', feishu, 'feishu');
    expect(ok.status).toBe(201);
    expect(ok.body.url).toBe('https://open.feishu.cn/open-apis/bot/v2/hook/****');
    const listed = await duty.get<{ url: string }[]>('/api/v1/webhooks');
    expect(JSON.stringify(listed.body)).not.toContain('3b5c8a5e');
    expect(receiver.received).toHaveLength(0);
    await t.stop();
  });

  it('refuses at send time a target that was allowed when stored (by name after DNS, and by literal address); nothing reaches it', async () => {
    const port = new URL(base).port;
    // Registered while an operator allowed loopback …
    const setup = await startTestHub({
      dataDir,
      overrides: { ...FAST, 'outbound.allow': ['127.0.0.1', 'localhost'] },
    });
    const s = await loadExample(setup.api, ['p-street-duty']);
    expect((await target(s['p-street-duty'], 'rebound', `http://localhost:${port}/rebind`)).status).toBe(201);
    expect((await target(s['p-street-duty'], 'literal', `${base}/literal`)).status).toBe(201);
    await setup.stop();
    // … and sent after the allow-list was emptied: localhost now resolves to a refused address.
    t = await startTestHub({ dataDir, overrides: { ...FAST, 'outbound.allow': [] } });
    worker = (await loadExample(t.api, ['p-grid-worker-1']))['p-grid-worker-1'];
    for (const [name, why] of [
      ['rebound', /^GH_ERR_OUTBOUND_FORBIDDEN: localhost resolves to .*loopback/],
      ['literal', /^GH_ERR_OUTBOUND_FORBIDDEN: 127\.0\.0\.1 is loopback/],
    ] as const) {
      const n = await notifyAndWait(worker, name, (x) => x.deliveries.some((d) => d.result === 'failed'));
      expect(n.deliveries).toHaveLength(1); // not retried
      expect(n.deliveries[0]?.detail).toMatch(why);
    }
    expect(receiver.received).toHaveLength(0);
  });
});

describe('with an allow-listed receiver (outbound.allow: 127.0.0.1)', () => {
  let t: TestHub;
  let worker: ApiClient;
  const redirecting = new HttpReceiver();

  beforeAll(async () => {
    t = await startTestHub({ dataDir: newDir(), overrides: FAST });
    const people = await loadExample(t.api, ['p-street-duty', 'p-grid-worker-1']);
    worker = people['p-grid-worker-1'];
    expect((await target(people['p-street-duty'], 'relay', `${base}/relay`)).status).toBe(201);
    expect(
      (await target(people['p-street-duty'], 'redirect', `${await redirecting.start()}/go`)).status,
    ).toBe(201);
  });
  afterAll(async () => {
    await t.cleanup();
    await redirecting.stop();
  });

  it('delivers (positive control) and keeps only the status line, never the response body', async () => {
    receiver.responseBody = 'uid=0(root) gid=0(root) INTERNAL-SECRET';
    const n = await notifyAndWait(worker, 'relay', (x) => x.deliveries.some((d) => d.result === 'delivered'));
    expect(n.deliveries).toEqual([
      expect.objectContaining({ attempt: 1, result: 'delivered', detail: 'HTTP 200 OK' }),
    ]);
    expect(JSON.stringify(n)).not.toContain('INTERNAL-SECRET');
    expect(receiver.received.filter((r) => r.url === '/relay')).toHaveLength(1);
  });

  it('does not follow a redirect, not even to an allowed address', async () => {
    redirecting.status = 302;
    redirecting.responseHeaders = { location: `${base}/redirected` };
    const n = await notifyAndWait(worker, 'redirect', (x) => x.deliveries.some((d) => d.result === 'failed'));
    expect(n.deliveries).toEqual([
      expect.objectContaining({
        attempt: 1,
        result: 'failed',
        detail: 'HTTP 302 Found (redirects are not followed)',
      }),
    ]);
    expect(redirecting.received).toHaveLength(1);
    expect(receiver.received.filter((r) => r.url === '/redirected')).toHaveLength(0);
  });
});
