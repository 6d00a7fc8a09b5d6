import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { withLoad, viaRouter, assertNoDrops } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { assertConsistent, assertOneLive, healthy, settled } from '../faults/helpers.js';

/**
 * Two control planes on one PostgreSQL and one Docker Engine, each with its own data directory,
 * API port and HAProxy: one leads (runs the controllers) under a lease, both serve the API and
 * route every app. The leader killed mid-rollout: the other takes over and finishes it with no
 * failed request through its own router; a paused leader resumed after a takeover stops its
 * controllers and acts on nothing; events cross instances.
 */
describe('several control planes on one PostgreSQL', () => {
  let a: TestServer;
  let b: TestServer;
  let token: string;
  let image: string;
  const runtime = new DockerRuntime({});
  const host = (slug: string) => `${slug}.localhost`;
  const as = (s: TestServer) => s.client(token);
  const planes = (s: TestServer) => s.admin.call('listControlPlanes');
  const selfId = async (s: TestServer) => (await planes(s)).items.find((p) => p.self)!.id;
  const leaderAndFollower = async (): Promise<[TestServer, TestServer]> => {
    // Not while a takeover is under way (no leader for a moment): that would read as "b leads".
    const leader = await waitFor('a leader', async () => (await planes(b)).leader?.id, { timeoutMs: 20_000, intervalMs: 100 });
    return leader === (await selfId(a)) ? [a, b] : [b, a];
  };
  // Schedules every 2 s: under the default cron quota.
  const env = { BERTH_SECRET_KEY: randomBytes(32).toString('base64'), BERTH_QUOTA_CRON_MIN_INTERVAL_S: '1' };

  before(async () => {
    image = await ensureTestAppImage(runtime);
    a = await startServer({ engine: 'postgres', env });
    const aId = await selfId(a);
    await waitFor('the first instance to lead', async () => (await planes(a)).leader?.id === aId, { timeoutMs: 20_000, intervalMs: 100 });
    // The same database and secret key; its own data directory, API port and router ports.
    b = await startServer({ engine: 'postgres', databaseUrl: a.env.DATABASE_URL, env });
    // B registers its row a moment after its API listens.
    const bId = await selfId(b);
    await waitFor('both instances listed', async () => (await planes(a)).items.some((p) => p.id === bId), { timeoutMs: 20_000, intervalMs: 100 });
    const dev = await a.newUser('dev');
    token = dev.opts.token!;
    await dev.call('createProject', { body: { name: 'ha' } });
  });
  after(async () => {
    for (const s of [b, a]) {
      if (s?.pid) process.kill(s.pid, 'SIGCONT');
    }
    await b?.destroy();
    await a?.destroy();
  });

  test('both instances list both; exactly one leads', async () => {
    const [ia, ib] = [await selfId(a), await selfId(b)];
    for (const s of [a, b]) {
      const p = await planes(s);
      assert.equal(p.engine, 'postgres');
      assert.deepEqual(p.items.map((x) => x.id).sort(), [ia, ib].sort());
      assert.equal(p.leader?.id, ia);
      assert.deepEqual(p.items.filter((x) => x.leader).map((x) => x.id), [ia]);
    }
  });

  test('an event produced through instance A reaches /ws/events on instance B', async () => {
    const ws = new WebSocket(new URL('/ws/events', b.url.replace(/^http/, 'ws')), { headers: { authorization: `Bearer ${token}` } });
    const seen: string[] = [];
    ws.on('message', (d) => seen.push(String(d)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the WebSocket on B did not open within 10 s')), 10_000);
      ws.once('open', () => (clearTimeout(timer), resolve()));
      ws.once('error', (err) => (clearTimeout(timer), reject(err)));
    });
    try {
      await as(a).call('createApp', { body: { name: 'across', project: 'ha' } });
      await as(a).call('scaleApp', { params: { id: 'across' }, body: { replicas: 0 } });
      await waitFor('app.scaled on B', () => seen.some((m) => /"app\.scaled"/.test(m) && /"across"/.test(m)), { timeoutMs: 10_000, intervalMs: 50 });
    } finally {
      ws.close();
    }
  });

  test('leader killed -9 mid rolling deploy under load through the other router: it takes over, finishes the rollout, 0 failed requests; a cron due right after fires once', async (t) => {
    const [leader, survivor] = await leaderAndFollower();
    const app = 'rolling';
    const dev = as(survivor);
    await dev.call('createApp', { body: { name: app, project: 'ha', health_check: { path: '/health', timeout_s: 30, grace_s: 2 } } });
    await dev.call('deployApp', { params: { id: app }, body: { image_id: image, replicas: 3 } });
    assert.equal((await settled(dev, app, 1)).status, 'live');
    await healthy(dev, app, 3);
    await waitFor('the survivor’s router to serve the app', async () => (await viaRouter(survivor.routerPort, host(app))).status === 200, { timeoutMs: 20_000 });
    const survivorId = await selfId(survivor);

    let takeoverMs = 0;
    let cronId = '';
    const res = await withLoad({ port: survivor.routerPort, host: host(app) }, async (load) => {
      assert.equal((await dev.call('deployApp', { params: { id: app }, body: { image_id: image } })).version, 2);
      await waitFor(
        'a new replica in rotation and an old one retiring',
        async () => {
          const items = (await dev.call('listContainers', { query: { app } })).items;
          const [v2, v1] = [items.filter((c) => c.release === 2), items.filter((c) => c.release === 1)];
          return v2.some((c) => c.in_rotation) && v1.filter((c) => c.in_rotation).length < 3;
        },
        { timeoutMs: 60_000, intervalMs: 50 },
      );
      await leader.kill();
      const killedAt = performance.now();
      // Added through the survivor once the leader is dead, due 3 s later, once a day: it comes due
      // while no instance leads (the dead leader's lease has not expired), so nobody may fire it early.
      const due = new Date(Date.now() + 3000);
      const schedule = `${due.getUTCSeconds()} ${due.getUTCMinutes()} ${due.getUTCHours()} * * *`;
      cronId = (await dev.call('addCron', { params: { id: app }, body: { schedule, command: ['node', '-e', "console.log('once')"] } })).id;
      await waitFor('the survivor to hold the lease', async () => (await planes(survivor)).leader?.id === survivorId, { timeoutMs: 20_000, intervalMs: 50 });
      takeoverMs = Math.round(performance.now() - killedAt);
      const rel = await settled(dev, app, 2);
      assert.equal(rel.status, 'live', rel.reason ?? '');
      assert.ok(load.result.sent > 100, `the load ran (${load.result.sent} requests)`);
    });
    t.diagnostic(`takeover: the survivor held the lease ${takeoverMs} ms after kill -9 of the leader`);
    assert.ok(takeoverMs < 10_000, `took over in ${takeoverMs} ms`);
    assert.equal((await assertOneLive(dev, app)).version, 2);
    await assertConsistent(survivor, dev, app, 3, 2);
    assertNoDrops(res, 'rolling deploy across the leader’s kill, through the survivor’s router');

    // Back to two instances (the next test pauses the leader).
    await leader.start();

    const cronRuns = async () => (await dev.call('listRuns', { params: { id: app } })).items.filter((r) => r.cron === cronId);
    const runs = await waitFor('the cron’s run to finish', async () => ((await cronRuns()).some((r) => r.finished_at) ? cronRuns() : undefined), { timeoutMs: 60_000, intervalMs: 200 }).catch(async (err) => {
      throw new Error(`${String(err)}: cron ${JSON.stringify((await dev.call('listCron', { params: { id: app } })).items)}, runs ${JSON.stringify(await cronRuns())}`);
    });
    assert.equal(runs.length, 1, `one run of the firing: ${JSON.stringify(runs.map((r) => [r.status, r.reason]))}`);
    assert.equal(runs[0]!.status, 'succeeded', runs[0]!.reason ?? '');
    assert.match(runs[0]!.output, /once/);
    await dev.call('removeCron', { params: { id: app, cron: cronId } });
  });

  test('a paused leader resumed after a takeover stops its controllers and fires nothing twice', async () => {
    const [leader, other] = await leaderAndFollower();
    const otherId = await selfId(other);
    const leaderId = await selfId(leader);
    const dev = as(other);
    const c = await dev.call('addCron', { params: { id: 'rolling' }, body: { schedule: '*/2 * * * * *', command: ['node', '-e', '1'] } });
    await waitFor('a first firing', async () => ((await dev.call('listRuns', { params: { id: 'rolling' } })).items.some((r) => r.cron === c.id) ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    const pausedAt = leader.output().length;
    process.kill(leader.pid!, 'SIGSTOP');
    try {
      await waitFor('the other instance to take the lease', async () => (await planes(other)).leader?.id === otherId, { timeoutMs: 20_000, intervalMs: 100 });
      // The new leader fires the schedule meanwhile.
      const firedBy = async () => (await dev.call('listEvents', { query: { app: 'rolling', limit: 1000 } })).items.filter((e) => e.kind === 'cron.fired' && e.data?.cron === c.id);
      const n = (await firedBy()).length;
      await waitFor('a firing by the new leader', async () => (await firedBy()).length > n, { timeoutMs: 20_000, intervalMs: 200 });
    } finally {
      process.kill(leader.pid!, 'SIGCONT');
    }
    await waitFor('the resumed instance to step down', () => /control plane lease lost: stopping the controllers/.test(leader.output().slice(pausedAt)), { timeoutMs: 10_000, intervalMs: 50 });
    // It serves the API and knows who leads.
    const seen = await planes(leader);
    assert.equal(seen.leader?.id, otherId);
    assert.equal(seen.items.find((p) => p.id === leaderId)?.leader, false);
    // Two more firings after the resume, then compare: every firing time was acted on once.
    const after = (await dev.call('listEvents', { query: { app: 'rolling', limit: 1000 } })).items.filter((e) => e.kind === 'cron.fired' && e.data?.cron === c.id).length;
    await waitFor(
      'two more firings',
      async () => (await dev.call('listEvents', { query: { app: 'rolling', limit: 1000 } })).items.filter((e) => e.kind === 'cron.fired' && e.data?.cron === c.id).length >= after + 2,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    await dev.call('removeCron', { params: { id: 'rolling', cron: c.id } });
    const fired = (await dev.call('listEvents', { query: { app: 'rolling', limit: 1000 } })).items.filter((e) => e.kind === 'cron.fired' && e.data?.cron === c.id);
    const times = fired.map((e) => String(e.data?.at));
    assert.equal(new Set(times).size, times.length, `a firing acted on twice: ${times.sort().join(', ')}`);
    assert.doesNotMatch(leader.output().slice(pausedAt), /control plane lease won/, 'the resumed instance did not take the lease back');
  });
});
