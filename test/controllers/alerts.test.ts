import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { world, type World } from './harness.js';
import { AlertController } from '../../src/controllers/alerts.js';
import { Events } from '../../src/domain/events.js';
import { upsertSamples, type MetricRow } from '../../src/store/metrics.js';
import { statesOf, upsertRule } from '../../src/store/alerts.js';
import { appById } from '../../src/store/apps.js';
import { insertVolume } from '../../src/store/volumes.js';
import { insertJob, newJob } from '../../src/store/backups.js';
import { INITIAL, RULES, effective, step } from '../../src/domain/alerts.js';

// The alert evaluator against a real (SQLite) store with metric samples written as the metrics
// controller writes them, and a clock that moves only when the test moves it.

const T0 = 1_800_000_000_000; // a 10 s boundary

interface Rig {
  w: World;
  alerts: AlertController;
  /** A new evaluator on the same database, as after a restart or a leader change. */
  restart(): void;
  /** Moves the clock by s seconds, writing one 10 s bucket per 10 s passed, then evaluates. */
  advance(s: number, bucket?: Partial<MetricRow>, replicas?: Partial<MetricRow>[]): Promise<void>;
  told(): Promise<{ kind: string; message: string; data: Record<string, unknown> | null }[]>;
  state(rule: string): Promise<{ status: string; since: string; value: number | null } | undefined>;
  usage: Map<string, number | null>;
}

async function rig(t: { after(fn: () => Promise<void>): void }): Promise<Rig> {
  const w = await world({ replicas: 1 });
  t.after(() => w.close());
  w.clock.t = T0;
  const db = w.store.db;
  const events = new Events(db);
  const usage = new Map<string, number | null>();
  const make = () =>
    new AlertController({ db, log: pino({ level: 'silent' }), clock: w.clock, events, routerDomain: 'test', timeScale: 1, volumeUsage: async (v) => usage.get(v.id) ?? null });
  const r: Rig = {
    w,
    alerts: make(),
    usage,
    restart() {
      r.alerts = make();
    },
    async advance(s, bucket = {}, replicas = []) {
      for (let i = 0; i < s; i += 10) {
        w.clock.t += 10_000;
        const tt = Math.floor(w.clock.t / 1000) - 10;
        const row = (replica: string, b: Partial<MetricRow>): MetricRow => ({
          app_id: w.appId, res: 10, t: tt, replica, span_s: 10, requests: 0, r2xx: 0, r3xx: 0, r4xx: 0, r5xx: 0,
          response_ms: null, p50_ms: null, p95_ms: null, p99_ms: null, sessions: null, cpu_percent: null, memory_mb: null, restarts: 0, ...b,
        });
        await upsertSamples(db, [row('', bucket), ...replicas.map((b, n) => row(String(n), b))]);
        await r.alerts.pass();
      }
    },
    async told() {
      const rows = await db.selectFrom('events').select(['kind', 'message', 'data']).where('app_id', '=', w.appId).where('kind', 'like', 'alert.%').orderBy('id').execute();
      return rows.map((e) => ({ kind: e.kind, message: e.message, data: e.data ? (JSON.parse(e.data) as Record<string, unknown>) : null }));
    },
    async state(rule) {
      return (await statesOf(db, w.appId)).find((s) => s.rule === rule);
    },
  };
  return r;
}

const errors = { requests: 100, r5xx: 50, r2xx: 50, response_ms: 50 };
const fine = { requests: 100, r5xx: 0, r2xx: 100, response_ms: 50 };

test('alerts: a 5xx rate over 5% holds for a minute before it fires, once, through the app events', async (t) => {
  const r = await rig(t);
  await r.advance(30, fine);
  assert.equal((await r.state('http_5xx_rate'))?.status, 'ok');
  await r.advance(10, errors);
  const pending = await r.state('http_5xx_rate');
  assert.equal(pending?.status, 'pending', 'a breach is pending first');
  assert.deepEqual(await r.told(), [], 'nothing is told while pending');
  await r.advance(50, errors);
  assert.equal((await r.state('http_5xx_rate'))?.status, 'pending', '50 s of errors are not yet the minute the rule asks for');
  await r.advance(10, errors);
  const firing = await r.state('http_5xx_rate');
  assert.equal(firing?.status, 'firing');
  assert.equal(Date.parse(firing!.since), r.w.clock.t);
  await r.advance(60, errors);
  const told = await r.told();
  assert.equal(told.length, 1, `told once: ${JSON.stringify(told)}`);
  assert.equal(told[0].kind, 'alert.firing');
  assert.match(told[0].message, /^web: 5xx responses: \d+(\.\d)? % \(over 5 %\)$/);
  assert.equal(told[0].data?.rule, 'http_5xx_rate');
});

