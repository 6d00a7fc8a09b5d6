import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import type { RouteOutput } from '../../src/api/contract/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { run } from '../../src/lib/exec.js';
import { CLI_MAIN, startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { viaRouter } from '../support/load.js';
import { rejects } from '../builds/helpers.js';
import { explainFailure, launchChromium, logIn, screenshot } from '../support/browser.js';
import type { Page } from 'playwright-core';

type Line = RouteOutput<'appLogs'>['lines'][number];
const field = (e: { details?: unknown }) => (e.details as { field?: string } | undefined)?.field;

/**
 * The kept log on a real Docker Engine: every replica's lines are stored by the leader's collector,
 * outlive their container (a redeploy) and the control plane (a restart), and are searched through
 * the API, the CLI and the dashboard; another project's user sees none of it.
 */
describe('log store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-logstore-'));
  const slug = `lgs-${uniqueSuffix()}`;
  const tag = uniqueSuffix();
  let s: TestServer;
  let dev: BerthClient;
  let mallory: BerthClient;
  let image: string;
  const runtime = new DockerRuntime({});
  const hit = (path: string) => viaRouter(s.routerPort, `${slug}.localhost`, path);
  // The replicas' own lines (the kept log also holds the router's access lines, type router: tested below).
  const logs = (query: Record<string, unknown> = {}) => dev.call('appLogs', { params: { id: slug }, query: { type: 'web', ...query } });
  const berth = (args: string[]) =>
    run(process.execPath, [CLI_MAIN, ...args], { timeoutMs: 30_000, env: { ...process.env, BERTH_CONFIG: join(dir, 'cli.json'), BERTH_URL: s.url, BERTH_TOKEN: dev.opts.token! } });
  /** Waits until the kept log has exactly `n` lines matching `grep`, and returns them. */
  const kept = (grep: string, n: number, more: Record<string, unknown> = {}) =>
    waitFor(`${n} kept line(s) with ${grep}`, async () => {
      const l = (await logs({ grep, limit: 1000, ...more })).lines;
      return l.length === n ? l : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
  const live = (version: number) =>
    waitFor(`v${version} live`, async () => (await dev.call('getRelease', { params: { id: slug, version } })).status === 'live', { timeoutMs: 90_000, intervalMs: 200 });
  const containersOf = async () => (await dev.call('listContainers', { query: { app: slug } })).items;

  before(async () => {
    image = await ensureTestAppImage(runtime);
    s = await startServer();
    dev = await s.newUser('dev');
    mallory = await s.newUser('mallory');
    const project = await dev.call('createProject', { body: { name: 'logs' } });
    await mallory.call('createProject', { body: { name: 'other' } });
    await dev.call('createApp', { body: { name: slug, project: project.id, health_check: { path: '/health', timeout_s: 5, grace_s: 0 } } });
    await live((await dev.call('deployApp', { params: { id: slug }, body: { image_id: image, replicas: 2 } })).version);
  });
  after(async () => {
    await s?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a replaced container's lines are still found after a redeploy, with their replica and release", async () => {
    const v1 = await containersOf();
    for (let i = 0; i < 6; i++) assert.equal((await hit(`/keep-${tag}-${i}`)).status, 200);
    const before = await kept(`keep-${tag}-`, 6);
    assert.deepEqual(new Set(before.map((l) => l.release)), new Set([1]));
    assert.deepEqual(new Set(before.map((l) => l.container)), new Set(v1.map((c) => c.name)), 'both replicas answered');

    await live((await dev.call('deployApp', { params: { id: slug }, body: { image_id: image } })).version);
    await waitFor('the v1 containers removed from the engine', async () => {
      for (const c of v1) if (await runtime.inspectContainer(c.docker_id!)) return false;
      return true;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    const after = (await logs({ grep: `keep-${tag}-`, limit: 1000 })).lines;
    assert.deepEqual(after, before);
    for (const l of after) {
      assert.equal(l.process_type, 'web');
      assert.ok(v1.some((c) => c.name === l.container && c.replica === l.replica), JSON.stringify(l));
      assert.match(l.line, new RegExp(`^GET /keep-${tag}-\\d$`));
      assert.ok(!Number.isNaN(Date.parse(l.time)), l.time);
    }
    // Newest last.
    assert.deepEqual(after.map((l) => l.time), [...after.map((l) => l.time)].sort());
  });

  test('grep (any case, plain text), type, replica, since and until return exactly the matching lines; pages join up', async () => {
    for (let i = 0; i < 4; i++) await hit(`/early-${tag}-${i}`);
    const early = await kept(`early-${tag}-`, 4);
    // The boundary is a stored line's own time: the engine's clock, not the test's.
    const cut = early[early.length - 1].time;
    await waitFor('a later timestamp', () => Date.now() > Date.parse(cut) + 5);
    for (let i = 0; i < 4; i++) await hit(`/late-${tag}-${i}`);
    const late = await kept(`late-${tag}-`, 4);

    assert.deepEqual((await logs({ grep: `LATE-${tag.toUpperCase()}-`, limit: 1000 })).lines, late);
    // LIKE's wildcards are text: `_` matches only an underscore, `%` only a percent sign.
    assert.deepEqual((await logs({ grep: `l_te-${tag}-` })).lines, []);
    assert.deepEqual((await logs({ grep: `%-${tag}-` })).lines, []);

    const after = (await logs({ grep: `-${tag}-`, since: late[0].time, limit: 1000 })).lines;
    assert.deepEqual(after, late);
    const upto = (await logs({ grep: `ly-${tag}-`, until: late[0].time, limit: 1000 })).lines;
    assert.deepEqual(upto, early);
    assert.deepEqual((await logs({ grep: `-${tag}-`, since: '1h', limit: 1000 })).lines.length, 14);
    assert.deepEqual((await logs({ grep: `-${tag}-`, until: '1h' })).lines, []);

    const all = (await logs({ grep: `-${tag}-`, limit: 1000 })).lines;
    for (const r of new Set(all.map((l) => l.replica))) {
      const mine = (await logs({ grep: `-${tag}-`, replica: r, limit: 1000 })).lines;
      assert.deepEqual(mine, all.filter((l) => l.replica === r));
    }
    assert.deepEqual((await logs({ grep: `-${tag}-`, type: 'web', limit: 1000 })).lines, all);
    assert.deepEqual((await logs({ grep: `-${tag}-`, type: 'worker' })).lines, []);

    // Pages of 3, newest page first, each newest last: joined they are the whole answer.
    const pages: Line[][] = [];
    let cursor: string | undefined;
    do {
      const p = await logs({ grep: `-${tag}-`, limit: 3, before: cursor });
      pages.unshift(p.lines);
      cursor = p.before ?? undefined;
    } while (cursor);
    assert.equal(pages.length, 5);
    assert.deepEqual(pages.flat(), all);
  });

  test("the router's access lines: one per request, type router, with the replica that answered; in berth logs (with and without --type) and the API; HAProxy's own answers are no app's", async () => {
    const reps = await containersOf();
    for (let i = 0; i < 4; i++) assert.equal((await hit(`/routed-${tag}?n=${i}`)).status, 200);
    // A host no app has: HAProxy answers it (404), no app's line.
    assert.equal((await viaRouter(s.routerPort, `nohost-${tag}.localhost`, `/routed-${tag}-nohost`)).status, 404);
    const routed = await waitFor('4 router lines', async () => {
      const l = (await logs({ grep: `routed-${tag}`, type: 'router', limit: 1000 })).lines;
      return l.length >= 4 ? l : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    assert.equal(routed.length, 4, JSON.stringify(routed));
    for (const [i, l] of routed.entries()) {
      assert.match(l.line, new RegExp(`^GET /routed-${tag}\\?n=${i} HTTP/1\\.1 status=200 bytes=\\d+ connect=\\d+ms service=\\d+ms total=\\d+ms client=127\\.0\\.0\\.1$`));
      assert.equal(l.process_type, 'router');
      assert.equal(l.stream, 'stdout');
      const r = reps.find((c) => c.name === l.container);
      assert.ok(r && r.replica === l.replica && r.release === l.release, `the replica that answered: ${JSON.stringify(l)} among ${JSON.stringify(reps.map((c) => [c.name, c.replica]))}`);
    }
    // Without a type: the replicas' lines and the router's, as Heroku's log does.
    const both = (await dev.call('appLogs', { params: { id: slug }, query: { grep: `routed-${tag}`, limit: 1000 } })).lines;
    assert.deepEqual(both.map((l) => l.process_type).sort(), ['router', 'router', 'router', 'router', 'web', 'web', 'web', 'web']);
    assert.ok(!both.some((l) => l.line.includes('nohost')));

    const out = await berth(['logs', slug, '--type', 'router', '--grep', `routed-${tag}`, '--json']);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(out.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line), routed);
    const text = await berth(['logs', slug, '--grep', `routed-${tag}`]);
    assert.equal(text.code, 0, text.stderr);
    assert.deepEqual(text.stdout.trim().split('\n').map((l) => l.split(' ')[1]!.split('.')[0]).sort(), ['router', 'router', 'router', 'router', 'web', 'web', 'web', 'web']);
    // Another project's user reads none of them.
    await rejects(mallory.call('appLogs', { params: { id: slug }, query: { type: 'router' } }), 404);
  });

  test('bad values are a 400 naming the field', async () => {
    for (const [q, f] of [
      [{ since: 'yesterday' }, 'since'],
      [{ until: '2026-01-02T03:04:05' }, 'until'],
      [{ since: '1h', until: '2h' }, 'until'],
      [{ grep: 'x'.repeat(201) }, 'grep'],
      [{ type: 'web;drop' }, 'type'],
      [{ replica: -1 }, 'replica'],
      [{ limit: 0 }, 'limit'],
      [{ limit: 10001 }, 'limit'],
      [{ before: "1' or 1=1" }, 'before'],
    ] as const) {
      const e = await rejects(logs(q), 400);
      assert.equal(field(e), f, `${JSON.stringify(q)}: ${e.message}`);
    }
  });

  test("an app's own retention may lower the platform's, never raise it", async () => {
    assert.deepEqual((await dev.call('getApp', { params: { id: slug } })).log_retention, { days: 7, mb: 100, own: false });
    for (const [body, f] of [
      [{ log_retention_days: 8 }, 'log_retention_days'],
      [{ log_retention_mb: 101 }, 'log_retention_mb'],
      [{ log_retention_days: 0 }, 'log_retention_days'],
    ] as const) {
      const e = await rejects(dev.call('updateApp', { params: { id: slug }, body }), 400);
      assert.equal(field(e), f, e.message);
    }
    const out = await berth(['apps', 'update', slug, '--log-retention-days', '3', '--log-retention-mb', '20', '--json']);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(JSON.parse(out.stdout).log_retention, { days: 3, mb: 20, own: true });
    await rejects(mallory.call('updateApp', { params: { id: slug }, body: { log_retention_days: 1 } }), 404);
    const back = await dev.call('updateApp', { params: { id: slug }, body: { log_retention_days: null, log_retention_mb: null } });
    assert.deepEqual(back.log_retention, { days: 7, mb: 100, own: false });
  });

  test("another project's user gets 404, and no line", async () => {
    const e = await rejects(mallory.call('appLogs', { params: { id: slug }, query: { grep: tag } }), 404);
    assert.ok(!JSON.stringify(e).includes(tag));
  });

  test('berth logs --grep --replica --since --json, and the text form with time and replica', async () => {
    const all = (await logs({ grep: `keep-${tag}-`, limit: 1000 })).lines;
    const r = all[0].replica!;
    const out = await berth(['logs', slug, '--grep', `KEEP-${tag}`, '--replica', String(r), '--since', '2h', '--type', 'web', '--json']);
    assert.equal(out.code, 0, out.stderr);
    const got = out.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
    assert.deepEqual(got, all.filter((l) => l.replica === r));
    const text = await berth(['logs', slug, '--grep', `keep-${tag}-`, '--type', 'web', '-n', '2']);
    assert.equal(text.code, 0, text.stderr);
    const rows = text.stdout.trim().split('\n');
    assert.equal(rows.length, 2);
    for (const [i, row] of rows.entries()) assert.equal(row, `${all[all.length - 2 + i].time} web.${all[all.length - 2 + i].replica} ${all[all.length - 2 + i].line}`);
    const bad = await berth(['logs', slug, '--since', 'soon']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /since/);
  });

  test('the kept log survives a control plane restart; lines logged meanwhile are stored once', async () => {
    const beforeRestart = (await logs({ grep: `-${tag}-`, limit: 1000 })).lines;
    await s.stop();
    // Logged while no control plane runs (HAProxy goes on serving): the next one reads each
    // replica's log on from its cursor.
    assert.equal((await hit(`/down-${tag}`)).status, 200);
    await s.start();
    for (let i = 0; i < 2; i++) await hit(`/after-${tag}-${i}`);
    await kept(`after-${tag}-`, 2);
    await kept(`/down-${tag}`, 1);
    const now = (await logs({ grep: `-${tag}-`, limit: 1000 })).lines;
    assert.deepEqual(now.slice(0, beforeRestart.length), beforeRestart, 'no line lost or repeated');
    assert.equal(now.length, beforeRestart.length + 2);
    // Every replica's start line, once each: nothing was read twice.
    const starts = (await logs({ grep: 'listening on', limit: 1000 })).lines;
    assert.equal(new Set(starts.map((l) => l.container)).size, starts.length, JSON.stringify(starts));
  });

  describe('dashboard', () => {
    let page: Page | undefined;
    let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
    after(async () => browser?.close());

    test('the Logs tab shows timestamps, follows a replica started after it opened, and searches a past range', async (t) => {
      t.after(() => explainFailure(t, page));
      browser = await launchChromium();
      page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
      await logIn(page, s.url, 'dev', 'pw-dev-secret', `/apps/${slug}/logs`);
      const view = page.getByRole('log', { name: 'Runtime logs lines' });
      await view.locator('.log-line').first().waitFor({ timeout: 15_000 });
      // A line carries its time (local, to the millisecond) before its replica.
      assert.match(await view.locator('.log-line').first().innerText(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\s*web\.\d+/);
      // Only start lines on screen: the new replica's must come into this filtered view.
      await page.getByLabel('Filter', { exact: true }).fill('listening on');

      const had = new Set((await containersOf()).map((c) => c.id));
      await dev.call('scaleApp', { params: { id: slug }, body: { replicas: 3 } });
      const added = await waitFor('the third replica', async () => (await containersOf()).find((c) => !had.has(c.id) && c.status === 'healthy'), { timeoutMs: 60_000, intervalMs: 250 });
      await view.locator('.log-line', { hasText: `web.${added.replica}` }).filter({ hasText: 'listening on' }).waitFor({ timeout: 15_000 });
      await screenshot(page, 'app-logs-live');

      await page.getByLabel('Time range').selectOption('1h');
      const keptView = page.getByRole('log', { name: 'Kept logs lines' });
      await page.getByLabel('Search', { exact: true }).fill(`KEEP-${tag}-3`);
      // The search is asked of the server once typing pauses: then the range shows that one line.
      // The replica's line and the router's access line of that request.
      await waitFor('only the searched request', async () => (await keptView.locator('.log-row').count()) === 2 && (await keptView.innerText()).includes(`GET /keep-${tag}-3`), { timeoutMs: 10_000, intervalMs: 100 });
      assert.match(await keptView.locator('.log-row').filter({ hasText: /web\.\d/ }).innerText(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\s*web\.\d+\s*GET \/keep-/);
      assert.match(await keptView.locator('.log-row').filter({ hasText: /router\.\d/ }).innerText(), /router\.\d+\s*GET \/keep-\S+ HTTP\/1\.1 status=200 /);
      // The Lines choice asks the server for one type: the router's lines only.
      await page.getByRole('combobox', { name: /^Lines/ }).selectOption('router');
      await waitFor('only the router line', async () => (await keptView.locator('.log-row').count()) === 1 && /router\.\d/.test(await keptView.innerText()), { timeoutMs: 10_000, intervalMs: 100 });
      await screenshot(page, 'app-logs-search');
    });
  });
});
