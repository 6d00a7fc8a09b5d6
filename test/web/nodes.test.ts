import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { run } from '../../src/lib/exec.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { ADMIN_PASSWORD, freePort, startServer, type TestServer } from '../support/server.js';
import { BASE_IMAGE, ensureTestAppImage } from '../support/images.js';
import { healthy, settled } from '../support/rollout.js';
import { waitFor } from '../support/wait.js';
import { explainFailure, launchChromium, logIn, screenshot } from '../support/browser.js';
import { clusterEnv, loadImage, startNodes, type DindCluster, type DindNode } from '../cluster/nodes-harness.js';

const WAIT = { timeout: 120_000 };

/**
 * The dashboard's nodes screens in a real Chromium, against a control plane whose Docker Engine is a
 * Docker-in-Docker node (the host engine's Swarm state is never touched) and a second such node as
 * the worker: the admin turns the server into a cluster manager in the browser, joins the worker
 * with the command the page shows (copied to the clipboard), watches it go ready without a reload,
 * sees an app's replica on it, labels it, drains it (Berth moves the replica first: `draining`,
 * then `drain`), meets the API's refusal to drain the last node inline, activates it and removes
 * it. A developer sees no such screen.
 */
describe('web dashboard: cluster nodes', () => {
  let cluster: DindCluster;
  let manager: DindNode;
  let worker: DindNode;
  let s: TestServer;
  let image: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    cluster = await startNodes(2);
    [manager, worker] = cluster.nodes as [DindNode, DindNode];
    image = await ensureTestAppImage(new DockerRuntime());
    // On the manager only: the worker pulls the app from Berth's registry once it has joined.
    await Promise.all([loadImage(manager, image), loadImage(manager, BASE_IMAGE)]);
    s = await startServer({ env: clusterEnv(cluster, await freePort()) });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.url });
    page = await context.newPage();
    await logIn(page, s.url, 'admin', ADMIN_PASSWORD);
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
  });
  afterEach((t) => explainFailure(t, page));
  after(async () => {
    await browser?.close();
    await s?.destroy();
    await cluster?.destroy();
  });

  /** The API's message about a field, shown beside it: the input is marked invalid and described by it. */
  const fieldError = async (input: Locator) => {
    await page.waitForFunction((el) => el?.getAttribute('aria-invalid') === 'true', await input.elementHandle());
    const id = (await input.getAttribute('aria-describedby'))!;
    return (await page.locator(`[id="${id}"]`).textContent()) ?? '';
  };
  const fact = (term: string) => page.getByRole('region', { name: 'Overview' }).locator('div', { has: page.getByRole('term').filter({ hasText: term }) }).getByRole('definition');
  const nodeRow = (hostname: string) => page.getByRole('row', { name: `Node ${hostname}` });
  const confirmIn = (question: RegExp) => page.getByRole('group', { name: question });

  test('the admin turns the server into a cluster manager (a bad address is refused beside its field)', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Nodes' }).click();
    assert.match(page.url(), /\/nodes$/);
    await page.getByText('Single node', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Turn this server into a cluster manager' }).click();
    const form = page.getByRole('form', { name: 'Turn this server into a cluster manager' });
    const addr = form.getByLabel('Advertise address (optional)', { exact: true });
    await addr.fill('no-such-interface0');
    await form.getByRole('button', { name: 'Confirm' }).click();
    assert.match(await fieldError(addr), /refused to start a swarm/);
    assert.equal((await manager.docker(['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim(), 'inactive');
    await addr.fill('');
    await form.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText('Cluster (Docker Swarm)', { exact: true }).waitFor(WAIT);
    assert.equal((await manager.docker(['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'])).stdout.trim(), 'active true');
    await nodeRow('node0').getByText('ready', { exact: true }).waitFor(WAIT);
    await nodeRow('node0').getByText('manager (leader)').waitFor();
  });

  test('the worker joins with the command the page shows and copies; both nodes go ready without a reload', async () => {
    const shown = (await page.locator('pre[aria-label="Join command"]').textContent())!;
    assert.match(shown, /docker swarm join --token SWMTKN-1-\S+ \S+:2377$/);
    await page.getByRole('button', { name: 'Copy join command' }).click();
    await page.getByRole('status').getByText('Copied to the clipboard.').waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, shown);
    // A manager's token is another one.
    await page.getByRole('combobox', { name: /^Join as/ }).selectOption('manager');
    await page.waitForFunction((before) => document.querySelector('pre[aria-label="Join command"]')?.textContent !== before, shown);
    await page.getByRole('combobox', { name: /^Join as/ }).selectOption('worker');
    await page.waitForFunction((before) => document.querySelector('pre[aria-label="Join command"]')?.textContent === before, shown);

    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    // The whole line, as an operator pastes it on the new server.
    const joined = await run('docker', ['exec', worker.name, 'sh', '-c', copied], { timeoutMs: 120_000 });
    assert.equal(joined.code, 0, joined.stderr);
    await nodeRow('node1').getByText('ready', { exact: true }).waitFor(WAIT);
    await page.getByText('2 of 2 ready').waitFor();
    await nodeRow('node1').getByRole('cell', { name: 'worker', exact: true }).waitFor();
    await nodeRow('node1').getByText(worker.ip).waitFor();
    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page was reloaded');
  });

  test('an app’s replica on the worker is listed on its page, linked to the app', async () => {
    await s.admin.call('createProject', { body: { name: 'shop' } });
    await s.admin.call('createApp', { body: { name: 'web', project: 'shop', health_check: { path: '/health', timeout_s: 90, grace_s: 0 } } });
    await s.admin.call('deployApp', { params: { id: 'web' }, body: { image_id: image, replicas: 2 } });
    assert.equal((await settled(s.admin, 'web', 1, 300_000)).status, 'live');
    await healthy(s.admin, 'web', 2, { timeoutMs: 120_000 });
    const onWorker = (await s.admin.call('getNode', { params: { id: 'node1' } })).replicas.filter((r) => r.app_slug === 'web');
    assert.ok(onWorker.length > 0, 'Swarm put no replica of 2 on the worker');
    await nodeRow('node1').getByRole('cell', { name: String(onWorker.length), exact: true }).waitFor(WAIT);
    await screenshot(page, 'nodes');
    await nodeRow('node1').getByRole('link', { name: 'node1' }).click();
    await page.getByRole('heading', { name: 'node1', exact: true }).waitFor();
    const replica = page.getByRole('row', { name: 'Replica web' }).first();
    await replica.getByText('v1', { exact: true }).waitFor();
    await replica.getByText('healthy', { exact: true }).waitFor();
    await replica.getByText('in rotation', { exact: true }).waitFor();
    assert.match((await replica.getByRole('link', { name: 'web' }).getAttribute('href'))!, /^\/apps\/web\/containers$/);
  });

  test('labels: a bad key is refused beside it; a good one is saved and seen by the engine', async () => {
    const form = page.getByRole('form', { name: 'Node labels' });
    await form.getByRole('button', { name: 'Add a label' }).click();
    const row = form.getByRole('group', { name: 'Label 1' });
    await row.getByLabel('Key', { exact: true }).fill('bad key!');
    await row.getByLabel('Value', { exact: true }).fill('x');
    await form.getByRole('button', { name: 'Save labels' }).click();
    assert.match(await fieldError(row.getByLabel('Key', { exact: true })), /label "bad key!" must be letters, digits/);
    await row.getByLabel('Key', { exact: true }).fill('tier');
    await row.getByLabel('Value', { exact: true }).fill('web');
    await form.getByRole('button', { name: 'Save labels' }).click();
    await form.getByRole('status').getByText(/^Saved/).waitFor();
    await page.getByText('tier=web').first().waitFor();
    // The node's URL loads on its own (a shared link, a reload).
    await page.reload();
    await page.getByRole('heading', { name: 'node1', exact: true }).waitFor();
    await form.getByRole('group', { name: 'Label 1' }).getByLabel('Key', { exact: true }).and(page.locator('[value="tier"]')).waitFor();
    const id = (await s.admin.call('getNode', { params: { id: 'node1' } })).id;
    assert.equal((await manager.docker(['node', 'inspect', '-f', '{{json .Spec.Labels}}', id])).stdout.trim(), '{"tier":"web"}');
  });

  test('drain: the page says draining while Berth moves the replica, then drain; draining the last node is refused inline', async () => {
    await page.getByRole('button', { name: 'Drain node1' }).click();
    await confirmIn(/^Drain node1\?/).getByRole('button', { name: 'Confirm' }).click();
    await fact('Availability').getByText('draining', { exact: true }).waitFor();
    await page.getByRole('status').getByText(/^Draining: no new replica starts here, and Berth moves the \d+ replicas? of its apps/).waitFor();
    await screenshot(page, 'node-draining');
    // Swarm's drain follows once the app controller has replaced the replica elsewhere.
    await fact('Availability').getByText('drain', { exact: true }).waitFor({ timeout: 240_000 });
    await page.getByText('No replica runs here.').waitFor(WAIT);
    const moved = await healthy(s.admin, 'web', 2, { timeoutMs: 120_000 });
    assert.deepEqual(moved.map((c) => c.node), ['node0', 'node0']);

    // The manager is now the only node that can host the app: the API refuses, the page says why.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Nodes' }).click();
    await nodeRow('node0').getByRole('link', { name: 'node0' }).click();
    await page.getByRole('heading', { name: 'node0', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Drain node0' }).click();
    const refused = confirmIn(/^Drain node0\?/);
    await refused.getByRole('button', { name: 'Confirm' }).click();
    await refused.getByRole('alert').getByText(/node "node0" is the last active node/).waitFor();
    await refused.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await s.admin.call('getNode', { params: { id: 'node0' } })).availability, 'active');
  });

  test('activate the worker, then remove it (typed confirmation; a node that is up needs force)', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Nodes' }).click();
    await nodeRow('node1').getByText('drain', { exact: true }).waitFor();
    await nodeRow('node1').getByRole('link', { name: 'node1' }).click();
    await page.getByRole('heading', { name: 'node1', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Activate node1' }).click();
    await confirmIn(/^Activate node1\?/).getByRole('button', { name: 'Confirm' }).click();
    await fact('Availability').getByText('active', { exact: true }).waitFor();
    assert.equal((await s.admin.call('getNode', { params: { id: 'node1' } })).availability, 'active');

    await page.getByRole('button', { name: 'Remove node1' }).click();
    const remove = confirmIn(/^Remove node1 from the cluster\?/);
    const confirm = remove.getByRole('button', { name: 'Confirm' });
    assert.equal(await confirm.isDisabled(), true, 'Confirm before the name is typed');
    await remove.getByLabel(/Type node1 to confirm/).fill('node1');
    await confirm.click();
    await remove.getByRole('alert').getByText(/is ready: drain it and run `docker swarm leave` on it first/).waitFor();
    await remove.getByRole('button', { name: 'Cancel' }).click();
    await page.getByLabel('Remove even though it is up (force)').check();
    await page.getByRole('button', { name: 'Remove node1' }).click();
    await remove.getByLabel(/Type node1 to confirm/).fill('node1');
    await remove.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL(/\/nodes$/);
    await waitFor('node1 gone from the page', async () => (await nodeRow('node1').count()) === 0, { timeoutMs: 30_000, intervalMs: 250 });
    assert.deepEqual((await s.admin.call('listNodes', {})).items.map((n) => n.hostname), ['node0']);
  });

  test('the nodes screens work at 375 px wide: no sideways scrolling of the page', async () => {
    const mctx = await browser.newContext({ viewport: { width: 375, height: 740 }, storageState: await context.storageState() });
    const m = await mctx.newPage();
    for (const [url, shown] of [
      ['/nodes', 'Copy join command'],
      ['/nodes/node0', 'Save labels'],
    ]) {
      await m.goto(`${s.url}${url}`);
      await m.getByText(shown).first().waitFor();
      assert.ok((await m.evaluate(() => document.documentElement.scrollWidth)) <= 375, `${url} fits 375 px`);
    }
    await mctx.close();
  });

  test('a developer sees no nodes link, and /nodes is not found', async () => {
    const dev = await s.newUser('dev');
    assert.ok(dev);
    const other = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const p = await other.newPage();
    await logIn(p, s.url, 'dev', 'pw-dev-secret', '/nodes');
    await p.getByText('There is no such page.').waitFor();
    assert.equal(await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Nodes' }).count(), 0);
    assert.equal(await p.getByRole('button', { name: 'Turn this server into a cluster manager' }).count(), 0);
    await p.goto(`${s.url}/nodes/node0`);
    await p.getByText('There is no such page.').waitFor();
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).waitFor();
    await other.close();
  });
});
