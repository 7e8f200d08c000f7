/// <reference lib="dom" />
/**
 * The integrations view in a real headless Chromium against the real hub, with a real Mosquitto
 * as a ChirpStack network server's broker: an admin sees each integration with its kind, the push
 * URL to paste into the platform, the ChirpStack connection state and the unmatched devices, in
 * Chinese first and in English after the switch; an installer registers an unmatched detector from
 * the list, the platform's next message for it is accepted and a self-test from its device page goes
 * out through OneNET's command API (played by a server on loopback); a grid worker gets neither the menu
 * entry nor the data (the hub refuses it). Screenshots in test-output/console/.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onenetBody, onenetDataPoint } from '../../device-sim/src/platforms.ts';
import { loadExample } from '../../hub/test/helpers/community.ts';
import { Mosquitto } from '../../hub/test/helpers/mosquitto.ts';
import { startTestHub, type TestHub } from '../../hub/test/helpers/test-hub.ts';
import { waitFor } from '../../hub/test/helpers/wait.ts';
import { consoleErrors, launchBrowser, PASSWORD, shot, signIn } from './browser.ts';

let t: TestHub;
let browser: Browser;
let broker: Mosquitto;
let onenet: { id: string; url: string };
let chirpstack: string;

const push = (body: string) =>
  fetch(onenet.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

beforeAll(async () => {
  broker = new Mosquitto();
  await broker.start();
  t = await startTestHub();
  await loadExample(t.api);
  const admin = await t.api.put('/api/v1/people/p-admin', {
    name: '平台管理员',
    roles: ['admin'],
  });
  expect([200, 201]).toContain(admin.status);
  for (const p of ['p-admin', 'p-installer', 'p-grid-worker-1']) {
    const r = await t.api.put(`/api/v1/people/${p}/password`, { password: PASSWORD });
    if (r.status !== 204) throw new Error(`password ${p}: ${r.status}`);
  }
  const on = await t.api.post<{ integration: { id: string }; pushUrl: string }>('/api/v1/integrations', {
    id: 'onenet-beiyuan',
    kind: 'onenet',
    name: '移动OneNET烟感',
    models: ['anxin-nb-smoke-bin'],
    token: 'console-token-1',
  });
  expect(on.status).toBe(201);
  onenet = { id: on.body.integration.id, url: on.body.pushUrl };
  const cs = await t.api.post<{ integration: { id: string } }>('/api/v1/integrations', {
    id: 'lora-park',
    kind: 'chirpstack',
    name: '园区LoRaWAN',
    models: ['riverlink-lora-leak'],
    chirpstack: { url: broker.url, applicationId: 'app-1' },
  });
  expect(cs.status).toBe(201);
  chirpstack = cs.body.integration.id;
  await waitFor(
    async () =>
      (await t.api.get<{ connection: { state: string } }>(`/api/v1/integrations/${chirpstack}`)).body
        .connection.state === 'connected',
    { what: 'ChirpStack connected' },
  );
  // a detector nobody registered yet reports through OneNET
  const res = await push(
    onenetBody('console-token-1', {
      ...onenetDataPoint('520007001', '3200_0_5750', 'a5015700031 7fc4e0c00'.replace(/ /g, '')),
      imei: '869000111122223',
    }),
  );
  expect(res.status).toBe(200);
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await t?.cleanup();
  await broker?.stop();
});

describe('integrations in the console', () => {
  it('an admin sees kind, push URL, connection state and unmatched devices, in Chinese and in English', async () => {
    const { context, page } = await signIn(browser, t.url, 'p-admin');
    const errors = consoleErrors(page);
    await page.click('[data-nav=integrations]');
    await page.waitForSelector(`[data-integration=${onenet.id}]`);
    expect(await page.textContent('[data-nav=integrations]')).toBe('平台接入');
    const card = `[data-integration=${onenet.id}]`;
    expect(await page.textContent(`${card} [data-testid=kind]`)).toBe('中国移动 OneNET');
    expect(await page.textContent(`${card} [data-testid=push-url]`)).toBe(
      `${t.url}/api/v1/ingress/${onenet.id}/onenet`,
    );
    expect(await page.textContent(`${card} [data-testid=commands-ready]`)).toBe('未配置平台命令接口');
    expect(
      await page.$$eval(`${card} [data-identity]`, (rows) =>
        rows.map((r) => r.getAttribute('data-identity')),
      ),
    ).toEqual(['869000111122223']);
    expect(await page.$(`${card} [data-testid=rotate]`)).not.toBeNull();
    const lora = `[data-integration=${chirpstack}]`;
    expect(await page.getAttribute(`${lora} [data-testid=connection]`, 'data-state')).toBe('connected');
    expect(await page.textContent(`${lora} [data-testid=connection]`)).toContain('已连接');
    expect(await page.$(`${lora} [data-testid=push-url]`)).toBeNull();
    await shot(page, 'integrations-zh');

    await page.click('[data-testid=lang]');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    expect(await page.textContent(`${card} [data-testid=kind]`)).toBe('China Mobile OneNET');
    expect(await page.textContent(`${lora} [data-testid=connection]`)).toContain('Connected');
    expect(await page.textContent('[data-nav=integrations]')).toBe('Integrations');
    await shot(page, 'integrations-en');

    // the broker goes away: the card says so after a reload
    await broker.stop();
    await waitFor(
      async () =>
        (await t.api.get<{ connection: { state: string } }>(`/api/v1/integrations/${chirpstack}`)).body
          .connection.state !== 'connected',
      { what: 'ChirpStack lost' },
    );
    await page.reload();
    await page.waitForSelector(`${lora} [data-testid=connection]`);
    expect(await page.getAttribute(`${lora} [data-testid=connection]`, 'data-state')).toBe('reconnecting');
    expect(await page.textContent(`${lora} [data-testid=connection]`)).toContain('Reconnecting');
    await broker.start();
    expect(errors).toEqual([]);
    await context.close();
  });

  it('an installer registers an unmatched detector from the list; the platform’s next message is accepted', async () => {
    const { context, page } = await signIn(browser, t.url, 'p-installer');
    await page.goto(`${t.url}/#/integrations`);
    const row = `[data-integration=${onenet.id}] [data-identity="869000111122223"]`;
    await page.waitForSelector(row);
    // installers act on the list; rotating the platform's token is the admin's
    expect(await page.$(`[data-integration=${onenet.id}] [data-testid=rotate]`)).toBeNull();
    await page.click(`${row} [data-testid=register-unmatched]`);
    await page.waitForSelector('[data-testid=register-unmatched-form]');
    await page.selectOption('[data-testid=register-unmatched-form] select[name=site]', 'site-b1');
    await page.fill('[data-testid=register-unmatched-form] input[name=name]', '1号楼大厅烟感');
    await page.click('[data-testid=register-unmatched-form] button[type=submit]');
    await page.waitForSelector('[data-testid=registered]');
    const deviceId = (await page.textContent('[data-testid=to-device]'))?.replace(' →', '') ?? '';
    await shot(page, 'integrations-registered');
    const device = await t.api.get<{ imei: string; name: string; siteId: string }>(
      `/api/v1/devices/${deviceId}`,
    );
    expect(device.body).toMatchObject({ imei: '869000111122223', name: '1号楼大厅烟感', siteId: 'site-b1' });
    expect((await t.api.get<unknown[]>(`/api/v1/integrations/${onenet.id}/unmatched`)).body).toEqual([]);
    await page.click('[data-testid=to-device]');
    await page.goto(`${t.url}/#/integrations`);
    await page.waitForSelector(`[data-integration=${onenet.id}] [data-testid=unmatched]`);
    expect(await page.$(row)).toBeNull();
    const next = await push(
      onenetBody('console-token-1', {
        ...onenetDataPoint('520007001', '3200_0_5750', 'a5015600031 7fc4e0c00'.replace(/ /g, '')),
        imei: '869000111122223',
      }),
    );
    expect(await next.json()).toMatchObject({ ok: true, accepted: 1 });

    // Registered by its IMEI alone, it still gets commands through OneNET: the platform's dev_id
    // comes from its last message. OneNET's command API is played by a server on loopback.
    const calls: { url: string; apiKey: string; body: string }[] = [];
    const api = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        calls.push({
          url: req.url ?? '',
          apiKey: String(req.headers['api-key']),
          body: Buffer.concat(chunks).toString('hex'),
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errno: 0, error: 'succ', data: { cmd_uuid: 'console-cmd-1' } }));
      });
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
    const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    const set = await t.api.put(`/api/v1/integrations/${onenet.id}`, {
      commandApi: { url: apiUrl },
      commandSecrets: { apiKey: 'console-api-key' },
    });
    expect(set.status).toBe(200);
    await page.goto(`${t.url}/#/devices/${encodeURIComponent(deviceId)}`);
    await page.click('[data-testid=device-commands] button[data-command=selftest]');
    await page.waitForSelector('[data-testid=device-commands] tr[data-type=selftest] [data-testid=via]');
    expect(
      await page.textContent('[data-testid=device-commands] tr[data-type=selftest] [data-testid=via]'),
    ).toBe(`经平台 ${onenet.id}`);
    expect(calls).toEqual([
      {
        url: expect.stringMatching(/^\/cmds\?device_id=520007001&qos=1&timeout=\d+$/),
        apiKey: 'console-api-key',
        body: 'a51002',
      },
    ]);
    await shot(page, 'integrations-device-command');
    await new Promise((r) => api.close(r));
    await context.close();
  });

  it('a grid worker has no integrations entry, and the hub refuses the page’s data', async () => {
    const { context, page } = await signIn(browser, t.url, 'p-grid-worker-1');
    expect(await page.$('[data-nav=integrations]')).toBeNull();
    expect(await page.$('[data-nav=devices]')).not.toBeNull();
    await page.goto(`${t.url}/#/integrations`);
    await page.waitForSelector('[data-page=integrations] [role=alert]');
    expect(await page.textContent('[data-page=integrations] [role=alert]')).toContain(
      'GH_ERR_FORBIDDEN_ROLE',
    );
    expect(await page.$('[data-integration]')).toBeNull();
    await context.close();
  });

  it('an admin rotates the OneNET token: shown once; the old token stops working, the new one works', async () => {
    const { context, page } = await signIn(browser, t.url, 'p-admin');
    await page.goto(`${t.url}/#/integrations`);
    await page.click(`[data-integration=${onenet.id}] [data-testid=rotate]`);
    await page.waitForSelector('[data-testid=new-token]');
    const token = (await page.textContent('[data-testid=new-token]')) ?? '';
    expect(token).not.toBe('console-token-1');
    expect(token.length).toBeGreaterThanOrEqual(16);
    const point = () =>
      onenetDataPoint('520007001', '3200_0_5750', 'a5015500031 7fc4e0c00'.replace(/ /g, ''));
    expect((await push(onenetBody('console-token-1', point()))).status).toBe(401);
    expect((await push(onenetBody(token, point()))).status).toBe(200);
    // shown once: a reload shows no token
    await page.reload();
    await page.waitForSelector(`[data-integration=${onenet.id}]`);
    expect(await page.$('[data-testid=new-token]')).toBeNull();
    expect(await page.content()).not.toContain(token);
    await context.close();
  });
});
