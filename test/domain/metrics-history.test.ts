import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { tempStore } from '../support/store.js';
import { now } from '../../src/store/db.js';
import { insertApp } from '../../src/store/apps.js';
import { bucketsOf, samplesOf, upsertSamples, type MetricRow } from '../../src/store/metrics.js';
import { insertContainer } from '../../src/store/containers.js';
import { peakReplicaMemoryByApp } from '../../src/store/alerts.js';
import { MetricsController } from '../../src/controllers/metrics.js';
import { percentiles, aggregate, keysFor, parseKey, rollupWindow, toSeries } from '../../src/domain/metrics.js';
import type { ContainerInfo } from '../../src/runtime/types.js';
import type { AppStats, TrafficCounters } from '../../src/router/types.js';
import { parseTimingLine } from '../../src/router/haproxy/timing.js';

const counters = (requests: number, r5xx: number, rtime = 12): TrafficCounters => ({
  reqRate: 0,
  requestsTotal: requests,
  responses: { '1xx': 0, '2xx': requests - r5xx, '3xx': 0, '4xx': 0, '5xx': r5xx, other: 0 },
  currentSessions: 3,
  queueTimeMs: 0,
  connectTimeMs: 0,
  responseTimeMs: rtime,
  totalTimeMs: rtime,
});

/** The controller against a real SQLite store, a router whose counters we move, and a clock we set. */
async function setup(t: Parameters<typeof tempStore>[0]) {
  const { db, projectId } = await tempStore(t, 'berth-metrics-');
  const ts = now();
  await insertApp(db, {
    id: 'app_1', project_id: projectId, name: 'web', slug: 'web', image: 'img', replicas: 1, memory_mb: 64, cpu: 0, port: 8080, strategy: 'rolling',
    health_check: { path: '/', timeout_s: 5, grace_s: 0 }, env: {}, release_id: null, live_release_id: null, stopped: 0, restart_seq: 0, auto_deploy: 1, created_at: ts, updated_at: ts,
  });
  const world = {
    ms: Date.UTC(2026, 11, 5, 12, 0, 0, 200),
    stats: null as AppStats | null,
    restarts: new Map<string, number>(),
    use: new Map<string, { cpuPercent: number; memoryMb: number }>(),
  };
  // A fresh controller on the same store and world: what a restart of the control plane makes.
  const controller = () => new MetricsController({
    db,
    log: pino({ level: 'silent' }),
    clock: { now: () => world.ms, sleep: async () => {} },
    replicas: {
      listContainers: async () => [...world.restarts].map(([id, restartCount]) => ({ id, restartCount }) as ContainerInfo),
      stats: async (id: string) => world.use.get(id) ?? { cpuPercent: 25, memoryMb: 40 },
    },
    routerStats: async () => world.stats,
    instanceId: 'test',
  });
  return { db, c: controller(), controller, world };
}

