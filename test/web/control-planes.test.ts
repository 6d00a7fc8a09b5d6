import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_PASSWORD, freePort, startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';
import { explainFailure, launchChromium, logIn, screenshot } from '../support/browser.js';

const WAIT = { timeout: 60_000 };

/**
 * The dashboard's control-planes screen in a real Chromium, on the second of two instances sharing
 * one PostgreSQL: both are listed, the first leads; when the leader stops, the page shows the
 * takeover without a reload (the other instance now leads, the stopped one is gone). A developer
 * has no such screen.
 */
describe('web dashboard: control planes', () => {
  let a: TestServer;
  let b: TestServer;
  let browser: Browser;
  let page: Page;
  let ids: { a: string; b: string };
  const env = { BERTH_SECRET_KEY: randomBytes(32).toString('base64') };
  const selfId = async (s: TestServer) => (await s.admin.call('listControlPlanes', {})).items.find((p) => p.self)!.id;

  // Each on its own port, advertised as operators set it (the list shows where each API answers).
  const own = async () => {
    const port = String(await freePort());
    return { ...env, SERVER_PORT: port, BERTH_ADVERTISE_URL: `http://127.0.0.1:${port}` };
  };

  before(async () => {
    a = await startServer({ engine: 'postgres', env: await own() });
    const aId = await selfId(a);
    await waitFor('the first instance to lead', async () => (await a.admin.call('listControlPlanes', {})).leader?.id === aId, { timeoutMs: 20_000, intervalMs: 100 });
    b = await startServer({ engine: 'postgres', databaseUrl: a.env.DATABASE_URL, env: await own() });
    ids = { a: aId, b: await selfId(b) };
    await b.newUser('dev');
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 700 }, colorScheme: 'light' })).newPage();
  });
  afterEach((t) => explainFailure(t, page));
  after(async () => {
    await browser?.close();
    await b?.destroy();
    await a?.destroy();
  });

  const row = (id: string) => page.getByRole('row', { name: `Control plane ${id}` });

  test('the admin sees both instances and the leader, then the takeover live when the leader stops', async () => {
    await logIn(page, b.url, 'admin', ADMIN_PASSWORD);
    await page.getByRole('heading', { name: 'Projects' }).waitFor(WAIT);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Control planes' }).click();
    assert.match(page.url(), /\/admin\/control-planes$/);
    await row(ids.b).waitFor(WAIT);
    await row(ids.a).getByText('leader', { exact: true }).waitFor(WAIT);
    assert.match((await row(ids.b).textContent()) ?? '', /this one/);
    assert.match((await row(ids.b).textContent()) ?? '', /follower/);
    assert.ok(((await row(ids.a).textContent()) ?? '').includes(a.url), `the row shows ${a.url}`);
    const leaderFact = page.getByRole('region', { name: 'Leader' });
    assert.match((await leaderFact.textContent()) ?? '', new RegExp(ids.a));
    await screenshot(page, 'control-planes');

    // A clean stop gives the lease up at once: B takes it; the page follows without a reload.
    await a.stop();
    await row(ids.b).getByText('leader', { exact: true }).waitFor(WAIT);
    await row(ids.a).waitFor({ state: 'detached', ...WAIT });
    await page.getByRole('region', { name: 'Leader' }).getByText(ids.b).waitFor(WAIT);
  });

  test('a developer has no such screen', async () => {
    const dev = await (await browser.newContext()).newPage();
    await logIn(dev, b.url, 'dev', 'pw-dev-secret');
    await dev.getByRole('heading', { name: 'Projects' }).waitFor(WAIT);
    await dev.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Nodes' }).or(dev.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' })).first().waitFor(WAIT);
    assert.equal(await dev.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Control planes' }).count(), 0);
    await dev.goto(new URL('/admin/control-planes', b.url).toString());
    await dev.getByRole('heading', { name: /not found/i }).waitFor(WAIT);
    assert.equal(await dev.getByRole('heading', { name: 'Control planes' }).count(), 0);
  });
});
