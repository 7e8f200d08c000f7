/// <reference lib="dom" />
/**
 * The console in Debian's headless Chromium against a real hub, on a 390 × 844 phone and a
 * 1280 × 800 screen: the sign-in page loads without a single error in the browser console; the alarm
 * board and the tickets name people, devices and sites (ids on hover), never show the ids instead;
 * ticket and alert titles come from their codes in Chinese and in English (no raw codes, no English
 * in Chinese mode; a confirmed fire is 确认火警); on the phone the menu folds into one button and
 * tables become cards whose every value carries its column's label; on the screen the labels are the
 * table's headers. Screenshots go to test-output/console/ (names-*).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExample } from '../../hub/test/helpers/community.ts';
import {
  connectDevice,
  ELEVATOR_IDLE,
  type Registered,
  registerDevice,
  tickets,
  topic,
} from '../../hub/test/helpers/devices.ts';
import { startTestHub, type TestHub } from '../../hub/test/helpers/test-hub.ts';
import { waitFor } from '../../hub/test/helpers/wait.ts';
import { consoleErrors, DESKTOP, launchBrowser, PASSWORD, PHONE, shot, signIn } from './browser.ts';

let t: TestHub;
let browser: Browser;
let d: Record<'gate' | 'elevator' | 'smokeA' | 'smokeB' | 'gauge', Registered>;
let seq = 0;

async function send(device: Registered, kind: 'event' | 'telemetry', payload: object): Promise<void> {
  const c = await connectDevice(t, device);
  await c.publishAsync(topic(device.id, kind), JSON.stringify(payload), { qos: 1 });
  await c.endAsync();
}

const VIEWPORTS = [
  ['phone', PHONE],
  ['desktop', DESKTOP],
] as const;

/** Switch the language from the header (on a phone the switch is inside the folded menu). */
async function switchLanguage(page: Page, phone: boolean): Promise<void> {
  if (phone) await page.click('header [data-testid=menu]');
  await page.click('header [data-testid=lang]');
}

/**
 * Every visible cell of a table carries its column's label; on a phone the head is hidden and the
 * label is shown beside each value (::before), on a screen the labels are exactly the head's texts.
 */
async function expectLabelled(page: Page, table: string, phone: boolean): Promise<void> {
  const r = await page.$eval(table, (el) => {
    const head = el.querySelector('thead');
    return {
      heads: Array.from(el.querySelectorAll('thead th')).map((th) => th.textContent?.trim() ?? ''),
      headShown: head ? getComputedStyle(head).display !== 'none' : false,
      rows: Array.from(el.querySelectorAll('tbody tr')).map((tr) =>
        Array.from(tr.querySelectorAll('td'))
          .filter((td) => getComputedStyle(td).display !== 'none')
          .map((td) => ({
            label: td.dataset.label ?? '',
            before: getComputedStyle(td, '::before').content,
            text: td.textContent?.trim() ?? '',
          })),
      ),
    };
  });
  expect(r.rows.length, table).toBeGreaterThan(0);
  for (const row of r.rows) {
    expect(row.length, table).toBeGreaterThan(0);
    for (const cell of row) expect(cell.label, `${table}: ${cell.text}`).not.toBe('');
    if (phone) for (const cell of row) expect(cell.before, table).toBe(JSON.stringify(cell.label));
    else expect(row.map((c) => c.label)).toEqual(r.heads.slice(0, row.length));
  }
  expect(r.headShown, table).toBe(!phone);
}