test('metrics history: counters become rates, a reset counter counts from zero, minutes roll up, old buckets are pruned', async (t) => {
  const { db, c, world } = await setup(t);
  const t0 = Math.floor(world.ms / 1000);
  // 3 minutes of 5 requests/s, 1 of them a 5xx, then the router restarts (counters reset) mid-way.
  let requests = 1000; // counted before the control plane started: not this history's traffic
  let errors = 100;
  for (let i = 0; i < 18; i++) {
    if (i === 9) {
      // Restarted with its counters at zero: these are the 50 requests since.
      requests = 50;
      errors = 10;
    }
    world.stats = { app: 'web', total: counters(requests, errors), replicas: [] };
    await c.pass();
    requests += 50;
    errors += 10;
    world.ms += 10_000;
  }
  const fine = await samplesOf(db, 'app_1', 10, t0 - 60, t0 + 3600);
  const app = fine.filter((r) => r.replica === '');
  // The first pass after a start only takes readings: it writes no bucket (the last run may have
  // counted in that same 10 s, which a row of zeros would overwrite).
  assert.equal(app.length, 17, 'one 10 s bucket per pass after the first');
  assert.ok(!app.some((r) => r.t === Math.floor(t0 / 10) * 10), 'nothing written by the first pass');
  assert.deepEqual(app.map((r) => r.requests), Array(17).fill(50), 'after the reset, the counter counts from zero: nothing lost, nothing doubled');
  const { series } = toSeries(fine, t0, t0 + 180, 10, 10);
  assert.deepEqual(series[0].requests_per_s.slice(1), Array(17).fill(5));
  assert.deepEqual(series[0].responses_per_s['5xx'].slice(1), Array(17).fill(1));
  assert.equal(series[0].cpu_percent[1], null, 'no replica, no CPU');
  // The database's own bucketing (what the API reads) says what the rollup logic says.
  const norm = (rows: MetricRow[]) => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 1e6) / 1e6 : v])));
  assert.deepEqual(norm(await bucketsOf(db, 'app_1', 10, t0 - 60, t0 + 180, 60)), norm(aggregate(fine, 60, 10)));

  // A minute later, the complete minutes are rolled up: counts add, the rate stays 5/s.
  world.ms += 60_000;
  await c.pass();
  const coarse = (await samplesOf(db, 'app_1', 60, t0 - 60, t0 + 3600)).filter((r) => r.replica === '');
  assert.deepEqual(coarse.map((r) => r.requests), [250, 300, 300], 'minute 1 lost its first bucket to the first reading');
  assert.deepEqual(toSeries(coarse, t0, t0 + 180, 60, 60).series[0].requests_per_s, [5, 5, 5]);

  // An hour on, the 10 s buckets of then are gone and the minutes stay; 14 days on, those go too.
  world.ms += 3600_000;
  await c.pass();
  assert.equal((await samplesOf(db, 'app_1', 10, t0 - 60, t0 + 200)).length, 0, '10 s buckets are kept an hour');
  assert.equal((await samplesOf(db, 'app_1', 60, t0 - 60, t0 + 600)).filter((r) => r.replica === '').length, 3);
  world.ms += 14 * 86_400_000;
  await c.pass();
  assert.equal((await samplesOf(db, 'app_1', 60, t0 - 60, t0 + 600)).length, 0, 'minutes are kept 14 days');
});

test('metrics history: after a restart the rollup carries on from the newest minute rolled up instead of rewriting the hour', async (t) => {
  const { db, c, controller, world } = await setup(t);
  const t0 = Math.floor(world.ms / 1000);
  let requests = 0;
  for (let i = 0; i < 24; i++) {
    world.stats = { app: 'web', total: counters(requests, 0), replicas: [] };
    await c.pass();
    requests += 50;
    world.ms += 10_000;
  }
  const minutes = async () => (await samplesOf(db, 'app_1', 60, t0 - 60, t0 + 3600)).filter((r) => r.replica === '');
  const before = await minutes();
  assert.deepEqual(before.map((r) => r.requests), [250, 300, 300], 'three complete minutes rolled up');
  // Change one 10 s bucket in the oldest minute and one in the newest: which minutes a restarted
  // controller rewrites shows in which of the two changes reach the rollup.
  const [oldest, newest] = [before[0]!.t, before.at(-1)!.t];
  for (const m of [oldest, newest]) await db.updateTable('metric_samples').set({ requests: 1000 }).where('res', '=', 10).where('replica', '=', '').where('t', '=', m + 20).execute();
  const restarted = controller();
  await restarted.pass();
  const after = await minutes();
  const at = (m: number) => after.find((r) => r.t === m)?.requests;
  assert.equal(at(oldest), 250, 'a minute finished before the restart is not rewritten');
  assert.equal(at(newest), 300 - 50 + 1000, 'the newest minute rolled up is redone (the last run may have stopped within it)');
});

