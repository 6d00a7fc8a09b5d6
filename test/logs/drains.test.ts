import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { ensureCa, issueLeaf } from '../../src/tls/ca.js';
import { run } from '../../src/lib/exec.js';
import { CLI_MAIN, createDatabase, startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { viaRouter } from '../support/load.js';
import { buildArchive, dockerfileApp, rejects, waitBuild } from '../builds/helpers.js';
import { NdjsonReceiver, Rsyslog, type Tls } from './receivers.js';
import { openStore } from '../../src/store/db.js';
import { createUser } from '../../src/store/users.js';
import { createProject } from '../../src/store/projects.js';
import { insertApp } from '../../src/store/apps.js';
import { allDrains, drainById, drainsOf, insertDrain, recordDrainStatus } from '../../src/store/drains.js';
import { launchChromium, logIn, screenshot } from '../support/browser.js';

const field = (e: { details?: unknown }) => (e.details as { field?: string } | undefined)?.field;

/**
 * An app's log lines, every replica's, drained to Debian's rsyslogd (RFC 5424 over TLS) and to an
 * HTTPS NDJSON receiver, both on loopback with their own CA; receivers going away and coming back;
 * who may see and change drains.
 */
describe('log drains', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-drains-'));
  const slug = `drn-${uniqueSuffix()}`;
  let s: TestServer;
  let dev: BerthClient;
  let viewer: BerthClient;
  let mallory: BerthClient;
  let tls: Tls;
  let rsyslog: Rsyslog;
  let https: NdjsonReceiver;
  let httpsPort: number;
  const drains: Record<'syslog' | 'https', string> = { syslog: '', https: '' };
  const status = async () => Object.fromEntries((await dev.call('listDrains', { params: { id: slug } })).items.map((d) => [d.kind, d.status]));
  const hit = (path: string) => viaRouter(s.routerPort, `${slug}.localhost`, path);
  const berth = (args: string[]) =>
    run(process.execPath, [CLI_MAIN, ...args], { timeoutMs: 30_000, env: { ...process.env, BERTH_CONFIG: join(dir, 'cli.json'), BERTH_URL: s.url, BERTH_TOKEN: dev.opts.token! } });

  before(async () => {
    const image = await ensureTestAppImage(new DockerRuntime({}));
    const ca = await ensureCa(join(dir, 'ca'));
    const leaf = await issueLeaf(ca, ['localhost', '127.0.0.1']);
    tls = { caPem: ca.certPem, certPem: leaf.certPem, keyPem: leaf.keyPem };
    rsyslog = new Rsyslog(join(dir, 'rsyslog'), tls);
    await rsyslog.start();
    https = new NdjsonReceiver(tls);
    httpsPort = await https.listen();
    // The receivers listen on loopback: the name localhost is allowed for this test only (so another
    // name that resolves to loopback is still refused). Short retries keep the test quick.
    // On PostgreSQL: the access tests run the drains' routes on SQLite.
    s = await startServer({ engine: 'postgres', egressAllow: 'localhost', env: { BERTH_DRAIN_RETRY_BASE_MS: '200', BERTH_DRAIN_RETRY_MAX_MS: '1000' } });
    dev = await s.newUser('dev');
    viewer = await s.newUser('viewer');
    mallory = await s.newUser('mallory');
    const project = await dev.call('createProject', { body: { name: 'logs' } });
    await dev.call('addMember', { params: { id: project.id }, body: { username: 'viewer', role: 'viewer' } });
    await mallory.call('createProject', { body: { name: 'other' } });
    await dev.call('createApp', { body: { name: slug, project: project.id, health_check: { path: '/health', timeout_s: 5, grace_s: 0 } } });
    const r = await dev.call('deployApp', { params: { id: slug }, body: { image_id: image, replicas: 2 } });
    await waitFor('v1 live', async () => (await dev.call('getRelease', { params: { id: slug, version: r.version } })).status === 'live', { timeoutMs: 90_000, intervalMs: 200 });
  });
  after(async () => {
    await s?.destroy();
    await rsyslog?.stop();
    https?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('bad drains are a 400 naming the field; internal addresses are refused before any connection', async () => {
    for (const [body, f] of [
      [{ url: 'ftp://127.0.0.1/x' }, 'url'],
      [{ url: 'syslog+tls://127.0.0.1' }, 'url'],
      [{ url: 'syslog+tls://127.0.0.1:6514/path' }, 'url'],
      [{ url: 'syslog+tls://user:pw@127.0.0.1:6514' }, 'url'],
      [{ url: 'syslog+tls://10.1.2.3:6514' }, 'url'],
      [{ url: 'https://192.168.7.7/ingest' }, 'url'],
      [{ url: 'syslog+tls://127.0.0.1:6514' }, 'url'],
      [{ url: `https://localhost:${httpsPort}/`, ca: 'not a certificate' }, 'ca'],
    ] as const) {
      const e = await rejects(dev.call('addDrain', { params: { id: slug }, body }), 400);
      assert.equal(field(e), f, JSON.stringify(body));
    }
    assert.deepEqual((await dev.call('listDrains', { params: { id: slug } })).items, []);
  });

  test("another project's user can neither list, add nor remove drains; a viewer lists but cannot add", async () => {
    await rejects(mallory.call('listDrains', { params: { id: slug } }), 404);
    await rejects(mallory.call('addDrain', { params: { id: slug }, body: { url: `https://localhost:${httpsPort}/steal` } }), 404);
    await rejects(viewer.call('addDrain', { params: { id: slug }, body: { url: `https://localhost:${httpsPort}/x` } }), 403);
  });

  test('every replica\'s lines reach rsyslog (RFC 5424 over TLS) and the HTTPS receiver (NDJSON), labelled; the URL\'s secret is never shown', async () => {
    writeFileSync(join(dir, 'ca.pem'), tls.caPem);
    const added = await berth(['drains:add', slug, `syslog+tls://localhost:${rsyslog.port}`, '--ca', join(dir, 'ca.pem'), '--json']);
    assert.equal(added.code, 0, added.stderr);
    drains.syslog = JSON.parse(added.stdout).id;
    const h = await dev.call('addDrain', { params: { id: slug }, body: { url: `https://drain:secret-token@localhost:${httpsPort}/ingest?key=secret-key`, ca: tls.caPem } });
    drains.https = h.id;
    assert.equal(h.url, `https://localhost:${httpsPort}/…`);
    const seen = await viewer.call('listDrains', { params: { id: slug } });
    assert.deepEqual(seen.items.map((d) => [d.kind, d.url, d.ca]), [['syslog', `syslog+tls://localhost:${rsyslog.port}`, true], ['https', `https://localhost:${httpsPort}/…`, true]]);
    assert.ok(!/secret-(token|key)/.test(JSON.stringify(seen)));
    await rejects(mallory.call('removeDrain', { params: { id: slug, drain: drains.https } }), 404);

    // Router lines go to the drains the runner holds when the request ends (they are not read back
    // later, as the replicas' logs are): the probe waits until both drains carry lines.
    await waitFor('both drains running', () => rsyslog.lines().length > 0 && https.records().length > 0, { timeoutMs: 30_000, intervalMs: 250 });
    const probe = `/drain-probe-${uniqueSuffix()}`;
    for (let i = 0; i < 4; i++) await hit(probe);
    const replicas = new Set((await dev.call('listContainers', { query: { app: slug } })).items.map((c) => `web.${c.replica}`));
    assert.equal(replicas.size, 2);
    // The router's health checks make every replica log "GET /health" every 2 s.
    const got = await waitFor('both replicas and the probe in rsyslog', () => {
      const l = rsyslog.lines();
      const procids = new Set(l.map((x) => x.procid));
      return [...replicas].every((r) => procids.has(r)) && l.some((x) => x.msg === `GET ${probe}`) && l;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    for (const l of got) {
      assert.equal(l.host, slug);
      assert.equal(l.app, slug);
      assert.equal(l.msgid, /stream="(\w+)"/.exec(l.sd)![1]);
      if (l.sd.includes('source="router"')) continue;
      assert.ok(replicas.has(l.procid), l.procid);
      assert.match(l.sd, new RegExp(`^\\[berth@32473 app="${slug}" type="web" replica="\\d+" stream="(stdout|stderr)" source="app"\\]$`));
    }
    // The router's line of each probe request: procid router.<the replica that answered>.
    const routed = await waitFor('the router lines of the probe in rsyslog', () => {
      const l = rsyslog.lines().filter((x) => x.msg.startsWith(`GET ${probe} HTTP/1.1 `));
      return l.length === 4 && l;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    for (const l of routed) {
      assert.match(l.msg, new RegExp(`^GET ${probe} HTTP/1\\.1 status=200 bytes=\\d+ connect=\\d+ms service=\\d+ms total=\\d+ms client=127\\.0\\.0\\.1$`));
      assert.ok(replicas.has(l.procid.replace('router', 'web')), l.procid);
      assert.match(l.sd, new RegExp(`^\\[berth@32473 app="${slug}" type="router" replica="\\d+" stream="stdout" source="router"\\]$`));
    }

    const recs = await waitFor('both replicas and the probe over HTTPS', () => {
      const r = https.records();
      const reps = new Set(r.map((x) => `web.${x.replica}`));
      return [...replicas].every((x) => reps.has(x)) && r.some((x) => x.line === `GET ${probe}`) && r;
    }, { timeoutMs: 30_000, intervalMs: 250 });
    for (const r of recs) {
      assert.deepEqual(Object.keys(r), ['time', 'app', 'process_type', 'replica', 'stream', 'line', 'source']);
      assert.equal(r.app, slug);
      assert.equal(r.process_type, r.source === 'router' ? 'router' : 'web');
      assert.ok(!Number.isNaN(Date.parse(r.time as string)));
    }
    await waitFor('the router lines of the probe over HTTPS', () =>
      https.records().filter((x) => x.source === 'router' && (x.line as string).startsWith(`GET ${probe} HTTP/1.1 status=200 `)).length === 4, { timeoutMs: 30_000, intervalMs: 250 });
    assert.ok(https.got.every((g) => g.url === '/ingest?key=secret-key' && g.type === 'application/x-ndjson' && g.auth === `Basic ${Buffer.from('drain:secret-token').toString('base64')}`));
    // Batched: fewer POSTs than lines.
    assert.ok(https.got.length < recs.length, `${https.got.length} posts for ${recs.length} lines`);

    const st = await waitFor('delivery status', async () => {
      const x = await status();
      return x.syslog.sent > 0 && x.https.sent > 0 && x;
    });
    for (const k of ['syslog', 'https'] as const) {
      assert.ok(st[k].last_success_at, k);
      assert.equal(st[k].last_error, null);
      assert.equal(st[k].dropped, 0);
    }
  });

  test("a build's log lines reach both drains, tagged build and with the build's number", async () => {
    const marker = `drain-build-${uniqueSuffix()}`;
    // A build that fails at once: its log is written, and no release disturbs the app.
    const b = await waitBuild(dev, (await buildArchive(dev, slug, await dockerfileApp(`FROM ${process.env.BERTH_BASE_IMAGE ?? 'berth/base:bookworm'}\nRUN echo ${marker} && false\n`))).id);
    assert.equal(b.status, 'failed');
    const sys = await waitFor('the build line in rsyslog', () => rsyslog.lines().find((l) => l.msg.includes(marker) && !l.msg.includes('RUN echo')), { timeoutMs: 30_000, intervalMs: 250 });
    assert.equal(sys.procid, `build.${b.number}`);
    assert.match(sys.sd, new RegExp(`^\\[berth@32473 app="${slug}" type="build" replica="${b.number}" stream="stdout" source="build"\\]$`));
    const rec = await waitFor('the build line over HTTPS', () => https.records().find((r) => (r.line as string).includes(marker) && r.source === 'build'), { timeoutMs: 30_000, intervalMs: 250 });
    assert.deepEqual([rec.process_type, rec.replica, rec.app], ['build', b.number, slug]);
  });

  test('a name that resolves to loopback only when connected to is refused then, and nothing reaches the receiver', async () => {
    const own = hostname().toLowerCase();
    const d = await dev.call('addDrain', { params: { id: slug }, body: { url: `syslog+tls://${own}:${rsyslog.port}`, ca: tls.caPem } });
    const st = await waitFor('the refusal in the status', async () => (await dev.call('listDrains', { params: { id: slug } })).items.find((x) => x.id === d.id && x.status.last_error)?.status, { timeoutMs: 20_000, intervalMs: 250 });
    assert.equal(st.last_error, `${own}:${rsyslog.port} is refused by Berth's egress rule`);
    // The name resolves to where rsyslog listens: a connection would have delivered.
    assert.equal(st.sent, 0);
    await dev.call('removeDrain', { params: { id: slug, drain: d.id } });
  });

  test('while a receiver is away its lines wait; the status says why; when it is back they arrive', async () => {
    await rsyslog.stop();
    https.status = 503;
    const down = await waitFor('both drains to report the failure', async () => {
      const x = await status();
      return !!x.syslog.last_error && !!x.https.last_error && x;
    }, { timeoutMs: 20_000, intervalMs: 250 });
    assert.match(down.syslog.last_error!, new RegExp(`^localhost:${rsyslog.port} (refused|closed) the connection$`));
    assert.equal(down.https.last_error, `localhost:${httpsPort} answered HTTP 503`);

    const away = `/while-away-${uniqueSuffix()}`;
    for (let i = 0; i < 3; i++) await hit(away);
    const logged = new Date().toISOString();
    // The retries go on failing while the lines wait in the buffer.
    const err = await waitFor('failed attempts after the lines were logged', async () => {
      const x = await status();
      return x.syslog.last_error_at! > logged && x.https.last_error_at! > logged && x;
    }, { timeoutMs: 20_000, intervalMs: 250 });
    assert.match(err.syslog.last_error!, /refused the connection$/);

    await rsyslog.start();
    https.status = 200;
    await waitFor('the waiting lines at rsyslog', () => rsyslog.lines().filter((l) => l.msg === `GET ${away}`).length === 3, { timeoutMs: 30_000, intervalMs: 250 });
    await waitFor('the waiting lines over HTTPS', () => https.records().filter((r) => r.line === `GET ${away}`).length === 3, { timeoutMs: 30_000, intervalMs: 250 });
    const back = await waitFor('status: success after the error', async () => {
      const x = await status();
      return ['syslog', 'https'].every((k) => x[k].last_success_at! > x[k].last_error_at!) && x;
    });
    assert.equal(back.https.last_error, `localhost:${httpsPort} answered HTTP 503`, 'the last error stays, older than the last success');
    assert.equal(back.syslog.dropped + back.https.dropped, 0);

    const shown = await berth(['drains', slug]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`${drains.https}\\s+https://localhost:${httpsPort}/…\\s+\\d+\\s+0\\s+\\S+Z\\s+localhost:${httpsPort} answered HTTP 503 \\(`));
    const removed = await berth(['drains:remove', slug, drains.syslog]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual((await dev.call('listDrains', { params: { id: slug } })).items.map((d) => d.kind), ['https']);
  });

  test("the app's Logs tab shows a viewer its drains and their delivery, without the secret and without changes", async () => {
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
      await logIn(page, s.url, 'viewer', 'pw-viewer-secret', `/apps/${slug}/logs`);
      const section = page.getByRole('region', { name: 'Log drains' });
      const item = section.getByRole('listitem', { name: `Drain https://localhost:${httpsPort}/…` });
      await item.getByText(/\d+ lines sent, last \d+ (s|min) ago/).waitFor({ timeout: 15_000 });
      await section.scrollIntoViewIfNeeded();
      await screenshot(page, 'app-log-drains');
      const text = await section.innerText();
      assert.ok(!/secret-(token|key)/.test(text), text);
      assert.equal(await section.getByRole('button').count(), 0);
      assert.equal(await section.getByRole('form').count(), 0);
    } finally {
      await browser.close();
    }
  });
});

test('a drain counts past 2^31 lines on PostgreSQL and on SQLite, and reads its counts back as numbers', async (t) => {
  const pg = await createDatabase();
  t.after(() => pg.drop());
  const dir = mkdtempSync(join(tmpdir(), 'berth-drain-counts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const databaseUrl of [pg.url, null]) {
    const store = await openStore({ dataDir: dir, databaseUrl });
    try {
      const { db } = store;
      const user = await createUser(db, { username: 'ann', passwordHash: 'x', isAdmin: false });
      const projectId = await createProject(db, user.id, 'shop');
      const ts = new Date().toISOString();
      await insertApp(db, {
        id: 'app_1', project_id: projectId, name: 'web', slug: 'web', image: 'img', replicas: 1, memory_mb: 64, cpu: 0, port: 8080, strategy: 'rolling',
        health_check: { path: '/', timeout_s: 5, grace_s: 0 }, env: {}, release_id: null, live_release_id: null, stopped: 0, restart_seq: 0, auto_deploy: 1, created_at: ts, updated_at: ts,
      });
      await insertDrain(db, { id: 'drn_1', app_id: 'app_1', kind: 'https', url_sealed: 'x', url_hint: 'https://logs.example.com', ca_pem: null, created_at: ts, last_success_at: null, last_error: null, last_error_at: null, sent: 0, dropped: 0 });
      const sent = 2 ** 31 + 7;
      const dropped = 2 ** 40 + 1;
      await recordDrainStatus(db, 'drn_1', { sent, dropped, last_success_at: ts });
      for (const row of [await drainById(db, 'drn_1'), (await drainsOf(db, 'app_1'))[0], (await allDrains(db))[0]]) {
        assert.deepEqual([row?.sent, row?.dropped], [sent, dropped], store.engine);
      }
    } finally {
      await store.close();
    }
  }
});
