/// <reference lib="dom" />
/**
 * The device page's command log in a real headless Chromium against the real hub: a property
 * manager silences a detector with one click and watches the row go to done as the device (the
 * simulator's command responder over MQTT) answers; a grid worker sees the same log but no buttons,
 * and the hub refuses them the command anyway.
 */
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerCommands } from '../../device-sim/src/command-responder.ts';
import { loadExample } from '../../hub/test/helpers/community.ts';
import { connectDevice, type Registered, registerDevice } from '../../hub/test/helpers/devices.ts';
import { startTestHub, type TestHub } from '../../hub/test/helpers/test-hub.ts';

const PASSWORD = 'console test password';
let t: TestHub;
let browser: Browser;
let smoke: Registered;

async function signIn(person: string) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(t.url);
  await page.fill('input[name=username]', person);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('[data-testid=sign-in]');
  await page.waitForSelector('[data-page]');
  return { context, page };
}

beforeAll(async () => {
  t = await startTestHub();
  await loadExample(t.api);
  for (const p of ['p-property', 'p-grid-worker-1']) {
    const r = await t.api.put(`/api/v1/people/${p}/password`, { password: PASSWORD });
    if (r.status !== 204) throw new Error(`password ${p}: ${r.status}`);
  }
  smoke = await registerDevice(t.api, 'generic-nb-smoke', 'site-b1', { name: '1号楼101烟感' });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await t?.cleanup();
});

describe('device commands in the console', () => {
  it('a property manager silences a detector and sees it done; a grid worker sees the log, no buttons', async () => {
    const device = await connectDevice(t, smoke, { clientId: smoke.id, clean: false });
    let n = 0;
    await answerCommands(device, { id: smoke.id, model: 'generic-nb-smoke' }, () => `console-${++n}`);

    const { context, page } = await signIn('p-property');
    await page.goto(`${t.url}/#/devices/${smoke.id}`);
    await page.waitForSelector('[data-testid=device-commands] button[data-command=silence]');
    expect(await page.$('[data-testid=device-commands] button[data-command=selftest]')).not.toBeNull();
    await page.click('[data-testid=device-commands] button[data-command=silence]');
    await page.waitForSelector('[data-testid=device-commands] tr[data-type=silence][data-state=done]', {
      timeout: 10_000,
    });
    const log = await t.api.get<{ type: string; state: string; createdBy: string }[]>(
      `/api/v1/devices/${smoke.id}/commands`,
    );
    expect(log.body).toEqual([
      expect.objectContaining({ type: 'silence', state: 'done', createdBy: 'person:p-property' }),
    ]);
    await context.close();

    const worker = await signIn('p-grid-worker-1');
    await worker.page.goto(`${t.url}/#/devices/${smoke.id}`);
    await worker.page.waitForSelector('[data-testid=device-commands] tr[data-type=silence][data-state=done]');
    expect(await worker.page.$('[data-testid=device-commands] button')).toBeNull();
    // The hub refuses the worker's command too, not just the page: their role may not command devices.
    const token = await t.api.post<{ token: string }>('/api/v1/people/p-grid-worker-1/tokens', {
      label: 't',
    });
    const refused = await t.api
      .as(token.body.token)
      .post<{ error: { code: string } }>(`/api/v1/devices/${smoke.id}/commands`, { type: 'silence' });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'GH_ERR_FORBIDDEN_ROLE']);
    expect((await t.api.get<unknown[]>(`/api/v1/devices/${smoke.id}/commands`)).body).toHaveLength(1);
    await worker.context.close();
    await device.endAsync();
  });
});
