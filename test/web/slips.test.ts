import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { buildFrom } from '../support/build.js';
import { waitFor } from '../support/wait.js';
import { explainFailure, launchChromium, logIn, screenshot } from '../support/browser.js';
import { run } from '../../src/lib/exec.js';

const WAIT = { timeout: 90_000 };
/** Values that must never reach a page or a viewer: they are secret config vars. */
const SECRET_V2 = 'tok-s3cret-only-in-v2';
const DB_PASS_V1 = 'dbpass-first-value';
const DB_PASS_V2 = 'dbpass-second-value';

/**
 * The dashboard's slips from issue 22, as a new user meets them in Chromium: a rollback that says
 * which config vars it removes (secrets by name only) before it does, no rollback of a release
 * still on its way, one "live" badge, "1 replica", page titles, a not-found page, a phone-wide
 * header on one row with scrolling tabs, and Restart/Stop disabled with a reason when nothing is live.
 */
describe('web dashboard: rollback diff, titles, not-found, narrow layout, nothing-live actions', () => {
  let s: TestServer;
  let dev: BerthClient;
  let viewer: BerthClient;
  let image: string;
  let broken: string;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  const runtime = new DockerRuntime({});

  const live = (app: string, version: number) =>
    waitFor(`${app} v${version} live`, async () => (await dev.call('getApp', { params: { id: app } })).release === version, { timeoutMs: 90_000 });

  before(async () => {
    image = await ensureTestAppImage(runtime);
    broken = await buildFrom(runtime, image, 'ENV CRASH_ON_START=1');
    s = await startServer();
    dev = await s.newUser('dev');
    viewer = await s.newUser('vic');
    await dev.call('createProject', { body: { name: 'shop' } });
    await dev.call('addMember', { params: { id: 'shop' }, body: { username: 'vic', role: 'viewer' } });
    // A short health timeout: a release that never gets healthy stays "deploying" for this long, then fails.
    await dev.call('createApp', { body: { name: 'my-api', project: 'shop', health_check: { path: '/health', timeout_s: 25, grace_s: 0 } } });
    await dev.call('setEnv', { params: { id: 'my-api' }, body: { set: { KEEP: 'same', MODE: 'calm', DB_PASS: DB_PASS_V1 }, secret: ['DB_PASS'] } });
    await dev.call('deployApp', { params: { id: 'my-api' }, body: { image_id: image } });
    await live('my-api', 1);
    // v2: adds a plain and a secret var, changes a plain one and the secret's value.
    await dev.call('setEnv', {
      params: { id: 'my-api' },
      body: { set: { GONE_SOON: 'bye', API_TOKEN: SECRET_V2, MODE: 'busy', DB_PASS: DB_PASS_V2 }, secret: ['API_TOKEN'] },
    });
    await live('my-api', 2);
    browser = await launchChromium();
    ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
    page = await ctx.newPage();
    await logIn(page, s.url, 'dev', 'pw-dev-secret');
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
  });
  afterEach((t) => explainFailure(t, page));
  after(async () => {
    await browser?.close();
    await s?.destroy();
    if (broken) await run('docker', ['rmi', '-f', broken], { timeoutMs: 30_000 }).catch(() => {});
  });

  test('the diff API: what a rollback changes, secrets by name only, for a viewer too', async () => {
    for (const who of [dev, viewer]) {
      const d = await who.call('diffRelease', { params: { id: 'my-api', version: 1 } });
      assert.equal(d.live, 2);
      assert.equal(d.target, 1);
      assert.deepEqual(d.env, [
        { key: 'API_TOKEN', change: 'removed', secret: true, from: null, to: null },
        { key: 'DB_PASS', change: 'changed', secret: true, from: null, to: null },
        { key: 'GONE_SOON', change: 'removed', secret: false, from: 'bye', to: null },
        { key: 'MODE', change: 'changed', secret: false, from: 'busy', to: 'calm' },
      ]);
      assert.deepEqual(d.settings, [], 'same image and settings');
      const text = JSON.stringify(d);
      for (const v of [SECRET_V2, DB_PASS_V1, DB_PASS_V2]) assert.ok(!text.includes(v), `no secret value (${v}) in ${text}`);
    }
    // The live release against itself: nothing changes.
    assert.deepEqual((await dev.call('diffRelease', { params: { id: 'my-api', version: 2 } })).env, []);
    const stranger = await s.newUser('mallory');
    await assert.rejects(stranger.call('diffRelease', { params: { id: 'my-api', version: 1 } }), (e: { status: number }) => e.status === 404);
    await assert.rejects(dev.call('diffRelease', { params: { id: 'my-api', version: 99 } }), (e: { status: number }) => e.status === 404);
  });

  test('releases: one "live" badge, "1 replica", Roll back only on other releases; the dialog lists what it changes', async () => {
    await page.goto(`${s.url}/apps/my-api`);
    const v2 = page.getByRole('listitem', { name: 'Release v2' });
    await v2.getByText('live', { exact: true }).waitFor(WAIT);
    assert.equal(await v2.getByText('live', { exact: true }).count(), 1, 'one "live" on the live release');
    assert.match((await v2.textContent()) ?? '', /· 1 replica ·/);
    assert.equal(await page.getByRole('button', { name: 'Roll back to v2' }).count(), 0, 'no rollback to the live release');
    assert.equal(await page.title(), 'my-api · Apps · Berth');

    await page.getByRole('button', { name: 'Roll back to v1' }).click();
    const dialog = page.getByRole('dialog', { name: 'Roll back my-api to v1?' });
    const changes = dialog.getByRole('list', { name: 'Config var changes' });
    await changes.waitFor();
    const item = (key: string) => changes.getByRole('listitem').filter({ has: page.locator('code', { hasText: new RegExp(`^${key}$`) }) });
    assert.match((await item('GONE_SOON').textContent()) ?? '', /GONE_SOON removed: bye/);
    assert.match((await item('API_TOKEN').textContent()) ?? '', /API_TOKEN removed \(secret: value not shown\)/);
    assert.match((await item('DB_PASS').textContent()) ?? '', /DB_PASS changed \(secret: value not shown\)/);
    assert.match((await item('MODE').textContent()) ?? '', /MODE changed: busy → calm/);
    assert.equal(await item('KEEP').count(), 0, 'an unchanged var is not listed');
    await dialog.getByText('No other changes.').waitFor();
    const shown = (await page.content()) + (await dialog.innerText());
    for (const v of [SECRET_V2, DB_PASS_V1, DB_PASS_V2]) assert.ok(!shown.includes(v), `the page holds no secret value (${v})`);
    await screenshot(page, 'app-rollback');

    // Cancel changes nothing.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await dev.call('listReleases', { params: { id: 'my-api' } })).items.length, 2);

    await page.getByRole('button', { name: 'Roll back to v1' }).click();
    await dialog.getByRole('list', { name: 'Config var changes' }).waitFor();
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await dialog.waitFor({ state: 'detached' });
    const v3 = page.getByRole('listitem', { name: 'Release v3' });
    await v3.getByText('live', { exact: true }).waitFor(WAIT);
    assert.match((await v3.textContent()) ?? '', /Rollback to v1/);
    const env = (await dev.call('getApp', { params: { id: 'my-api' } })).env;
    assert.deepEqual(Object.keys(env).sort(), ['DB_PASS', 'KEEP', 'MODE']);
  });

  test('a release still deploying has no Roll back button', async () => {
    // A config change that makes the replicas unhealthy: the new release deploys until its health timeout.
    await dev.call('setEnv', { params: { id: 'my-api' }, body: { set: { HEALTH_FAIL: '1' } } });
    await page.goto(`${s.url}/apps/my-api`);
    const v4 = page.getByRole('listitem', { name: 'Release v4' });
    await v4.getByText('deploying', { exact: true }).waitFor(WAIT);
    assert.equal(await page.getByRole('button', { name: 'Roll back to v4' }).count(), 0, 'no rollback to a release on its way');
    // Older releases keep theirs.
    await page.getByRole('button', { name: 'Roll back to v2' }).waitFor();
    await v4.getByText('failed', { exact: true }).waitFor(WAIT);
    assert.equal(await page.getByRole('button', { name: 'Roll back to v4' }).count(), 0, 'nor to a failed one');
  });

  test('Restart and Stop are disabled, saying why, while nothing is live', async () => {
    await dev.call('createApp', { body: { name: 'crashy', project: 'shop' } });
    await page.goto(`${s.url}/apps/crashy`);
    const overview = page.getByLabel('Overview', { exact: true });
    await overview.getByText('idle', { exact: true }).waitFor();
    for (const name of ['Restart', 'Stop']) {
      const b = overview.getByRole('button', { name, exact: true });
      assert.equal(await b.isDisabled(), true, `${name} is disabled on an idle app`);
      assert.equal(await b.getAttribute('title'), 'Nothing is live yet: deploy first.');
    }
    await overview.getByText('Nothing is live yet: deploy first.').waitFor();

    await dev.call('deployApp', { params: { id: 'crashy' }, body: { image_id: broken } });
    await overview.getByText('failed', { exact: true }).waitFor(WAIT);
    const why = 'Nothing is live: the release failed. Deploy again or roll back first.';
    await overview.getByText(why).waitFor();
    for (const name of ['Restart', 'Stop']) {
      const b = overview.getByRole('button', { name, exact: true });
      assert.equal(await b.isDisabled(), true, `${name} is disabled on a failed app`);
      assert.equal(await b.getAttribute('title'), why);
    }
    // A running app: both enabled.
    await page.goto(`${s.url}/apps/my-api`);
    await page.getByLabel('Overview', { exact: true }).getByText('Live release').waitFor();
    for (const name of ['Restart', 'Stop']) assert.equal(await page.getByLabel('Overview', { exact: true }).getByRole('button', { name, exact: true }).isDisabled(), false);
  });

  test('every screen titles its tab; an unknown URL shows a not-found page, an unknown API path its JSON 404', async () => {
    const titles: [string, string][] = [
      ['/projects', 'Projects · Berth'],
      ['/projects/shop', 'shop · Projects · Berth'],
      ['/apps/my-api', 'my-api · Apps · Berth'],
      ['/apps/my-api/config', 'Config · my-api · Apps · Berth'],
      ['/events', 'Events · Berth'],
      ['/settings/tokens', 'Tokens · Berth'],
    ];
    for (const [path, title] of titles) {
      await page.goto(`${s.url}${path}`);
      await page.waitForFunction((t) => document.title === t, title, { timeout: 10_000 }).catch(() => {});
      assert.equal(await page.title(), title, path);
    }

    for (const path of ['/no/such/page', '/apps-typo']) {
      const res = await page.goto(`${s.url}${path}`);
      assert.equal(res!.status(), 404, `${path} answers 404`);
      assert.match(res!.headers()['content-type'], /text\/html/);
      await page.getByRole('heading', { name: 'Page not found' }).waitFor();
      assert.equal(await page.title(), 'Page not found · Berth');
    }
    await page.getByRole('link', { name: 'Go to your projects' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    // Unknown under a known screen (the SPA's own route).
    await page.goto(`${s.url}/settings/nothing-here`);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();

    for (const path of ['/api/v1/no-such-thing', '/api/nope', '/ws/nope']) {
      const res = await fetch(`${s.url}${path}`, { headers: { accept: 'text/html' } });
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_found', path);
    }
  });

  test('at 375 px: the header is one row with a menu, the tab strip scrolls, nothing is cut off', async () => {
    const mctx = await browser.newContext({ viewport: { width: 375, height: 740 }, storageState: await ctx.storageState() });
    const m = await mctx.newPage();
    try {
      await m.goto(`${s.url}/apps/my-api`);
      await m.getByRole('listitem', { name: 'Release v2' }).waitFor(WAIT);
      const header = m.locator('header.top');
      const brand = await m.getByRole('link', { name: 'Berth', exact: true }).boundingBox();
      const box = await header.boundingBox();
      assert.ok(brand && box && box.height < brand.height * 2 + 24, `the header is one row (${box?.height} px for a ${brand?.height} px brand)`);
      assert.equal(await m.getByRole('navigation', { name: 'Main' }).isVisible(), false, 'the links are folded into the menu');
      const menu = m.getByRole('button', { name: 'Menu' });
      await menu.click();
      assert.equal(await menu.getAttribute('aria-expanded'), 'true');
      await m.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Events' }).click();
      await m.waitForURL(/\/events$/);
      assert.equal(await m.getByRole('navigation', { name: 'Main' }).isVisible(), false, 'following a link closes the menu');

      await m.goto(`${s.url}/apps/my-api/settings`);
      const tabs = m.getByRole('navigation', { name: 'App sections' });
      await tabs.waitFor();
      const strip = await tabs.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth, overflow: getComputedStyle(el).overflowX, right: el.getBoundingClientRect().right }));
      assert.ok(strip.scroll > strip.client, `the tabs are wider than the screen (${strip.scroll} > ${strip.client})`);
      assert.equal(strip.overflow, 'auto', 'the strip scrolls sideways');
      assert.ok(strip.right <= 375, 'the strip ends inside the screen');
      // The open tab, the last one, is scrolled into view.
      const active = await tabs.getByRole('link', { name: 'Settings', exact: true }).boundingBox();
      assert.ok(active && active.x >= 0 && active.x + active.width <= 375 + 1, `the open tab is visible (${JSON.stringify(active)})`);
      assert.ok((await m.evaluate(() => document.documentElement.scrollWidth)) <= 375, 'no sideways scrolling of the page');
      await screenshot(m, 'mobile-app');
    } finally {
      await mctx.close();
    }
  });
});
