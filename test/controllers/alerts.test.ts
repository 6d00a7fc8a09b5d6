import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rig, errors, fine, T0 } from './alerts-rig.js';
import { CompiledQuery, type QueryId, type RootOperationNode } from 'kysely';
import { newestBackupFailed, upsertRule } from '../../src/store/alerts.js';
import { appById } from '../../src/store/apps.js';
import { insertVolume } from '../../src/store/volumes.js';
import { insertJob, newJob } from '../../src/store/backups.js';
import { INITIAL, RULES, effective, step } from '../../src/domain/alerts.js';

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

test('alerts: a firing 5xx alert stays firing while traffic is too thin to judge; it resolves after the clear time of windows with traffic and no 5xx', async (t) => {
  const r = await rig(t);
  await r.advance(90, errors);
  assert.equal((await r.state('http_5xx_rate'))?.status, 'firing');
  // Clients give up on the broken app: no traffic at all for half an hour.
  await r.advance(1800, { requests: 0 });
  let s = await r.state('http_5xx_rate');
  assert.deepEqual([s?.status, s?.value], ['firing', null], 'silence is not a fix');
  // A trickle: a request each 20 s (15 a window, under the 20 needed), one in three a 500.
  let lastError = 0;
  for (let i = 0; i < 30; i++) {
    await r.advance(10, i % 2 ? { requests: 0 } : i % 6 ? { requests: 1, r2xx: 1 } : { requests: 1, r5xx: 1 });
    if (i % 6 === 0) lastError = r.w.clock.t;
  }
  assert.equal((await r.state('http_5xx_rate'))?.status, 'firing', 'a few requests with 5xx among them keep it firing');
  assert.deepEqual((await r.told()).map((e) => e.kind), ['alert.firing']);
  // The fix is deployed; the trickle goes on, clean. The window reads 0 % once the last 500 left it
  // (5 minutes), and 2 minutes of such windows resolve the alert.
  const stop = r.w.clock.t + 1_200_000;
  for (let i = 0; (await r.state('http_5xx_rate'))?.status === 'firing' && r.w.clock.t < stop; i++) await r.advance(10, i % 2 ? { requests: 0 } : { requests: 1, r2xx: 1 });
  s = await r.state('http_5xx_rate');
  assert.deepEqual([s?.status, s?.value], ['ok', 0]);
  const took = (r.w.clock.t - lastError) / 1000;
  assert.ok(took >= 300 + 120 - 20 && took <= 300 + 120 + 10, `resolved ${took} s after the last 500: the window's 5 minutes and the 2-minute clear time`);
  assert.deepEqual((await r.told()).map((e) => e.kind), ['alert.firing', 'alert.resolved']);
  // Not firing, a thin window still never fires, even all 5xx.
  for (let i = 0; i < 30; i++) await r.advance(10, i % 2 ? { requests: 0 } : { requests: 1, r5xx: 1 });
  s = await r.state('http_5xx_rate');
  assert.deepEqual([s?.status, s?.value], ['ok', null]);
});

