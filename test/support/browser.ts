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

/**
 * For an afterEach hook: a failed browser step gets what the page showed appended to its error, so
 * a CI log says where the page was and what it said (the runner prints only the error).
 */
export async function explainFailure(t: object, page: Page | undefined): Promise<void> {
  // Node 20's TestContext has `passed` and `error`; its typings do not say so yet.
  const { passed, error } = t as { passed?: boolean; error?: unknown };
  const wrapped = error as { cause?: unknown } | null;
  const err = (wrapped?.cause ?? wrapped) as { message?: unknown } | null;
  if (passed !== false || !page || !err || typeof err.message !== 'string') return;
  const shown = await page
    .locator('body')
    .innerText({ timeout: 5_000 })
    .catch((e: Error) => `(unreadable: ${e.message.split('\n')[0]})`);
  err.message += `\n  page: ${page.url()}\n  it showed: ${shown.replace(/\s+/g, ' ').slice(0, 2_000)}`;
}

/** Logs in through the form, as a user does; `next` is where the login sends the page afterwards. */
export async function logIn(page: Page, baseUrl: string, username: string, password: string, next?: string): Promise<void> {
  await page.goto(`${baseUrl}/login${next ? `?next=${next}` : ''}`);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}