test('metrics history per process type: a worker gets its own total and replica series, apart from web’s slots; they roll up and are pruned', async (t) => {
  const { db, c, world } = await setup(t);
  const t0 = Math.floor(world.ms / 1000);
  const ts = now();
  // Web runs replicas 0 and 1, the worker type replicas 0 and 1: the same numbers, other processes.
  const replica = (id: string, type: string, i: number, address: string) =>
    insertContainer(db, { id, app_id: 'app_1', release_id: 'rel_1', replica: i, gen: 0, name: id, docker_id: `d_${id}`, node: 'local', address, port: 8080, status: type === 'web' ? 'healthy' : 'running', in_rotation: type === 'web' ? 1 : 0, message: null, process_type: type, created_at: ts, updated_at: ts });
  await replica('w0', 'web', 0, '10.0.0.2');
  await replica('w1', 'web', 1, '10.0.0.3');
  await replica('k0', 'worker', 0, '10.0.0.4');
  await replica('k1', 'worker', 1, '10.0.0.5');
  world.use = new Map([
    ['d_w0', { cpuPercent: 10, memoryMb: 100 }],
    ['d_w1', { cpuPercent: 12, memoryMb: 110 }],
    ['d_k0', { cpuPercent: 50, memoryMb: 300 }],
    ['d_k1', { cpuPercent: 70, memoryMb: 310 }],
  ]);
  world.restarts = new Map([['d_w0', 0], ['d_w1', 0], ['d_k0', 0], ['d_k1', 0]]);
  let requests = 0;
  for (let i = 0; i < 7; i++) {
    world.stats = { app: 'web', total: counters(requests, 0), replicas: [{ ...counters(requests / 2, 0), upstream: '10.0.0.2:8080', status: 'UP' }, { ...counters(requests / 2, 0), upstream: '10.0.0.3:8080', status: 'UP' }] };
    // The second worker crashes once and the engine restarts it.
    if (i === 3) world.restarts.set('d_k1', 1);
    await c.pass();
    requests += 100;
    world.ms += 10_000;
  }
  const fine = await samplesOf(db, 'app_1', 10, t0 - 60, t0 + 3600);
  const at = fine.at(-1)!.t;
  const last = new Map(fine.filter((r) => r.t === at).map((r) => [r.replica, r]));
  assert.deepEqual([...last.keys()].sort(), ['', '0', '1', 'type:web', 'type:worker', 'worker/0', 'worker/1']);
  const use = (key: string) => [last.get(key)!.cpu_percent, last.get(key)!.memory_mb, last.get(key)!.requests];
  assert.deepEqual(use('0'), [10, 100, 50], 'web replica 0: its own use only, and its traffic');
  assert.deepEqual(use('1'), [12, 110, 50]);
  assert.deepEqual(use('worker/0'), [50, 300, 0], 'worker replica 0: not in web slot 0');
  assert.deepEqual(use('worker/1'), [70, 310, 0]);
  assert.deepEqual(use('type:worker'), [120, 610, 0]);
  assert.deepEqual(use('type:web'), [22, 210, 100], 'web’s total carries the app’s traffic, web’s use');
  assert.deepEqual(use(''), [142, 820, 100], 'the app: every type');
  assert.equal(fine.filter((r) => r.replica === 'worker/1').reduce((n, r) => n + r.restarts, 0), 1, 'the worker’s restart, on its own slot');
  assert.equal(fine.filter((r) => r.replica === 'type:worker').reduce((n, r) => n + r.restarts, 0), 1);
  assert.equal(fine.filter((r) => r.replica === '1' || r.replica === 'type:web').reduce((n, r) => n + r.restarts, 0), 0);
  // The alert on one replica's memory compares web slots only, not a worker's or a type's total.
  assert.equal((await peakReplicaMemoryByApp(db, 10, t0 - 60)).get('app_1'), 110);

  // What a chart reads, through the database's bucketing, as the API does.
  const chart = async (type?: string, replica?: number) => {
    const k = keysFor(type, replica);
    return toSeries(await bucketsOf(db, 'app_1', 10, t0 - 60, t0 + 120, 10, k.select), t0 - 60, t0 + 120, 10, 10, k.total).series;
  };
  const lastOf = (v: (number | null)[]) => v.filter((x) => x !== null).at(-1);
  const worker = await chart('worker');
  assert.deepEqual(worker.map((s) => [s.type, s.replica, lastOf(s.memory_mb)]), [['worker', null, 610], ['worker', 0, 300], ['worker', 1, 310]]);
  assert.ok(worker.every((s) => s.requests_per_s.every((v) => v === null || v === 0)), 'a worker takes no traffic');
  const web = await chart('web');
  assert.deepEqual(web.map((s) => [s.type, s.replica, lastOf(s.memory_mb), lastOf(s.requests_per_s)]), [['web', null, 210, 10], ['web', 0, 100, 5], ['web', 1, 110, 5]]);
  const app = await chart();
  assert.deepEqual(app.map((s) => [s.type, s.replica, lastOf(s.memory_mb)]), [[null, null, 820], ['web', 0, 100], ['web', 1, 110]], 'the default view: as before process types');
  assert.deepEqual((await chart('worker', 1)).map((s) => [s.type, s.replica, lastOf(s.cpu_percent)]), [['worker', 1, 70]]);

  // A bucket from before the worker ran (or written before process types): web's total is the app's row.
  await upsertSamples(db, [row(t0 - 50, '', { app_id: 'app_1', memory_mb: 90 }), row(t0 - 50, '0', { app_id: 'app_1', memory_mb: 90 })]);
  const webThen = (await chart('web'))[0]!;
  assert.equal(webThen.memory_mb[1], 90, 'the app’s row stands in for web’s total where there is none');
  assert.equal(lastOf(webThen.memory_mb), 210, 'and not where there is one');

  // Rollup and pruning work on the new keys as on the old.
  world.ms += 60_000;
  await c.pass();
  const coarse = await samplesOf(db, 'app_1', 60, t0 - 60, t0 + 3600);
  for (const key of ['type:worker', 'worker/0', 'worker/1', 'type:web']) assert.ok(coarse.some((r) => r.replica === key), `a 1 min rollup of ${key}`);
  assert.equal(coarse.filter((r) => r.replica === 'worker/1').reduce((n, r) => n + r.restarts, 0), 1, 'the restart survives the rollup');
  world.ms += 3600_000;
  await c.pass();
  const left = await samplesOf(db, 'app_1', 10, t0 - 60, t0 + 70);
  assert.ok(!left.some((r) => r.replica.startsWith('worker/')), `10 s buckets of a worker are kept an hour: ${JSON.stringify(left.map((r) => [r.t - t0, r.replica]))}`);
  world.ms += 14 * 86_400_000;
  await c.pass();
  assert.equal((await samplesOf(db, 'app_1', 60, t0 - 60, t0 + 600)).length, 0, 'minutes of every key are kept 14 days');
});