test('alerts: a firing rule resolves only after it stays clear for its clear time; a short lull does not resolve it', async (t) => {
  const r = await rig(t);
  await r.advance(90, errors);
  assert.equal((await r.state('http_5xx_rate'))?.status, 'firing');
  // Clear readings need the 5-minute window to fall under 5%: heavy clean traffic does that at once.
  const clean = { requests: 5000, r2xx: 5000, r5xx: 0 };
  await r.advance(60, clean);
  assert.equal((await r.state('http_5xx_rate'))?.status, 'firing', 'one minute clear of the two the rule asks');
  await r.advance(10, { requests: 3000, r5xx: 3000 });
  assert.ok((await r.state('http_5xx_rate'))!.value! > 5, 'a spike breaches again');
  // Without the spike, 160 s of clear readings would have resolved it by now.
  await r.advance(100, clean);
  assert.equal((await r.state('http_5xx_rate'))?.status, 'firing', 'the breach restarted the clear time');
  await r.advance(150, clean);
  assert.equal((await r.state('http_5xx_rate'))?.status, 'ok');
  assert.deepEqual((await r.told()).map((e) => e.kind), ['alert.firing', 'alert.resolved']);
  assert.match((await r.told())[1].message, /5xx responses resolved/);
});

test('alerts: a pending breach that clears before its hold goes back to ok without telling anyone', async (t) => {
  const r = await rig(t);
  // Memory reads the newest sample: 110 s near the limit, one reading under it, again and again.
  for (let i = 0; i < 5; i++) {
    await r.advance(110, fine, [{ memory_mb: 250 }]);
    assert.equal((await r.state('memory'))?.status, 'pending');
    await r.advance(10, fine, [{ memory_mb: 100 }]);
    assert.equal((await r.state('memory'))?.status, 'ok');
  }
  assert.deepEqual(await r.told(), []);
});

test('alerts: fewer than 20 requests over the window say nothing, even all 5xx', async (t) => {
  const r = await rig(t);
  await r.advance(300, { requests: 0 });
  await r.advance(120, { requests: 1, r5xx: 1 }); // 12 requests in all
  assert.equal((await r.state('http_5xx_rate'))?.value, null);
  assert.equal((await r.state('http_5xx_rate'))?.status, 'ok');
});

test('alerts: a restarted evaluator keeps the state: neither fires again nor forgets to resolve', async (t) => {
  const r = await rig(t);
  await r.advance(40, errors);
  r.restart();
  await r.advance(30, errors);
  assert.equal((await r.state('http_5xx_rate'))?.status, 'firing', 'the pending time before the restart counts');
  r.restart();
  await r.advance(60, errors);
  assert.deepEqual((await r.told()).map((e) => e.kind), ['alert.firing'], 'not fired again after the restart');
  await r.advance(60, { requests: 50000, r2xx: 50000 });
  r.restart();
  await r.advance(70, { requests: 50000, r2xx: 50000 });
  assert.deepEqual((await r.told()).map((e) => e.kind), ['alert.firing', 'alert.resolved'], 'the new evaluator resolves what the old one fired');
});

test('alerts: two evaluators on one database (a deposed leader still running) tell a transition once', async (t) => {
  const r = await rig(t);
  const other = r.alerts;
  r.restart();
  await r.advance(60, errors);
  w: for (let i = 0; i < 3; i++) {
    r.w.clock.t += 10_000;
    await Promise.all([r.alerts.pass(), other.pass()]);
    if ((await r.told()).length) break w;
  }
  assert.deepEqual((await r.told()).map((e) => e.kind), ['alert.firing']);
});

test('alerts: an app may turn a rule off or change its threshold; turning a firing rule off resolves it', async (t) => {
  const r = await rig(t);
  const db = r.w.store.db;
  await upsertRule(db, { app_id: r.w.appId, rule: 'http_5xx_rate', enabled: 1, threshold: 60, updated_at: new Date().toISOString() });
  await r.advance(120, errors);
  assert.equal((await r.state('http_5xx_rate'))?.status, 'ok', '50% is under a threshold of 60%');
  await upsertRule(db, { app_id: r.w.appId, rule: 'http_5xx_rate', enabled: 1, threshold: 40, updated_at: new Date().toISOString() });
  await r.advance(70, errors);
  assert.equal((await r.state('http_5xx_rate'))?.status, 'firing');
  await upsertRule(db, { app_id: r.w.appId, rule: 'http_5xx_rate', enabled: 0, threshold: 40, updated_at: new Date().toISOString() });
  await r.advance(10, errors);
  assert.equal((await r.state('http_5xx_rate'))?.status, 'ok');
  const told = await r.told();
  assert.deepEqual(told.map((e) => e.kind), ['alert.firing', 'alert.resolved']);
  assert.equal(told[1].data?.turned_off, true);
  await r.advance(300, errors);
  assert.equal((await r.told()).length, 2, 'an off rule stays quiet');
});