beforeAll(async () => {
  t = await startTestHub();
  // The principal's leader app has a token (an MQTT channel), so the chain starts with her; a person
  // without any channel would be skipped at once (no-channel).
  await loadExample(t.api, ['p-school-principal']);
  for (const p of ['p-school-principal', 'p-grid-worker-1', 'p-property']) {
    const r = await t.api.put(`/api/v1/people/${p}/password`, { password: PASSWORD });
    if (r.status !== 204) throw new Error(`password ${p}: ${r.status}`);
  }
  d = {
    gate: await registerDevice(t.api, 'generic-panic-button', 'site-school-gate', { name: '门卫室一键报警' }),
    elevator: await registerDevice(t.api, 'gbt24476-elevator', 'site-b1', { name: '1号楼 1号梯' }),
    smokeA: await registerDevice(t.api, 'generic-nb-smoke', 'site-b2', { name: '2号楼101烟感' }),
    smokeB: await registerDevice(t.api, 'generic-nb-smoke', 'site-b2', { name: '2号楼601烟感' }),
    gauge: await registerDevice(t.api, 'generic-water-level', 'site-b4-basement', { name: '车库水位计' }),
  };
  const now = Date.now();
  await send(d.elevator, 'telemetry', {
    ...ELEVATOR_IDLE,
    ts: now - 3600_000,
    runCount: 100,
    doorCycles: 200,
  });
  await send(d.elevator, 'telemetry', { ...ELEVATOR_IDLE, ts: now - 60_000, runCount: 130, doorCycles: 260 });
  await send(d.gate, 'event', { eventId: `g-${++seq}`, type: 'press' });
  await send(d.elevator, 'event', { eventId: `e-${++seq}`, type: 'fault', code: 'door_open_running' });
  await send(d.smokeA, 'event', { eventId: `s-${++seq}`, type: 'smoke.alarm' });
  await send(d.smokeB, 'event', { eventId: `s-${++seq}`, type: 'smoke.alarm' });
  await send(d.gauge, 'telemetry', { ts: now - 600_000, level: 5 });
  await send(d.gauge, 'telemetry', { ts: now, level: 12 });
  await waitFor(
    async () => {
      const list = await tickets(t.api);
      return (
        list.some((x) => x.category === 'fire' && x.level === 4) &&
        list.some((x) => x.deviceId === d.elevator.id) &&
        list.some((x) => x.deviceId === d.gauge.id) &&
        list.some((x) => x.deviceId === d.gate.id)
      );
    },
    { what: 'the four tickets' },
  );
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await t?.cleanup();
});

describe('before sign-in', () => {
  it.each(VIEWPORTS)('the %s sign-in page logs no error to the browser console', async (name, options) => {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    const errors = consoleErrors(page);
    const session = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/session'));
    await page.goto(t.url);
    expect((await session).status()).toBe(204);
    await page.waitForSelector('[data-testid=sign-in]');
    await page.waitForLoadState('networkidle');
    await shot(page, `names-sign-in-${name}`);
    expect(errors).toEqual([]);
    // The positive control: a refused request is an error this listener sees (the 401 of before).
    await page.evaluate(() => fetch('/api/v1/me').then((r) => r.status));
    await waitFor(() => errors.length > 0, { what: 'the 401 as a console error' });
    expect(errors.join('\n')).toContain('401');
    await context.close();
  });
});

