/// <reference lib="dom" />
/**
 * What the console's browser tests share: Debian's Chromium driven by playwright-core, signing in
 * through the real form, screenshots in test-output/console/, and the browser console's errors.
 */
import { mkdirSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const SHOTS = new URL('../../test-output/console/', import.meta.url).pathname;
export const PASSWORD = 'console test password';

export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } as const;
export const DESKTOP = { viewport: { width: 1280, height: 800 } } as const;

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

export async function signIn(
  browser: Browser,
  url: string,
  person: string,
  options: Parameters<Browser['newContext']>[0] = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, ...options });
  const page = await context.newPage();
  await page.goto(url);
  await page.fill('input[name=username]', person);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('[data-testid=sign-in]');
  await page.waitForSelector('[data-page]');
  return { context, page };
}

export const shot = (page: Page, name: string) =>
  page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });

/** Every error the page's console shows: console.error calls, failed loads (a 401 is one), uncaught throws. */
export function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}
