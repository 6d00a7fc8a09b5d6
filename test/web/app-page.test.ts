import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { buildFrom } from '../support/build.js';
import { waitFor } from '../support/wait.js';
import { explainFailure, launchChromium, logIn, screenshot } from '../support/browser.js';
import { dockerfileApp } from '../builds/helpers.js';
import { TEST_APP_SOURCE } from '../support/test-app.js';
import { run } from '../../src/lib/exec.js';

const WAIT = { timeout: 120_000 };

/**
 * What a Heroku or Render user looks for on an app's page (issue 22), in Chromium against a real
 * Berth and Docker Engine: restart, scale, stop/start, deploy and rollback followed step by step to
 * "Done in N s" or the failure's reason; the build page saying the release went live; the git remote
 * (git's ls-remote answered by it) and CLI lines to copy; the attached add-ons; an add-on's URL revealed to a
 * developer only; every app setting of PUT /apps/{id}, with the API's errors beside their fields.
 */
describe('web dashboard: the app page a Heroku user expects', () => {
  let s: TestServer;
  let dev: BerthClient;
  let image: string;
  let broken: string;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  const runtime = new DockerRuntime({});

  const live = (version: number) => waitFor(`v${version} live`, async () => (await dev.call('getApp', { params: { id: 'my-api' } })).release === version, { timeoutMs: 120_000 });
  const webReplicas = async () => (await dev.call('listContainers', { query: { app: 'my-api' } })).items.filter((c) => c.process_type === 'web' && c.status !== 'stopped');
  const progress = () => page.getByRole('region', { name: 'Action progress' });
  /** Every text the progress box showed since the last call, in order (recorded in the page as it changed). */
  const shown = () => page.evaluate(() => (window as unknown as { __seen: string[] }).__seen.splice(0));
  /** The Deploy panel of the overview, opened unless it is (a deploy leaves it open). */
  const openDeploy = async () => {
    const details = page.locator('details.deploy');
    if (!(await details.evaluate((d) => (d as HTMLDetailsElement).open))) await details.locator('summary').click();
  };
  const finished = async (shot?: string) => {
    await progress().getByText(/^Done in \d+\.\d s$/).waitFor(WAIT);
    const text = await progress().innerText();
    if (shot) await screenshot(page, shot);
    // Dismissed, so the next action's box is not mistaken for this one's.
    await progress().getByRole('button', { name: 'Dismiss' }).click();
    await progress().waitFor({ state: 'detached' });
    return text;
  };

  before(async () => {
    image = await ensureTestAppImage(runtime);
    broken = await buildFrom(runtime, image, 'ENV CRASH_ON_START=1');
    s = await startServer();
    dev = await s.newUser('dev');
    await s.newUser('vic');
    await dev.call('createProject', { body: { name: 'shop' } });
    await dev.call('addMember', { params: { id: 'shop' }, body: { username: 'vic', role: 'viewer' } });
    await dev.call('createApp', { body: { name: 'my-api', project: 'shop', health_check: { path: '/health', timeout_s: 20, grace_s: 0 }, drain_timeout_s: 2 } });
    await dev.call('deployApp', { params: { id: 'my-api' }, body: { image_id: image } });
    await live(1);
    const cache = await dev.call('createAddon', { body: { type: 'redis', name: 'cache', project: 'shop' } });
    await waitFor('cache running', async () => (await dev.call('getAddon', { params: { id: cache.id }, query: {} })).status === 'running', { timeoutMs: 120_000 });
    await dev.call('attachAddon', { params: { id: cache.id }, query: {}, body: { app: 'my-api' } });
    await live(2);
    browser = await launchChromium();
    ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.url });
    await ctx.addInitScript(() => {
      const w = window as unknown as { __seen: string[] };
      w.__seen = [];
      new MutationObserver(() => {
        const el = document.querySelector<HTMLElement>('section[aria-label="Action progress"]');
        const text = el?.innerText ?? '';
        if (text && w.__seen[w.__seen.length - 1] !== text) w.__seen.push(text);
      }).observe(document, { subtree: true, childList: true, characterData: true });
    });
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

  test('Restart: new replica started, healthy, the old one stopped, "Done in N s"; the API agrees', async () => {
    await page.goto(`${s.url}/apps/my-api`);
    await page.getByRole('heading', { name: 'my-api' }).waitFor();
    const before = (await webReplicas()).map((c) => c.id);
    await shown();
    await page.getByRole('button', { name: 'Restart', exact: true }).click();
    const text = await finished('app-action-progress');
    assert.match(text, /Restarting/);
    assert.match(text, /✓ Starting new replicas: 1\/1 healthy/);
    assert.match(text, /✓ Old replicas out of rotation: 1\/1/);
    assert.match(text, /✓ Old replicas stopped: 1\/1/);
    const seen = await shown();
    assert.ok(seen.some((t) => /… Starting new replicas: 0\/1 healthy/.test(t)), `the steps showed before they were done: ${seen.join(' | ')}`);
    const now = await webReplicas();
    assert.equal(now.length, 1);
    assert.equal(now[0].status, 'healthy');
    assert.ok(!before.includes(now[0].id), 'a fresh replica serves');
  });

  test('Scale to 2 and back to 1, Stop and Start: each followed to its end', async () => {
    const form = page.getByRole('form', { name: 'Scale' });
    await form.getByLabel('Replicas').fill('2');
    await form.getByRole('button', { name: 'Scale' }).click();
    assert.match(await finished(), /Scaling to 2[\s\S]*✓ Replicas healthy: 2\/2/);
    assert.equal((await webReplicas()).filter((c) => c.status === 'healthy').length, 2);
    await shown();
    await form.getByLabel('Replicas').fill('1');
    await form.getByRole('button', { name: 'Scale' }).click();
    assert.match(await finished(), /Scaling to 1[\s\S]*✓ Replicas healthy: 1\/1/);
    assert.ok((await shown()).some((t) => /Stopping 1 extra replica/.test(t)), 'the extra replica was shown stopping');
    assert.equal((await webReplicas()).length, 1);

    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    assert.match(await finished(), /Stopping[\s\S]*✓ All replicas stopped/);
    assert.equal((await webReplicas()).length, 0);
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    assert.match(await finished(), /Starting[\s\S]*✓ Replicas healthy: 1\/1/);
    assert.equal((await webReplicas()).filter((c) => c.status === 'healthy').length, 1);
  });

  test('Deploy an image and roll back: the release replica by replica to live; a crashing image fails with its reason', async () => {
    await openDeploy();
    const deploy = page.getByRole('form', { name: 'Deploy an image' });
    await deploy.getByLabel('Image').fill(image);
    await deploy.getByRole('button', { name: 'Deploy image' }).click();
    let text = await finished();
    assert.match(text, /Deploying: v3[\s\S]*✓ Release v3: live[\s\S]*✓ New replicas: 1\/1 healthy[\s\S]*✓ Old replicas out of rotation/);
    assert.equal((await dev.call('getApp', { params: { id: 'my-api' } })).release, 3);

    await page.getByRole('listitem', { name: 'Release v2' }).getByRole('button', { name: 'Roll back to v2' }).click();
    await page.getByRole('dialog', { name: 'Roll back my-api to v2?' }).getByRole('button', { name: 'Confirm' }).click();
    text = await finished();
    assert.match(text, /Rolling back: v4[\s\S]*✓ Release v4: live/);
    assert.equal((await dev.call('getApp', { params: { id: 'my-api' } })).release, 4);

    await openDeploy();
    await deploy.getByLabel('Image').fill(broken);
    await deploy.getByRole('button', { name: 'Deploy image' }).click();
    const failure = progress().getByText(/^Failed: /);
    await failure.waitFor(WAIT);
    const v5 = await dev.call('getRelease', { params: { id: 'my-api', version: 5 } });
    assert.equal(v5.status, 'failed');
    assert.equal(await failure.textContent(), `Failed: ${v5.reason}`);
    assert.match(await progress().innerText(), /Deploying: v5[\s\S]*… Release v5: failed/);
    assert.equal((await dev.call('getApp', { params: { id: 'my-api' } })).release, 4, 'v4 keeps serving');
  });

  test('an archive dropped on the app page builds, and the build page says its release went live, with a link', async () => {
    const archive = await dockerfileApp(`FROM ${process.env.BERTH_STACK_NODE ?? 'berth/stack-node:bookworm'}\nCOPY server.js /app/server.js\nCMD ["node", "/app/server.js"]\n`, { 'server.js': TEST_APP_SOURCE });
    await page.goto(`${s.url}/apps/my-api`);
    await openDeploy();
    await page.getByLabel(/Drop a source archive/).setInputFiles({ name: 'app.tar.gz', mimeType: 'application/gzip', buffer: archive });
    await page.waitForURL(/\/builds\/bld_/);
    const said = page.getByRole('region', { name: 'Release' }).getByRole('status');
    await said
      .getByText(/Release v\d+ is live: my-api$/)
      .waitFor({ timeout: 300_000 })
      .catch(async (e: Error) => assert.fail(`${e.message.split('\n')[0]}; it said: ${await page.locator('main').innerText()}`));
    const version = Number(/v(\d+)/.exec((await said.textContent())!)![1]);
    assert.equal((await dev.call('getApp', { params: { id: 'my-api' } })).release, version);
    assert.equal(await said.getByRole('link', { name: 'my-api' }).getAttribute('href'), '/apps/my-api');
    await screenshot(page, 'build-released');
  });

  test('the git remote and CLI lines, copied; the URL shown takes a real push; the attached add-on links to its page', async () => {
    await page.goto(`${s.url}/apps/my-api`);
    const remote = page.getByRole('group', { name: 'git remote add' });
    const line = (await remote.locator('code').textContent())!;
    assert.equal(line, `git remote add berth ${s.url}/git/my-api.git`);
    await remote.getByRole('button', { name: 'Copy git remote add' }).click();
    await remote.getByRole('status').getByText('Copied').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), line);
    for (const [label, text] of [
      ['git push', 'git push berth main'],
      ['berth deploy', 'berth deploy --app my-api'],
      ['berth logs', 'berth logs my-api -f'],
      ['berth run', 'berth run my-api -- sh'],
      ['berth scale', 'berth scale my-api 1'],
    ]) {
      assert.equal(await page.getByRole('group', { name: label, exact: true }).locator('code').textContent(), text);
    }
    // The remote the page shows is the one git talks to: ls-remote with an API token as the password.
    const token = (await dev.call('createToken', { body: { name: 'git' } })).token;
    const url = new URL(line.split(' ').at(-1)!);
    url.username = 'any';
    url.password = token;
    const ls = (u: URL) => run('git', ['ls-remote', u.toString()], { timeoutMs: 60_000, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
    const ok = await ls(url);
    assert.equal(ok.code, 0, ok.stderr);
    const wrong = new URL(url);
    wrong.pathname = '/git/no-such-app.git';
    const refused = await ls(wrong);
    assert.notEqual(refused.code, 0, 'a remote that is not the app’s is refused');
    assert.match(refused.stderr, /not found/);
    const addons = page.getByRole('region', { name: 'Add-ons' });
    const link = addons.getByRole('link', { name: 'cache' });
    await link.waitFor();
    assert.match(await addons.innerText(), /cache Redis \d+ running as REDIS_URL/);
    await screenshot(page, 'app-guide');
    await link.click();
    await page.getByRole('heading', { name: 'cache', exact: true }).waitFor();
  });

  test('an add-on’s URL: masked until a developer clicks Reveal; a viewer sees no Reveal, and the API refuses him and strangers', async () => {
    const cache = await dev.call('getAddon', { params: { id: 'cache' }, query: { project: 'shop' } });
    await page.goto(`${s.url}/addons/${cache.id}`);
    const conn = page.getByRole('region', { name: 'Connection' });
    const url = conn.getByRole('group', { name: 'Connection URL' });
    assert.equal(await url.locator('code').textContent(), `redis://••••••••@${cache.host}:${cache.port}`);
    assert.equal(await conn.getByRole('group', { name: 'berth addons redis-cli' }).locator('code').textContent(), 'berth addons redis-cli cache --project shop');
    await url.getByRole('button', { name: 'Reveal' }).click();
    const revealed = (await dev.call('getAddonUrl', { params: { id: cache.id }, query: {} })).url;
    assert.match(revealed, new RegExp(`^redis://:[^@]+@${cache.host}:6379$`));
    await url.locator('code').getByText(revealed).waitFor();
    await screenshot(page, 'addon-connection');
    // What the app got when attached is that same URL.
    assert.equal((await dev.call('getAddonUrl', { params: { id: cache.id }, query: {} })).var, 'REDIS_URL');

    const viewer = await s.login('vic', 'pw-vic-secret');
    await assert.rejects(viewer.call('getAddonUrl', { params: { id: cache.id }, query: {} }), (e: { status: number }) => e.status === 403);
    const stranger = await s.newUser('mallory');
    await assert.rejects(stranger.call('getAddonUrl', { params: { id: cache.id }, query: {} }), (e: { status: number }) => e.status === 404);
    const vpage = await ctx.browser()!.newContext().then((c) => c.newPage());
    await logIn(vpage, s.url, 'vic', 'pw-vic-secret', encodeURIComponent(`/addons/${cache.id}`));
    const vurl = vpage.getByRole('region', { name: 'Connection' }).getByRole('group', { name: 'Connection URL' });
    await vurl.getByText('developers can reveal it').waitFor();
    assert.equal(await vurl.getByRole('button', { name: 'Reveal' }).count(), 0);
    assert.ok(!(await vpage.content()).includes(revealed.split('@')[0]), 'no password in the viewer’s page');
    await vpage.context().close();
  });

  test('settings: runtime, git source and notifications saved; the API’s errors beside the fields it names', async () => {
    await page.goto(`${s.url}/apps/my-api/settings`);
    const form = page.getByRole('form', { name: 'Runtime settings' });
    const errorOf = async (input: Locator) => {
      await page.waitForFunction((el) => el?.getAttribute('aria-invalid') === 'true', await input.elementHandle());
      return (await page.locator(`[id="${(await input.getAttribute('aria-describedby'))!}"]`).textContent()) ?? '';
    };
    assert.equal(await form.getByLabel('Health check path').inputValue(), '/health');
    await form.getByLabel('Memory (MB)').fill('8');
    await form.getByRole('button', { name: 'Save runtime settings' }).click();
    assert.match(await errorOf(form.getByLabel('Memory (MB)')), /16/);
    await form.getByLabel('Memory (MB)').fill('256');
    await form.getByLabel('Health check path').fill('/he alth');
    await form.getByRole('button', { name: 'Save runtime settings' }).click();
    assert.match(await errorOf(form.getByLabel('Health check path')), /path/);
    await form.getByLabel('Health check path').fill('/health');
    await form.getByLabel('Timeout (s)', { exact: true }).fill('45');
    await form.getByLabel('CPU (cores, 0 = no limit)').fill('0.5');
    await form.getByLabel('Drain timeout (s)').fill('12');
    await form.getByLabel(/Auto-deploy/).uncheck();
    await form.getByRole('button', { name: 'Save runtime settings' }).click();
    await form.getByRole('status').getByText(/^Saved\./).waitFor();
    const app = await dev.call('getApp', { params: { id: 'my-api' } });
    assert.deepEqual([app.memory, app.cpu, app.health_check, app.drain_timeout_s, app.auto_deploy], [256, 0.5, { path: '/health', timeout_s: 45, grace_s: 0 }, 12, false]);
    await screenshot(page, 'app-settings-runtime');

    const source = page.getByRole('form', { name: 'Git source' });
    await source.getByLabel('Repository URL').fill('not a url');
    await source.getByRole('button', { name: 'Save git source' }).click();
    assert.match(await errorOf(source.getByLabel('Repository URL')), /repo_url/);
    await source.getByLabel('Repository URL').fill('https://example.com/shop/api.git');
    await source.getByLabel('Source branch').fill('release');
    await source.getByRole('button', { name: 'Save git source' }).click();
    await source.getByRole('status').getByText(/^Saved/).waitFor();
    const src = await dev.call('getAppSource', { params: { id: 'my-api' } });
    assert.deepEqual([src.repo_url, src.branch, src.vendor], ['https://example.com/shop/api.git', 'release', null]);
    await page.getByRole('region', { name: 'Git source' }).getByText(src.webhook_url).waitFor();

    // A notification to this machine is refused (egress rules) beside the URL field; nothing is added.
    const notify = page.getByRole('form', { name: 'Add a notification' });
    await notify.getByLabel('Notification URL').fill('http://127.0.0.1:9/hook');
    await notify.getByRole('button', { name: 'Add notification' }).click();
    assert.match(await errorOf(notify.getByLabel('Notification URL')), /url/);
    assert.equal((await dev.call('listNotifications', { params: { id: 'my-api' } })).items.length, 0);
  });
});
