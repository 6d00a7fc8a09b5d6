import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Locator, Page } from 'playwright-core';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { waitFor } from '../support/wait.js';
import { explainFailure, launchChromium, logIn, screenshot } from '../support/browser.js';

const WAIT = { timeout: 120_000 };

/**
 * The dashboard's screens for stateful apps, in a real Chromium against a real Berth, Docker Engine
 * and PostgreSQL add-on: a volume, mounted in the app's settings; a PostgreSQL add-on attached to
 * the app; a backup listed with its size, downloaded and restored; a one-off command and a scheduled
 * one with their exit codes and output. Every check is what the page shows; lists change without a
 * reload (the events stream).
 */
describe('web dashboard: volumes, add-ons, backups, runs and cron', () => {
  let s: TestServer;
  let dev: BerthClient;
  let browser: Browser;
  let page: Page;

  before(async () => {
    const image = await ensureTestAppImage(new DockerRuntime({}));
    // A schedule every 2 s: over the default cron quota (one firing a minute).
    s = await startServer({ env: { BERTH_QUOTA_CRON_MIN_INTERVAL_S: '1' } });
    dev = await s.newUser('dev');
    await dev.call('createProject', { body: { name: 'shop' } });
    await dev.call('createApp', { body: { name: 'web', project: 'shop' } });
    await dev.call('deployApp', { params: { id: 'web' }, body: { image_id: image } });
    await waitFor('web to run', async () => (await dev.call('getApp', { params: { id: 'web' } })).status === 'running', { timeoutMs: 120_000 });
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' })).newPage();
    await logIn(page, s.url, 'dev', 'pw-dev-secret');
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
  });
  afterEach((t) => explainFailure(t, page));
  after(async () => {
    await browser?.close();
    await s?.destroy();
  });

  const projectTab = (name: string) => page.getByRole('navigation', { name: 'Project sections' }).getByRole('link', { name, exact: true }).click();
  const appTab = (name: string) => page.getByRole('navigation', { name: 'App sections' }).getByRole('link', { name, exact: true }).click();
  /** The API's message about a field, shown beside it: the input is marked invalid and described by it. */
  const fieldError = async (input: Locator) => {
    await page.waitForFunction((el) => el?.getAttribute('aria-invalid') === 'true', await input.elementHandle());
    const id = (await input.getAttribute('aria-describedby'))!;
    return (await page.locator(`[id="${id}"]`).textContent()) ?? '';
  };

  test('create a volume; a second of the same name is refused beside the name field', async () => {
    await page.goto(`${s.url}/projects/shop`);
    await projectTab('Volumes');
    assert.match(page.url(), /\/projects\/shop\/volumes$/);
    const form = page.getByRole('form', { name: 'New volume' });
    await form.getByLabel('Volume name', { exact: true }).fill('data');
    await form.getByLabel('Size (MB, optional)', { exact: true }).fill('512');
    await form.getByRole('button', { name: 'Create volume' }).click();
    const row = page.getByRole('row', { name: 'Volume data' });
    await row.getByText('512 MB').waitFor();
    await row.getByText('no app').waitFor();
    await form.getByLabel('Volume name', { exact: true }).fill('data');
    await form.getByRole('button', { name: 'Create volume' }).click();
    assert.match(await fieldError(form.getByLabel('Volume name', { exact: true })), /already has a volume named "data"/);
  });

  test('mount it in the app’s settings: a relative path and a rolling strategy are refused beside their fields', async () => {
    await page.goto(`${s.url}/apps/web`);
    await appTab('Settings');
    const form = page.getByRole('form', { name: 'App settings' });
    await form.getByRole('button', { name: 'Add a mount' }).click();
    await form.getByLabel('Mount path', { exact: true }).fill('data');
    await form.getByLabel('Release command', { exact: true }).fill('node -e process.exit(0)');
    await form.getByRole('button', { name: 'Save settings' }).click();
    assert.match(await fieldError(form.getByLabel('Mount path', { exact: true })), /absolute/);
    await form.getByLabel('Mount path', { exact: true }).fill('/data');
    await form.getByRole('button', { name: 'Save settings' }).click();
    // A select's name is its label and its value ("Strategy rolling").
    const strategy = form.getByRole('combobox', { name: /^Strategy/ });
    assert.match(await fieldError(strategy), /recreate/);
    await strategy.selectOption('recreate');
    await form.getByRole('button', { name: 'Save settings' }).click();
    await form.getByRole('status').getByText('Saved').waitFor();
    const app = await dev.call('getApp', { params: { id: 'web' } });
    assert.deepEqual(app.volumes, [{ volume: 'data', path: '/data' }]);
    assert.deepEqual(app.release_command, ['node', '-e', 'process.exit(0)']);
    await screenshot(page, 'app-settings');
    // The project's volumes say which app mounts each one.
    await page.getByRole('link', { name: 'shop' }).first().click();
    await projectTab('Volumes');
    await page.getByRole('row', { name: 'Volume data' }).getByRole('link', { name: 'web' }).waitFor();
    await screenshot(page, 'project-volumes');
  });

  test('create a PostgreSQL add-on and watch it come up without a reload', async () => {
    await projectTab('Add-ons');
    const form = page.getByRole('form', { name: 'New add-on' });
    await form.getByRole('combobox', { name: /^Type/ }).selectOption('postgres');
    await form.getByLabel('Add-on name', { exact: true }).fill('db');
    await form.getByRole('button', { name: 'Create add-on' }).click();
    const row = page.getByRole('row', { name: 'Add-on db' });
    await row.getByText('PostgreSQL 17').waitFor();
    await row.getByText('db:5432').waitFor();
    await row.getByText('running', { exact: true }).waitFor(WAIT);
    await screenshot(page, 'project-addons');
  });

  test('attach it to the app: DATABASE_URL becomes a secret config var and makes a release', async () => {
    await page.getByRole('row', { name: 'Add-on db' }).getByRole('link', { name: 'db' }).click();
    await page.getByRole('heading', { name: 'db', exact: true }).waitFor();
    const form = page.getByRole('form', { name: 'Attach to an app' });
    await form.getByRole('combobox', { name: /^App/ }).selectOption('web');
    await form.getByRole('button', { name: 'Attach' }).click();
    await page.getByRole('status').getByText(/Attached to web: release v\d+ is rolling out/).waitFor();
    await page.getByRole('listitem', { name: 'Attachment web' }).getByText('DATABASE_URL').waitFor();
    const app = await dev.call('getApp', { params: { id: 'web' } });
    assert.ok(app.secret_env.includes('DATABASE_URL'));
  });

  test('back up now: the backup is listed with its size; it downloads; a restore asks for the name typed', async () => {
    await page.getByRole('button', { name: 'Back up now' }).click();
    const row = page.getByRole('row', { name: /^Backup bkp_/ });
    await row.getByText('succeeded', { exact: true }).waitFor(WAIT);
    const [b] = (await dev.call('listBackups', { params: { id: 'db' } })).items;
    assert.ok(b.size_bytes && b.size_bytes > 0, JSON.stringify(b));
    // The size the page shows is the size of the file taken.
    const shown = (await row.getByRole('cell').nth(4).textContent())!;
    const [, n, unit] = /^([\d.]+) (B|KB|MB)$/.exec(shown) ?? [];
    assert.ok(n, `a size is shown: ${shown}`);
    const factor = { B: 1, KB: 1024, MB: 1024 * 1024 }[unit as 'B' | 'KB' | 'MB'];
    assert.ok(Math.abs(Number(n) * factor - b.size_bytes) <= 0.05 * b.size_bytes + factor * 0.05, `${shown} ≈ ${b.size_bytes} bytes`);
    // The download link, fetched with the page's own session: the whole file, pg_dump's custom format.
    const href = (await row.getByRole('link', { name: `Download ${b.id}` }).getAttribute('href'))!;
    const got = await page.evaluate(async (url) => {
      const r = await fetch(url);
      const buf = new Uint8Array(await r.arrayBuffer());
      return { status: r.status, size: buf.length, magic: String.fromCharCode(...buf.slice(0, 5)) };
    }, href);
    assert.deepEqual(got, { status: 200, size: b.size_bytes, magic: 'PGDMP' });
    await screenshot(page, 'addon');
    // Restore: not before the add-on's name is typed.
    await row.getByRole('button', { name: `Restore ${b.id}` }).click();
    const confirm = row.getByRole('button', { name: 'Confirm' });
    assert.equal(await confirm.isDisabled(), true);
    await row.getByLabel('Type db to confirm').fill('db');
    await confirm.click();
    await page.getByRole('status').filter({ hasText: `Restore of ${b.id}` }).getByText('succeeded', { exact: true }).waitFor(WAIT);
  });

  test('a scheduled command is listed with its last runs, exit codes and output', async () => {
    await page.goto(`${s.url}/apps/web/cron`);
    const form = page.getByRole('form', { name: 'Schedule a command' });
    await form.getByLabel('Schedule', { exact: true }).fill('every minute');
    await form.getByLabel('Command', { exact: true }).fill('node -e console.log("tick")');
    await form.getByRole('button', { name: 'Add scheduled command' }).click();
    assert.ok((await fieldError(form.getByLabel('Schedule', { exact: true }))).length > 0, 'a bad schedule is refused beside its field');
    await form.getByLabel('Schedule', { exact: true }).fill('*/2 * * * * *');
    await form.getByRole('button', { name: 'Add scheduled command' }).click();
    const row = page.getByRole('row', { name: 'Scheduled */2 * * * * *' });
    await row.getByRole('cell', { name: 'node -e console.log("tick")', exact: true }).waitFor();
    // Its runs show up as they finish, without a reload.
    await row.getByText('exit 0').first().waitFor(WAIT);
    // The output of a run that exited 0: on a busy machine the newest entry can be a firing skipped
    // because the previous run still ran (no output), or one not started yet.
    await row.getByRole('listitem').filter({ hasText: 'exit 0' }).first().getByRole('button', { name: /^Show output of run_/ }).click();
    await page.getByRole('log').getByText('tick').waitFor(WAIT);
    await screenshot(page, 'app-cron');
    await row.getByRole('button', { name: 'Remove scheduled node -e console.log("tick")' }).click();
    await row.getByRole('button', { name: 'Confirm' }).click();
    await row.waitFor({ state: 'detached' });
    assert.deepEqual((await dev.call('listCron', { params: { id: 'web' } })).items, []);
  });

  test('run a one-off command: its output and exit code; the list has the release command and the scheduled runs', async () => {
    await appTab('Runs');
    await page.getByLabel('Command', { exact: true }).fill('node -e console.log(6*7);process.exit(3)');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const out = page.getByRole('region', { name: /^Output of run_/ });
    await out.getByRole('log').getByText('42').waitFor(WAIT);
    await out.getByText('exit code 3').waitFor(WAIT);
    const row = page.getByRole('row').filter({ hasText: 'console.log(6*7)' });
    await row.getByText('failed', { exact: true }).waitFor(WAIT);
    await row.getByRole('cell', { name: '3', exact: true }).waitFor();
    await page.getByRole('row').filter({ hasText: 'release command' }).first().waitFor();
    await page.getByRole('row').filter({ hasText: 'scheduled' }).first().waitFor();
    await screenshot(page, 'app-runs');
  });

  test('the new screens work at 375 px wide: no sideways scrolling of the page', async () => {
    const mctx = await browser.newContext({ viewport: { width: 375, height: 740 }, storageState: await page.context().storageState() });
    const m = await mctx.newPage();
    const db = (await dev.call('getAddon', { params: { id: 'db' }, query: {} })).id;
    for (const [url, shown] of [
      ['/projects/shop/volumes', 'Create volume'],
      ['/projects/shop/addons', 'Create add-on'],
      [`/addons/${db}`, 'Back up now'],
      ['/apps/web/runs', 'release command'],
      ['/apps/web/cron', 'Add scheduled command'],
      ['/apps/web/settings', 'Save settings'],
    ]) {
      await m.goto(`${s.url}${url}`);
      await m.getByText(shown).first().waitFor();
      assert.ok((await m.evaluate(() => document.documentElement.scrollWidth)) <= 375, `${url} fits 375 px`);
    }
    await mctx.close();
  });

  test('a viewer sees these screens without their action buttons', async () => {
    await s.admin.call('createUser', { body: { username: 'watcher', password: 'pw-watcher-secret' } });
    await dev.call('addMember', { params: { id: 'shop' }, body: { username: 'watcher', role: 'viewer' } });
    const vctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const v = await vctx.newPage();
    await logIn(v, s.url, 'watcher', 'pw-watcher-secret');
    await v.getByRole('heading', { name: 'Projects' }).waitFor();
    const none = async (url: string, shown: string, buttons: (string | RegExp)[]) => {
      await v.goto(`${s.url}${url}`);
      await v.getByText(shown).first().waitFor();
      for (const name of buttons) {
        const count = typeof name === 'string' ? await v.getByRole('button', { name, exact: true }).count() : await v.getByRole('button', { name }).count();
        assert.equal(count, 0, `${url}: no "${name}" button`);
      }
    };
    await none('/projects/shop/volumes', 'data', ['Create volume', /^Delete/]);
    await none('/projects/shop/addons', 'db:5432', ['Create add-on']);
    const db = (await dev.call('getAddon', { params: { id: 'db' }, query: {} })).id;
    await none(`/addons/${db}`, 'DATABASE_URL', ['Back up now', 'Attach', /^Detach/, /^Restore/, 'Delete add-on', 'Save backup settings']);
    await none('/apps/web/runs', 'release command', ['Run']);
    await none('/apps/web/cron', 'Scheduled commands', ['Add scheduled command']);
    await none('/apps/web/settings', 'Volume mounts', ['Save settings', 'Add a mount', /^Remove mount/]);
    await vctx.close();
  });

  test('detach the add-on (a release without DATABASE_URL), then delete it with its name typed', async () => {
    const db = (await dev.call('getAddon', { params: { id: 'db' }, query: {} })).id;
    await page.goto(`${s.url}/addons/${db}`);
    await page.getByRole('button', { name: 'Detach from web' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('status').getByText(/Detached from web: release v\d+ is rolling out/).waitFor();
    await page.getByText('Not attached to any app.').waitFor();
    assert.ok(!(await dev.call('getApp', { params: { id: 'web' } })).secret_env.includes('DATABASE_URL'));
    await page.getByRole('button', { name: 'Delete add-on' }).click();
    await page.getByLabel('Type db to confirm').fill('db');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('No add-ons.').waitFor();
    assert.match(page.url(), /\/projects\/shop\/addons$/);
    assert.deepEqual((await dev.call('listAddons', { query: {} })).items, []);
  });
});