test('alerts: the average response time, restarts and memory rules', async (t) => {
  const r = await rig(t);
  const app = await appById(r.w.store.db, r.w.appId);
  assert.equal(app?.memory_mb, 256);
  await r.advance(10, { requests: 100, p95_ms: 1500 }, [{ memory_mb: 100 }, { memory_mb: 240 }]);
  assert.equal((await r.state('response_time_p95'))?.status, 'pending');
  assert.equal((await r.state('memory'))?.status, 'pending');
  assert.equal(Math.round((await r.state('memory'))!.value!), 94, 'the busiest replica: 240 of 256 MB');
  await r.advance(10, { requests: 100, p95_ms: 1500, restarts: 3 }, [{ memory_mb: 100 }, { memory_mb: 240 }]);
  assert.equal((await r.state('restarts'))?.status, 'firing', 'more than 2 restarts fire at once');
  await r.advance(120, { requests: 100, p95_ms: 1500 }, [{ memory_mb: 100 }, { memory_mb: 240 }]);
  assert.equal((await r.state('response_time_p95'))?.status, 'firing');
  assert.equal((await r.state('memory'))?.status, 'firing');
  assert.deepEqual((await r.told()).map((e) => e.data?.rule).sort(), ['memory', 'response_time_p95', 'restarts']);
  // Restarts leave the 10-minute window: resolved after 10 minutes clear.
  await r.advance(600, { requests: 100, p95_ms: 20 }, [{ memory_mb: 100 }, { memory_mb: 100 }]);
  await r.advance(600, { requests: 100, p95_ms: 20 }, [{ memory_mb: 100 }, { memory_mb: 100 }]);
  for (const rule of ['memory', 'response_time_p95', 'restarts']) assert.equal((await r.state(rule))?.status, 'ok', rule);
  assert.equal((await r.told()).filter((e) => e.kind === 'alert.resolved').length, 3);
});

test('alerts: a certificate expiring within 14 days, a failed backup of a mounted volume, a volume over 90% full', async (t) => {
  const r = await rig(t);
  const db = r.w.store.db;
  const app = (await appById(db, r.w.appId))!;
  const ts = new Date(T0).toISOString();
  await db
    .insertInto('certificates')
    .values({ name: 'cert-x', hostname: 'web.test', issuer: 'berth-ca', status: 'issued', message: null, serial: '1', not_after: new Date(T0 + 5 * 86_400_000).toISOString(), issued_at: ts, attempts: 0, next_attempt_at: null, created_at: ts, updated_at: ts })
    .execute();
  await insertVolume(db, { id: 'vol_a', project_id: app.project_id, name: 'files', size_mb: 100, backup_schedule: null, backup_keep: 3, created_at: ts });
  await db.updateTable('apps').set({ volumes: JSON.stringify([{ volume: 'files', volume_id: 'vol_a', path: '/data' }]) }).where('id', '=', app.id).execute();
  const job = { ...newJob('bkp_1', { kind: 'volume', id: 'vol_a' }, 'backup', 'schedule'), status: 'failed' as const, finished_at: ts, created_at: ts };
  await insertJob(db, job);
  r.usage.set('vol_a', 95 * 1024 * 1024);
  await r.advance(10, fine);
  for (const rule of ['certificate_expiry', 'backup_failed', 'volume_full']) assert.equal((await r.state(rule))?.status, 'firing', rule);
  assert.equal(Math.round((await r.state('certificate_expiry'))!.value!), 5);
  assert.equal(Math.round((await r.state('volume_full'))!.value!), 95);
  // A newer backup that succeeds resolves the backup alert; the volume is measured again only after 5 minutes.
  r.w.clock.t += 1000;
  await insertJob(db, { ...newJob('bkp_2', { kind: 'volume', id: 'vol_a' }, 'backup', 'schedule'), status: 'succeeded', finished_at: new Date(T0 + 1000).toISOString(), created_at: new Date(T0 + 1000).toISOString() });
  r.usage.set('vol_a', 10 * 1024 * 1024);
  await r.advance(10, fine);
  assert.equal((await r.state('backup_failed'))?.status, 'ok');
  assert.equal((await r.state('volume_full'))?.status, 'firing', 'not measured again yet');
  await r.advance(300, fine);
  assert.equal((await r.state('volume_full'))?.status, 'ok');
});

test('alert step: pure transitions', () => {
  const rule = effective(RULES.http_5xx_rate, undefined);
  let s = step(INITIAL, rule, 50, 0);
  assert.deepEqual([s.next.status, s.told], ['pending', null]);
  s = step(s.next, rule, 50, 60_000);
  assert.deepEqual([s.next.status, s.told], ['firing', 'firing']);
  s = step(s.next, rule, null, 70_000);
  assert.deepEqual([s.next.status, s.told, s.next.clear_since], ['firing', null, 70_000]);
  s = step(s.next, rule, 1, 190_000);
  assert.deepEqual([s.next.status, s.told], ['ok', 'resolved']);
  const below = effective(RULES.certificate_expiry, { enabled: true, threshold: 30 });
  assert.equal(step(INITIAL, below, 20, 0).told, 'firing');
  assert.equal(step(INITIAL, below, 40, 0).told, null);
  assert.equal(step(INITIAL, below, null, 0).told, null, 'no certificate: nothing to say');
});