test('alerts: the backup rule reads each add-on\'s and volume\'s newest finished backup, through their indexes', async (t) => {
  const r = await rig(t);
  const db = r.w.store.db;
  const app = (await appById(db, r.w.appId))!;
  const at = (s: number) => new Date(T0 + s * 1000).toISOString();
  for (const v of ['vol_a', 'vol_b', 'vol_c', 'vol_d']) {
    await insertVolume(db, { id: v, project_id: app.project_id, name: v, size_mb: null, backup_schedule: null, backup_keep: 3, created_at: at(0) });
  }
  let n = 0;
  const job = async (volume: string, s: number, status: 'queued' | 'running' | 'succeeded' | 'failed', kind: 'backup' | 'restore' = 'backup') =>
    insertJob(db, { ...newJob(`bkp_${++n}`, { kind: 'volume', id: volume }, kind, 'schedule'), status, created_at: at(s), finished_at: status === 'succeeded' || status === 'failed' ? at(s + 1) : null });
  // a: failed, then succeeded: fine. b: succeeded, then failed, then one queued and one running: failed.
  // c: failed, then a restore that succeeded (not a backup): failed. d: only one running: nothing known.
  await job('vol_a', 1, 'failed');
  await job('vol_a', 2, 'succeeded');
  await job('vol_b', 1, 'succeeded');
  await job('vol_b', 2, 'failed');
  await job('vol_b', 3, 'queued');
  await job('vol_b', 4, 'running');
  await job('vol_c', 1, 'failed');
  await job('vol_c', 2, 'succeeded', 'restore');
  await job('vol_d', 1, 'running');
  for (let i = 0; i < 50; i++) await job('vol_a', 10 + i, 'succeeded');
  assert.deepEqual(Object.fromEntries(await newestBackupFailed(db)), { 'volume:vol_a': false, 'volume:vol_b': true, 'volume:vol_c': true });
  // Through the app: b and c mounted, two backups failed.
  await db.updateTable('apps').set({ volumes: JSON.stringify(['vol_a', 'vol_b', 'vol_c', 'vol_d'].map((v) => ({ volume: v, volume_id: v, path: `/${v}` }))) }).where('id', '=', app.id).execute();
  await r.advance(10, fine);
  assert.deepEqual([(await r.state('backup_failed'))?.status, (await r.state('backup_failed'))?.value], ['firing', 2]);
  // How SQLite runs that one query: it seeks each owner's newest job in the owner's index, and
  // reads no backup job otherwise (every step on backup_jobs is a SEARCH, none a SCAN).
  let seen: { node: RootOperationNode; queryId: QueryId } | undefined;
  const spied = db.withPlugin({ transformQuery: (a) => ((seen = a), a.node), transformResult: async (a) => a.result });
  await newestBackupFailed(spied);
  const q = db.getExecutor().compileQuery(seen!.node, seen!.queryId);
  const plan = (await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${q.sql}`, [...q.parameters]))).rows.map((p) => p.detail);
  const onJobs = plan.filter((d) => /\b(backup_jobs|j)\b/.test(d) && /^(SCAN|SEARCH)/.test(d));
  assert.ok(onJobs.length >= 3 && onJobs.every((d) => d.startsWith('SEARCH')), plan.join('\n'));
  assert.ok(plan.some((d) => /USING INDEX backup_jobs_addon/.test(d)) && plan.some((d) => /USING INDEX backup_jobs_volume/.test(d)), plan.join('\n'));
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
  s = step(s.next, rule, 1, 70_000);
  assert.deepEqual([s.next.status, s.told, s.next.clear_since], ['firing', null, 70_000]);
  s = step(s.next, rule, null, 80_000);
  assert.deepEqual([s.next.status, s.told, s.next.clear_since], ['firing', null, null], 'too little traffic to judge: held, the clear time starts again');
  s = step(s.next, rule, 1, 90_000);
  s = step(s.next, rule, 1, 200_000);
  assert.deepEqual([s.next.status, s.told], ['firing', null]);
  s = step(s.next, rule, 1, 210_000);
  assert.deepEqual([s.next.status, s.told], ['ok', 'resolved']);
  const slow = effective(RULES.response_time_p95, undefined);
  const slowFiring = step(step(INITIAL, slow, 3000, 0).next, slow, 3000, 120_000);
  assert.equal(slowFiring.told, 'firing');
  const quiet = step(step(slowFiring.next, slow, null, 130_000).next, slow, null, 400_000);
  assert.deepEqual([quiet.next.status, quiet.told], ['firing', null], 'p95: no requests is not a fix; it stays firing');
  const fast = step(step(quiet.next, slow, 200, 410_000).next, slow, 200, 530_000);
  assert.deepEqual([fast.next.status, fast.told], ['ok', 'resolved'], 'p95 resolves on fast requests for its clear time');
  const memory = effective(RULES.memory, undefined);
  const fired = step(step(INITIAL, memory, 95, 0).next, memory, 95, 120_000);
  assert.equal(fired.told, 'firing');
  const gone = step(step(fired.next, memory, null, 130_000).next, memory, null, 190_000);
  assert.equal(gone.told, 'resolved', 'the memory rule with no reading (the app stopped) resolves after its clear time');
  const below = effective(RULES.certificate_expiry, { enabled: true, threshold: 30 });
  assert.equal(step(INITIAL, below, 20, 0).told, 'firing');
  assert.equal(step(INITIAL, below, 40, 0).told, null);
  assert.equal(step(INITIAL, below, null, 0).told, null, 'no certificate: nothing to say');
});