test('metrics history: the keys of the replica column', () => {
  assert.deepEqual(parseKey(''), { type: null, replica: null });
  assert.deepEqual(parseKey('3'), { type: 'web', replica: 3 });
  assert.deepEqual(parseKey('type:web'), { type: 'web', replica: null });
  assert.deepEqual(parseKey('type:clock_2'), { type: 'clock_2', replica: null });
  assert.deepEqual(parseKey('clock_2/11'), { type: 'clock_2', replica: 11 });
  assert.deepEqual(keysFor('worker', 2).select.keys, ['worker/2']);
  assert.deepEqual(keysFor(undefined, 2).select.keys, ['2']);
});

test('metrics history: a pass in the same 10 s bucket writes nothing twice', async (t) => {
  const { db, c, world } = await setup(t);
  world.stats = { app: 'web', total: counters(0, 0), replicas: [] };
  await c.pass();
  world.stats = { app: 'web', total: counters(40, 0), replicas: [] };
  world.ms += 5_000;
  await c.pass();
  world.ms += 5_000;
  await c.pass();
  const rows = (await samplesOf(db, 'app_1', 10, 0, 2e10)).filter((r) => r.replica === '');
  assert.deepEqual(rows.map((r) => [r.requests, r.span_s]), [[40, 10]]);
});

