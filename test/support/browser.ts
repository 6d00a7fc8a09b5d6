import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

/** Debian's Chromium (the `chromium` package), headless, driven by playwright-core. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.BERTH_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/**
 * Screenshots the tests take. With BERTH_SCREENSHOTS=docs they replace docs/images (shown in
 * docs/dashboard.md and the README); otherwise they go to the system's temp directory, so a test run
 * leaves the work tree as it was. Taken either way: a screen that cannot render fails the test.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.BERTH_SCREENSHOTS === 'docs' ? join(ROOT, 'docs', 'images') : join(tmpdir(), 'berth-screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: false });
}
