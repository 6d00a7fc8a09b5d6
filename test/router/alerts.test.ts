import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { ApiError, type BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { run } from '../../src/lib/exec.js';
import { CLI_MAIN, createDatabase, startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { startLoad } from '../support/load.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { settled } from '../support/rollout.js';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { sql } from 'kysely';
import { pino } from 'pino';
import { openStore, now, type Db } from '../../src/store/db.js';
import { createUser } from '../../src/store/users.js';
import { createProject } from '../../src/store/projects.js';
import { insertApp } from '../../src/store/apps.js';
import { insertVolume } from '../../src/store/volumes.js';
import { insertTarget } from '../../src/store/notifications.js';
import { upsertSamples, type MetricRow } from '../../src/store/metrics.js';
import { statesOf } from '../../src/store/alerts.js';
import { acquire, release, LEADER, type Fence } from '../../src/store/leases.js';
import { AlertController, type AlertDeps } from '../../src/controllers/alerts.js';
import { Events } from '../../src/domain/events.js';
import { SecretBox } from '../../src/lib/crypto.js';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  event: { kind: string; message: string; data: { rule?: string; value?: number } | null };
}

/**
 * A real app behind the real HAProxy answers 500s under load: the metrics controller counts them,
 * the alert evaluator fires the 5xx rule, and a webhook receiver on loopback gets the signed
 * message; the app then answers 200s and the resolved message arrives. Every rule's window, hold
 * and clear time are scaled down (BERTH_ALERT_TIME_SCALE=0.05: a 15 s window, 3 s hold, 6 s clear).
 * On PostgreSQL, where several control planes share the alert states (the unit tests run on SQLite).
 */
describe('alerts through the real router', () => {
  let s: TestServer;
  let dev: BerthClient;
  let receiver: Server;
  let secret: string;
  let home: string;
  const got: Received[] = [];
  const slug = `alrt-${uniqueSuffix()}`;
  const host = `${slug}.localhost`;
  const told = (kind: string) => got.filter((r) => r.event.kind === kind && r.event.data?.rule === 'http_5xx_rate');
  const berth = (args: string[]) =>
    run(process.execPath, [CLI_MAIN, ...args], { timeoutMs: 30_000, env: { ...process.env, BERTH_CONFIG: join(home, 'config.json'), BERTH_URL: s.url, BERTH_TOKEN: dev.opts.token } });

  before(async () => {
    const image = await ensureTestAppImage(new DockerRuntime({}));
    home = mkdtempSync(join(tmpdir(), 'berth-alerts-'));
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        got.push({ headers: req.headers, body, event: (JSON.parse(body) as { event: Received['event'] }).event });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
    // The receiver listens on loopback: allowed for this test only.
    s = await startServer({ engine: 'postgres', egressAllow: '127.0.0.1/32', env: { BERTH_ALERT_TIME_SCALE: '0.05', BERTH_NOTIFY_RETRY_BASE_MS: '200' } });
    dev = await s.newUser('oncall');
    await dev.call('createApp', { body: { name: slug, health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    const rel = await dev.call('deployApp', { params: { id: slug }, body: { image_id: image } });
    assert.equal((await settled(dev, slug, rel.version)).status, 'live');
    secret = (await dev.call('addNotification', { params: { id: slug }, body: { kind: 'webhook', url: `${base}/alerts` } })).secret!;
  });
  after(async () => {
    await s?.destroy();
    receiver?.closeAllConnections();
    receiver?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  test('every app has the default rules without set-up; bad changes are refused naming the field', async () => {
    const rules = (await dev.call('listAlerts', { params: { id: slug } })).items;
    assert.deepEqual(rules.map((r) => r.rule), ['http_5xx_rate', 'response_time_p95', 'restarts', 'memory', 'volume_full', 'certificate_expiry', 'backup_failed']);
    const r5 = rules.find((r) => r.rule === 'http_5xx_rate')!;
    assert.deepEqual([r5.enabled, r5.threshold, r5.unit, r5.window_s, r5.for_s, r5.clear_s], [true, 5, '%', 15, 3, 6]);
    assert.ok(rules.every((r) => r.status !== 'firing'));
    const refused = async (body: unknown, field: string) =>
      assert.rejects(dev.call('updateAlerts', { params: { id: slug }, body: body as never }), (e) => e instanceof ApiError && e.status === 400 && JSON.stringify(e.details).includes(field), JSON.stringify(body));
    await refused({ rules: { memory: { threshold: 150 } } }, 'rules.memory.threshold');
    await refused({ rules: { http_5xx_rate: { threshold: -1 } } }, 'rules.http_5xx_rate.threshold');
    await refused({ rules: { disk_on_fire: { enabled: false } } }, 'disk_on_fire');
    await refused({ rules: { memory: { enabled: 'no' } } }, 'enabled');
    // The CLI: a change, then the table back in JSON.
    const set = await berth(['alerts:set', slug, 'memory', '--threshold', '95.1']);
    assert.equal(set.code, 0, set.stderr);
    const list = await berth(['alerts', slug, '--json']);
    assert.equal(list.code, 0, list.stderr);
    const mem = (JSON.parse(list.stdout) as { rule: string; threshold: number; default_threshold: number }[]).find((r) => r.rule === 'memory')!;
    assert.deepEqual([mem.threshold, mem.default_threshold], [95.1, 90]);
    const bad = await berth(['alerts:set', slug, 'memory', '--threshold', '150']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /rules\.memory\.threshold/);
  });

  test('500s under load fire the 5xx alert to the webhook; 200s resolve it; each told once', async (t) => {
    const started = Date.now();
    const errors = startLoad({ port: s.routerPort, host, path: '/file?path=/', concurrency: 2, maxMs: 120_000 });
    let firedAt: number;
    try {
      await waitFor('the firing message at the webhook', async () => told('alert.firing').length > 0, { timeoutMs: 90_000, intervalMs: 250 });
      firedAt = Date.now();
    } finally {
      const r = await errors.stop();
      t.diagnostic(`500s sent: ${r.sent} (answered >= 500: ${r.failed})`);
    }
    const firing = told('alert.firing')[0];
    assert.match(firing.event.message, new RegExp(`^${slug}: 5xx responses: [0-9.]+ % \\(over 5 %\\)$`));
    assert.ok((firing.event.data?.value ?? 0) > 50, 'nearly every response was a 500');
    assert.equal(firing.headers['x-berth-event'], 'alert.firing');
    assert.equal(firing.headers['x-berth-signature'], `sha256=${createHmac('sha256', secret).update(firing.body).digest('hex')}`);
    // The API says the same: firing since, in the app's list and in the project's.
    const r5 = (await dev.call('listAlerts', { params: { id: slug } })).items.find((r) => r.rule === 'http_5xx_rate')!;
    assert.equal(r5.status, 'firing');
    assert.ok(r5.since && Date.parse(r5.since) >= started - 1000);
    const app = await dev.call('getApp', { params: { id: slug } });
    const project = (await dev.call('listProjectAlerts', { params: { id: app.project.id } })).items;
    assert.deepEqual(project.map((a) => [a.app.slug, a.rule]), [[slug, 'http_5xx_rate']]);

    const fine = startLoad({ port: s.routerPort, host, path: '/', concurrency: 2, maxMs: 120_000 });
    try {
      await waitFor('the resolved message at the webhook', async () => told('alert.resolved').length > 0, { timeoutMs: 90_000, intervalMs: 250 });
    } finally {
      const r = await fine.stop();
      t.diagnostic(`200s sent: ${r.sent}, failed: ${r.failed}`);
    }
    t.diagnostic(`fired ${((firedAt! - started) / 1000).toFixed(1)} s after the 500s began; resolved ${((Date.now() - firedAt!) / 1000).toFixed(1)} s after the 200s began`);
    assert.match(told('alert.resolved')[0].event.message, /5xx responses resolved/);
    assert.equal(told('alert.firing').length, 1, 'fired once');
    assert.equal(told('alert.resolved').length, 1, 'resolved once');
    assert.equal((await dev.call('listAlerts', { params: { id: slug } })).items.find((r) => r.rule === 'http_5xx_rate')!.status, 'ok');
    assert.deepEqual((await dev.call('listProjectAlerts', { params: { id: app.project.id } })).items, []);
    const kinds = (await dev.call('listEvents', { query: { app: slug } })).items.map((e) => e.kind);
    assert.ok(kinds.includes('alert.firing') && kinds.includes('alert.resolved'), `events: ${kinds.join(', ')}`);
  });
});

/**
 * The evaluator's writes on a real PostgreSQL, without the router: one app with a webhook target
 * and a sized volume, 10 s buckets written by the test, and evaluators with their own clock,
 * fence and volume measurement (each measures the volume between reading states and writing them).
 */
async function pgAlerts(t: { after(fn: () => Promise<void>): void }) {
  const pgdb = await createDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'berth-alerts-pg-'));
  const store = await openStore({ dataDir: dir, databaseUrl: pgdb.url });
  t.after(async () => {
    await store.close();
    await pgdb.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  const db: Db = store.db;
  const user = await createUser(db, { username: 'ann', passwordHash: 'x', isAdmin: false });
  const projectId = await createProject(db, user.id, 'shop');
  const ts = now();
  const appId = 'app_1';
  await insertApp(db, {
    id: appId, project_id: projectId, name: 'web', slug: 'web', image: 'img', replicas: 1, memory_mb: 64, cpu: 0, port: 8080, strategy: 'rolling',
    health_check: { path: '/', timeout_s: 5, grace_s: 0 }, env: {}, release_id: null, live_release_id: null, stopped: 0, restart_seq: 0, auto_deploy: 1, created_at: ts, updated_at: ts,
  });
  await insertVolume(db, { id: 'vol_a', project_id: projectId, name: 'files', size_mb: 100, backup_schedule: null, backup_keep: 3, created_at: ts });
  await db.updateTable('apps').set({ volumes: JSON.stringify([{ volume: 'files', volume_id: 'vol_a', path: '/data' }]) }).where('id', '=', appId).execute();
  const secrets = new SecretBox(randomBytes(32));
  // Never sent here (no notification controller runs): the rows are what is counted.
  await insertTarget(db, { id: 'ntf_1', app_id: appId, kind: 'webhook', url_sealed: secrets.seal('http://127.0.0.1:9/hook'), url_hint: 'http://127.0.0.1:9/', secret_sealed: secrets.seal('s'), created_at: ts });
  const events = new Events(db);
  const T0 = 1_800_000_000_000;
  const rig = {
    db,
    url: pgdb.url,
    appId,
    t: T0,
    evaluator(over: Partial<AlertDeps> = {}) {
      return new AlertController({
        db, log: pino({ level: 'silent' }), clock: { now: () => rig.t, sleep: async () => {} }, events, routerDomain: 'test', routerHttpPort: 80, fence: null, timeScale: 1,
        volumeUsage: async () => 10 * 1024 * 1024, ...over,
      });
    },
    /** Moves the clock by s seconds, one bucket each 10 s, with a pass of `by` after each. */
    async advance(by: AlertController, s: number, b: Partial<MetricRow>) {
      for (let i = 0; i < s; i += 10) {
        rig.t += 10_000;
        await upsertSamples(db, [{
          app_id: appId, res: 10, t: rig.t / 1000 - 10, replica: '', span_s: 10, requests: 0, r2xx: 0, r3xx: 0, r4xx: 0, r5xx: 0,
          response_ms: null, p50_ms: null, p95_ms: null, p99_ms: null, sessions: null, cpu_percent: null, memory_mb: null, restarts: 0, ...b,
        }]);
        await by.pass();
      }
    },
    state: async () => (await statesOf(db, appId)).find((r) => r.rule === 'http_5xx_rate'),
    told: async () => (await db.selectFrom('events').select('kind').where('kind', 'like', 'alert.%').orderBy('id').execute()).map((e) => e.kind),
    deliveries: async () => (await db.selectFrom('notification_deliveries').select('event_kind').orderBy('created_at').execute()).map((d) => d.event_kind),
  };
  return rig;
}

const errors500 = { requests: 100, r5xx: 50, r2xx: 50 };
const clean200 = { requests: 5000, r2xx: 5000 };

test('two evaluators on one PostgreSQL: a deposed leader, and its pass paused across a resolve and a new firing, write and tell nothing', async (t) => {
  const r = await pgAlerts(t);
  const a = await acquire(r.db, LEADER, 'cp_a', 60_000);
  const fenceA: Fence = { name: LEADER, token: a!.token };
  const leaderA = r.evaluator({ fence: fenceA });
  await r.advance(leaderA, 90, errors500);
  await r.advance(leaderA, 110, clean200);
  assert.equal((await r.state())?.status, 'firing', 'firing, clear for 90 s of the 120 s it needs');

  // A's next pass, at +230 s when the clear time is up, reads the state, then hangs in du.
  let resume!: () => void;
  const paused = new Promise<void>((ok) => (resume = ok));
  let inside!: () => void;
  const measuring = new Promise<void>((ok) => (inside = ok));
  const at = r.t + 30_000;
  const stuck = r.evaluator({ fence: fenceA, clock: { now: () => at, sleep: async () => {} }, volumeUsage: async () => (inside(), await paused, 10 * 1024 * 1024) }).pass();
  await measuring;

  // Meanwhile A's lease passes to B (A has not noticed).
  await release(r.db, LEADER, 'cp_a', fenceA.token);
  const b = await acquire(r.db, LEADER, 'cp_b', 60_000);
  const leaderB = r.evaluator({ fence: { name: LEADER, token: b!.token } });
  assert.equal(b!.token, fenceA.token + 1);

  // A's own pass at +230 s on what it reads now: it would resolve, and writes nothing.
  const rows = async () => (await statesOf(r.db, r.appId)).map((s) => `${s.rule} ${s.status} ${s.version}`).sort();
  const before = await rows();
  const deposed = r.evaluator({ fence: fenceA, clock: { now: () => at, sleep: async () => {} } });
  await deposed.pass();
  assert.deepEqual(await rows(), before, 'the deposed leader changed no state, not even a value');
  assert.deepEqual(await r.told(), ['alert.firing']);

  // B resolves it, errors make it fire again: firing, the status A's stuck pass read.
  await r.advance(leaderB, 30, clean200);
  assert.equal((await r.state())?.status, 'ok');
  await r.advance(leaderB, 70, { requests: 5000, r5xx: 5000 });
  const firing = await r.state();
  assert.equal(firing?.status, 'firing');
  resume();
  await stuck;
  const after = await r.state();
  assert.deepEqual([after?.status, after?.since, after?.version], [firing?.status, firing?.since, firing?.version], 'the stuck pass changed nothing');
  assert.deepEqual(await r.told(), ['alert.firing', 'alert.resolved', 'alert.firing'], 'each transition told once');
  assert.deepEqual(await r.deliveries(), ['alert.firing', 'alert.resolved', 'alert.firing'], 'one notification each');
});

test('kill -9 of the control plane between an alert state and its event: after the restart the event and its notification exist once', async (t) => {
  const r = await pgAlerts(t);
  const evaluator = r.evaluator();
  await r.advance(evaluator, 60, errors500);
  const pending = await r.state();
  assert.equal(pending?.status, 'pending', 'the next pass fires');
  await upsertSamples(r.db, [{
    app_id: r.appId, res: 10, t: r.t / 1000, replica: '', span_s: 10, requests: 100, r2xx: 50, r3xx: 0, r4xx: 0, r5xx: 50,
    response_ms: null, p50_ms: null, p95_ms: null, p99_ms: null, sessions: null, cpu_percent: null, memory_mb: null, restarts: 0,
  }]);
  // Inserting an alert event waits for a lock the test holds: the victim stops right after writing the new state.
  await sql`create function alerts_test_wait() returns trigger language plpgsql as $$ begin perform pg_advisory_xact_lock(4242); return new; end $$`.execute(r.db);
  await sql`create trigger alerts_test_wait before insert on events for each row when (new.kind like 'alert.%') execute function alerts_test_wait()`.execute(r.db);
  const locker = new pg.Client({ connectionString: r.url });
  locker.on('error', () => {}); // ended by the database's drop if the test fails before it ends it
  await locker.connect();
  await locker.query('select pg_advisory_lock(4242)');

  // The victim: a control plane process whose evaluator makes the same pass, at the next 10 s.
  const url = new URL(r.url);
  url.searchParams.set('application_name', 'alerts_victim');
  const mod = (p: string) => JSON.stringify(new URL(`../../src/${p}`, import.meta.url).href);
  const script = `
    const { openStore } = await import(${mod('store/db.js')});
    const { AlertController } = await import(${mod('controllers/alerts.js')});
    const { Events } = await import(${mod('domain/events.js')});
    const store = await openStore({ dataDir: process.env.DIR, databaseUrl: process.env.URL });
    const quiet = { warn() {}, info() {}, error() {}, debug() {} };
    const at = Number(process.env.AT);
    await new AlertController({ db: store.db, log: quiet, clock: { now: () => at, sleep: async () => {} }, events: new Events(store.db),
      routerDomain: 'test', routerHttpPort: 80, fence: null, timeScale: 1, volumeUsage: async () => 10 * 1024 * 1024 }).pass();
    console.log('pass finished');`;
  const dir = mkdtempSync(join(tmpdir(), 'berth-alerts-victim-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const victim = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, DIR: dir, URL: url.toString(), AT: String(r.t + 10_000) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  victim.stdout.on('data', (c: Buffer) => (out += c.toString()));
  victim.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((ok) => victim.once('exit', () => ok()));
  const waiting = async () =>
    (await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where application_name = 'alerts_victim' and wait_event_type = 'Lock' and wait_event = 'advisory'`.execute(r.db)).rows[0]!.n === 1;
  await waitFor('the victim to stop at the alert event', async () => (victim.exitCode !== null ? Promise.reject(new Error(`exited: ${out}`)) : waiting()), { timeoutMs: 30_000, intervalMs: 50 });
  victim.kill('SIGKILL');
  await exited;
  // The lock goes; the victim's backend finds its client gone, and its transaction with it.
  await locker.query('select pg_advisory_unlock(4242)');
  await locker.end();
  await waitFor('the victim backend to end', async () => (await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where application_name = 'alerts_victim'`.execute(r.db)).rows[0]!.n === 0, { timeoutMs: 30_000 });
  await sql`drop trigger alerts_test_wait on events`.execute(r.db);
  assert.doesNotMatch(out, /pass finished/);
  const left = await r.state();
  assert.deepEqual([left?.status, left?.version], [pending?.status, pending?.version], 'the killed pass left the state as it was');
  assert.deepEqual(await r.told(), []);

  // The restarted control plane's evaluator makes the transition, and tells it once.
  const restarted = r.evaluator();
  r.t += 10_000;
  await restarted.pass();
  assert.equal((await r.state())?.status, 'firing');
  await r.advance(restarted, 60, errors500);
  assert.deepEqual(await r.told(), ['alert.firing'], 'the event exists once');
  assert.deepEqual(await r.deliveries(), ['alert.firing'], 'its notification is queued once');
});