const row = (t: number, replica: string, over: Partial<MetricRow> = {}): MetricRow => ({
  app_id: 'a', res: 10, t, replica, span_s: 10, requests: 10, r2xx: 9, r3xx: 0, r4xx: 0, r5xx: 1, response_ms: null, p50_ms: null, p95_ms: null, p99_ms: null, sessions: 2, cpu_percent: 10, memory_mb: 100, restarts: 0, ...over,
});

test('metrics history: a rollup adds counts, averages gauges, keeps replicas apart', () => {
  const rows = [row(0, ''), row(10, '', { response_ms: 30, cpu_percent: 30, restarts: 1 }), row(20, '', { response_ms: 10 }), row(0, '0', { memory_mb: 50 }), row(60, '')];
  const out = aggregate(rows, 60, 60);
  assert.deepEqual(
    out.map((r) => [r.t, r.replica, r.requests, r.r5xx, r.span_s, r.response_ms, r.cpu_percent, r.memory_mb, r.restarts]),
    [
      [0, '', 30, 3, 30, 20, 50 / 3, 100, 1],
      [0, '0', 10, 1, 10, null, 10, 50, 0],
      [60, '', 10, 1, 10, null, 10, 100, 0],
    ],
  );
});

test('metrics history: the rollup window redoes the last minute and never a half-pruned one', () => {
  const nowS = 7200 + 35;
  assert.deepEqual(rollupWindow(nowS, null), { from: 7200 - 3600 + 60, to: 7200 });
  assert.deepEqual(rollupWindow(nowS, 7140), { from: 7080, to: 7200 });
  assert.deepEqual(rollupWindow(nowS, 0), { from: 7200 - 3600 + 60, to: 7200 });
});

test('metrics history: percentiles by nearest rank; a rollup keeps the highest of its buckets’ percentiles', () => {
  assert.deepEqual(percentiles([]), { p50_ms: null, p95_ms: null, p99_ms: null });
  // 95 fast requests and 5 slow ones, in any order.
  const times = [...Array.from({ length: 95 }, (_, i) => 10 + (i % 7)), 300, 310, 320, 330, 340].sort(() => Math.random() - 0.5);
  assert.deepEqual(percentiles(times), { p50_ms: 13, p95_ms: 16, p99_ms: 330 });
  assert.deepEqual(percentiles([42]), { p50_ms: 42, p95_ms: 42, p99_ms: 42 });
  const out = aggregate([row(0, '', { p50_ms: 10, p95_ms: 50, p99_ms: 90 }), row(10, '', { p50_ms: 20, p95_ms: 40, p99_ms: 400 }), row(20, '')], 60, 60);
  assert.deepEqual([out[0]!.p50_ms, out[0]!.p95_ms, out[0]!.p99_ms], [20, 50, 400]);
});

test('the router’s timing lines: backend, the server address that answered, time to response headers; HAProxy’s own answers, 101s and unanswered requests are left out', () => {
  const line = (b: string, times: string, status = '200', server = '10.0.0.5:8080') =>
    `127.0.0.1:51234 [06/Dec/2026:05:20:01.123] berth ${b} ${times} ${status} 215 - - ---- 1/1/0/0/0 0/0 "GET /slow HTTP/1.1" ${server}`;
  assert.deepEqual(parseTimingLine(line('be3/s2', '0/0/1/250/251')), { backend: 'be3', upstream: '10.0.0.5:8080', ms: 250 });
  assert.deepEqual(parseTimingLine(line('be3/s1', '0/0/0/4/+5', '500', '[fd00::5]:8080')), { backend: 'be3', upstream: '[fd00::5]:8080', ms: 4 });
  // A WebSocket's %Ta is its whole life; its %Tr is the handshake. Left out all the same: not a response time.
  assert.equal(parseTimingLine(line('be3/s1', '0/0/0/3/3600000', '101')), null);
  assert.equal(parseTimingLine(line('berth/<NOSRV>', '0/-1/-1/-1/0', '404', '-:-')), null);
  assert.equal(parseTimingLine(line('be3/s1', '0/0/0/-1/-1', '502')), null);
  assert.equal(parseTimingLine('garbage'), null);
});