describe.each(VIEWPORTS)('on a %s', (name, options) => {
  const phone = name === 'phone';

  it('the alarm board names the person being notified, the device and the site; ids on hover', async () => {
    const { context, page } = await signIn(browser, t.url, 'p-school-principal', options);
    const card = `li[data-device="${d.gate.id}"]`;
    await page.waitForSelector(card);
    expect(await page.textContent(`${card} [data-testid=alert-step]`)).toContain('吴校长');
    expect(await page.getAttribute(`${card} [data-testid=alert-step] [data-id]`, 'title')).toBe(
      'p-school-principal',
    );
    expect(await page.textContent(`${card} [data-testid=alert-device]`)).toBe('门卫室一键报警');
    expect(await page.getAttribute(`${card} [data-testid=alert-device] [data-id]`, 'title')).toBe(d.gate.id);
    expect(await page.textContent(`${card} [data-testid=alert-site]`)).toBe('东园第一小学 门卫室');
    expect(await page.textContent(`${card} [data-testid=alert-title]`)).toBe(
      '一键报警：东园第一小学 门卫室（单击）',
    );
    const board = (await page.textContent('[data-testid=alarm-board]')) as string;
    expect(board).not.toContain('p-school-principal');
    expect(board).not.toContain(d.gate.id);
    await shot(page, `names-alarm-board-${name}`);
    await switchLanguage(page, phone);
    await page.waitForFunction(
      (sel) =>
        document.querySelector(sel)?.textContent === 'Panic button: 东园第一小学 门卫室 (single press)',
      `${card} [data-testid=alert-title]`,
    );
    expect(await page.textContent(`${card} [data-testid=alert-step]`)).toContain('吴校长');
    await shot(page, `names-alarm-board-${name}-en`);
    await context.close();
  });

  it('tickets: titles from codes in Chinese and English, names not ids, every value labelled', async () => {
    const { context, page } = await signIn(browser, t.url, 'p-grid-worker-1', options);
    await page.goto(`${t.url}/#/tickets`);
    await page.waitForSelector('[data-testid=tickets] tbody tr');
    const title = async (deviceId: string) => {
      const id = (await tickets(t.api, `device=${deviceId}`))[0]?.id as string;
      return (await page.textContent(`tr[data-ticket="${id}"] [data-testid=ticket-title]`)) as string;
    };
    const fireId = (await tickets(t.api, 'category=fire'))[0]?.id as string;
    const fireTitle = () => page.textContent(`tr[data-ticket="${fireId}"] [data-testid=ticket-title]`);

    expect(await title(d.elevator.id)).toBe('电梯故障：杏花社区1号楼 1号楼 1号梯（开门运行）');
    expect(await fireTitle()).toBe('确认火警：杏花社区2号楼（2 个烟感报警）');
    const flood = await title(d.gauge.id);
    expect(flood).toBe('水位告警：杏花社区4号楼地下车库 12 cm（每小时上涨 42 cm）');
    const table = (await page.textContent('[data-testid=tickets]')) as string;
    expect(table.replace(/cm|ID|T\d{8}-[0-9a-f]+/g, '')).not.toMatch(/[A-Za-z]/);
    expect(table).not.toContain(d.elevator.id);
    await expectLabelled(page, '[data-testid=tickets]', phone);
    await shot(page, `names-tickets-${name}`);

    await switchLanguage(page, phone);
    await page.waitForFunction(
      (id) =>
        document
          .querySelector(`tr[data-ticket="${id}"] [data-testid=ticket-title]`)
          ?.textContent?.startsWith('Confirmed fire'),
      fireId,
    );
    expect(await fireTitle()).toBe('Confirmed fire: 杏花社区2号楼 (2 detectors alarming)');
    expect(await title(d.elevator.id)).toBe(
      'Elevator fault: 杏花社区1号楼 1号楼 1号梯 (door open while running)',
    );
    expect(await title(d.gauge.id)).toBe('Water level alarm: 杏花社区4号楼地下车库 12 cm (rising 42 cm/h)');
    await expectLabelled(page, '[data-testid=tickets]', phone);
    await shot(page, `names-tickets-${name}-en`);
    await switchLanguage(page, phone);

    // One ticket: place, device, assignee and department by name, ids on hover.
    await page.goto(`${t.url}/#/tickets/${fireId}`);
    await page.waitForSelector('[data-testid=ticket-detail] [data-testid=ticket-department]');
    expect(await page.textContent('[data-testid=ticket-title]')).toBe(
      '确认火警：杏花社区2号楼（2 个烟感报警）',
    );
    expect(await page.textContent('[data-testid=ticket-site]')).toBe('杏花社区2号楼');
    expect(await page.textContent('[data-testid=ticket-device]')).toBe('2号楼101烟感');
    expect(await page.getAttribute('[data-testid=ticket-device] [data-id]', 'title')).toBe(d.smokeA.id);
    expect(await page.textContent('[data-testid=ticket-assignee]')).toBe('消防联络员');
    expect(await page.textContent('[data-testid=ticket-department]')).toBe('清河区消防救援支队');
    const links = (await page.textContent('[data-testid=ticket-detail] ul')) as string;
    expect(links).toContain('2号楼601烟感');
    // The timeline says who acted: the hub's rules and system by those words, not by ids.
    const timeline = (await page.textContent('[data-testid=ticket-detail] .timeline')) as string;
    expect(timeline).toContain('规则');
    expect(timeline).not.toMatch(/rule:|smoke-alarm/);
    await shot(page, `names-ticket-detail-${name}`);
    await context.close();
  });

  it('elevators and devices are labelled cards on a phone and tables with headers on a screen', async () => {
    const { context, page } = await signIn(browser, t.url, 'p-property', options);
    await page.goto(`${t.url}/#/elevators`);
    await page.waitForSelector(`[data-elevator="${d.elevator.id}"]`);
    expect(await page.textContent(`[data-elevator="${d.elevator.id}"]`)).toContain('1号楼 1号梯');
    await expectLabelled(page, '[data-testid=elevator-ranking]', phone);
    await shot(page, `names-elevators-${name}`);
    await page.click(`[data-elevator="${d.elevator.id}"] a`);
    await page.waitForFunction(() =>
      document.querySelector('[data-testid=elevator-name]')?.textContent?.includes('1号楼 1号梯'),
    );
    await page.goto(`${t.url}/#/devices`);
    await page.waitForSelector(`[data-device="${d.elevator.id}"]`);
    const row = (await page.textContent(`[data-device="${d.elevator.id}"]`)) as string;
    expect(row).toContain('GB/T 24476 电梯物联网监测终端');
    expect(row).toContain('杏花社区1号楼');
    await expectLabelled(page, '[data-testid=devices]', phone);
    await shot(page, `names-devices-${name}`);
    await context.close();
  });

  it(phone ? 'the menu folds into one button that opens and closes' : 'the menu is one row', async () => {
    const { context, page } = await signIn(browser, t.url, 'p-grid-worker-1', options);
    const header = async () => (await page.locator('header.top').boundingBox())?.height ?? 0;
    const navShown = () => page.isVisible('[data-nav=tickets]');
    expect(await header()).toBeLessThanOrEqual(64);
    if (!phone) {
      expect(await navShown()).toBe(true);
      expect(await page.isVisible('[data-testid=menu]')).toBe(false);
      await context.close();
      return;
    }
    expect(await navShown()).toBe(false);
    expect(await page.textContent('header .current')).toBe('告警');
    await page.click('[data-testid=menu]');
    expect(await navShown()).toBe(true);
    expect(await page.getAttribute('[data-testid=menu]', 'aria-expanded')).toBe('true');
    await shot(page, 'names-menu-open-phone');
    await page.click('[data-nav=tickets]');
    await page.waitForSelector('[data-page=tickets]');
    expect(await navShown()).toBe(false);
    expect(await page.textContent('header .current')).toBe('工单');
    expect(await header()).toBeLessThanOrEqual(64);
    await context.close();
  });

  it('the grid tree and the policies are labelled too', async () => {
    const { context, page } = await signIn(browser, t.url, 'p-grid-worker-1', options);
    await page.goto(`${t.url}/#/grid`);
    await page.waitForSelector('[data-testid=grid-tree] tr[data-node=mg-xinghua-1-a]');
    await page.waitForSelector('[data-testid=policies] tr[data-policy]');
    await expectLabelled(page, '[data-testid=grid-tree]', phone);
    await expectLabelled(page, '[data-testid=policies]', phone);
    await shot(page, `names-grid-${name}`);
    await context.close();
  });
});
