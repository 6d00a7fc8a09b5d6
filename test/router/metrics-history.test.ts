import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type BerthClient } from '../../src/client/index.js';
import type { RouteOutput } from '../../src/api/contract/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { viaRouter } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { settled } from '../support/rollout.js';
import { listSourceFiles, packTarGz } from '../../src/cli/pack.js';
import { buildArchive, removeImages, waitBuild } from '../builds/helpers.js';
import { NODE_WORKER, formed } from '../process-types/helpers.js';

type History = RouteOutput<'getAppMetrics'>['history'];
const sum = (v: (number | null)[]) => v.reduce<number>((n, x) => n + (x ?? 0), 0);
const appLine = (h: History) => h.series.find((s) => s.replica === null)!;

/**
 * The control plane samples each app every 10 s into its own store: traffic through the real router
 * to real containers shows up as a rate and as counted 5xx answers, per app and per replica; the
 * history outlives a crash of the control plane; another project's user sees none of it.
 */
describe('metrics history', () => {
  let s: TestServer;
  let dev: BerthClient;
  let other: BerthClient;
  let from: string;
  let seen: History;

  before(async () => {
    const image = await ensureTestAppImage(new DockerRuntime({}));
    s = await startServer();
    dev = await s.newUser('metered');
    other = await s.newUser('outsider');
    await dev.call('createApp', { body: { name: 'hist', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    const rel = await dev.call('deployApp', { params: { id: 'hist' }, body: { image_id: image, replicas: 2 } });
    assert.equal((await settled(dev, 'hist', rel.version)).status, 'live');
    await other.call('createApp', { body: { name: 'elsewhere' } });
    from = new Date(Date.now() - 60_000).toISOString();
  });
  after(async () => {
    await s?.destroy();
  });

  test('traffic shows up as requests per second and a count of 5xx answers, per app and per replica', async (t) => {
    for (let i = 0; i < 300; i++) assert.equal((await viaRouter(s.routerPort, 'hist.localhost', '/')).status, 200);
    // The test app cannot read a directory as a file: a 500 of its own.
    for (let i = 0; i < 30; i++) assert.equal((await viaRouter(s.routerPort, 'hist.localhost', '/file?path=/')).status, 500);
    seen = await waitFor(
      'the history to count every request',
      async () => {
        const h = (await dev.call('getAppMetrics', { params: { id: 'hist' }, query: { from } })).history;
        const a = appLine(h);
        return sum(a.responses['2xx']) >= 300 && sum(a.responses['5xx']) >= 30 ? h : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 2000 },
    );
    const a = appLine(seen);
    assert.equal(seen.step, 10);
    assert.equal(seen.resolution, 10);
    assert.equal(sum(a.responses['2xx']), 300, 'each 200 counted once');
    assert.equal(sum(a.responses['5xx']), 30, 'each 500 counted once');
    // A rate, not a counter: each bucket's rate times the time it covers is the requests counted in it.
    // A bucket covers the time since the pass before: about 10 s, less when that pass ran late on a
    // loaded machine (3.4 s seen in a CI run), more when one was skipped.
    const busy = seen.t.map((_, i) => i).filter((i) => (a.responses['2xx'][i] ?? 0) + (a.responses['5xx'][i] ?? 0) > 0);
    assert.ok(busy.length > 0);
    for (const i of busy) {
      const counted = (a.responses['2xx'][i] ?? 0) + (a.responses['5xx'][i] ?? 0);
      const seconds = counted / a.requests_per_s[i]!;
      assert.ok(seconds > 1 && seconds <= 60, `bucket ${seen.t[i]}: ${counted} requests at ${a.requests_per_s[i]}/s`);
    }
    assert.ok(Math.max(...a.responses_per_s['5xx'].map((v) => v ?? 0)) > 0, '5xx per second shows');
    // Two replicas behind round-robin: both served, and their counts add up to the app's.
    const replicas = seen.series.filter((x) => x.replica !== null);
    assert.deepEqual(replicas.map((x) => x.replica).sort(), [0, 1]);
    assert.equal(sum(replicas.flatMap((x) => x.responses['2xx'])), 300);
    assert.ok(replicas.every((x) => sum(x.responses['2xx']) > 0), 'each replica served some');
    assert.ok(replicas.every((x) => x.memory_mb.some((m) => m !== null && m > 1)), 'memory per replica from the engine');
    assert.ok(a.response_ms_avg.some((v) => v !== null), "HAProxy's average response time");
    assert.deepEqual(seen.deploys.map((d) => d.version), [1], 'the deploy, for a marker on the charts');
    t.diagnostic(`${busy.length} busy buckets; peak ${Math.max(...a.requests_per_s.map((v) => v ?? 0))} req/s`);

    // The same figures for a scraper, with the user's token, in Prometheus' text format.
    // The newest sample: its memory figures need the engine's stats call of that pass to have answered.
    const want = [
      /# TYPE berth_app_requests_per_second gauge/,
      /berth_app_responses_per_second\{project="[^"]+",app="hist",replica="",class="5xx"\} [0-9.e-]+\n/,
      /berth_app_memory_bytes\{project="[^"]+",app="hist",process_type="web",replica="0"\} \d+\n/,
    ];
    let text = '';
    await waitFor('the Prometheus text to hold the app', async () => {
      text = await dev.call('getPrometheusMetrics');
      return want.every((re) => re.test(text));
    }, { timeoutMs: 40_000, intervalMs: 1000 }).catch(() => {});
    for (const re of want) assert.match(text, re);
  });

  test('response-time percentiles: a few slow requests among fast ones raise p99, not p50', async (t) => {
    const since = new Date().toISOString();
    // 95 fast requests and 5 that the app answers after 400 ms, interleaved.
    for (let i = 0; i < 100; i++) {
      const slow = i % 20 === 19;
      assert.equal((await viaRouter(s.routerPort, 'hist.localhost', slow ? '/slow?ms=400' : '/')).status, 200);
    }
    const h = await waitFor(
      'a bucket whose p99 holds a slow request',
      async () => {
        const got = (await dev.call('getAppMetrics', { params: { id: 'hist' }, query: { from: since } })).history;
        return appLine(got).response_ms_p99.some((v) => v !== null && v >= 400) ? got : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 2000 },
    );
    const a = appLine(h);
    const p50s = a.response_ms_p50.filter((v): v is number => v !== null);
    assert.ok(p50s.length > 0 && Math.min(...p50s) < 200, `p50 stays low: ${p50s.join(', ')}`);
    // Per replica too: round-robin sent slow requests to both.
    const replicas = h.series.filter((x) => x.replica !== null);
    assert.ok(replicas.some((x) => x.response_ms_p99.some((v) => v !== null && v >= 400)), 'a replica’s own p99 shows its slow requests');
    t.diagnostic(`p50 ${a.response_ms_p50.join(',')} | p95 ${a.response_ms_p95.join(',')} | p99 ${a.response_ms_p99.join(',')}`);
    await waitFor('the percentiles in the Prometheus text', async () => /berth_app_response_time_seconds\{project="[^"]+",app="hist",replica="",quantile="0.99"\} [0-9.e-]+\n/.test(await dev.call('getPrometheusMetrics')), {
      timeoutMs: 30_000,
      intervalMs: 1000,
    });
  });

  test("a user of another project gets 404 for the app's metrics and none of them in Prometheus' text", async () => {
    await assert.rejects(other.call('getAppMetrics', { params: { id: 'hist' } }), (e) => e instanceof ApiError && e.status === 404);
    const text = await other.call('getPrometheusMetrics');
    assert.doesNotMatch(text, /app="hist"/);
    await waitFor('the other app to be sampled', async () => /app="elsewhere"/.test(await other.call('getPrometheusMetrics')), { timeoutMs: 30_000, intervalMs: 1000 });
  });

  test('bad ranges are refused with the field named', async () => {
    for (const [query, field] of [
      [{ from: 'yesterday' }, 'from'],
      [{ from: new Date().toISOString(), to: new Date(Date.now() - 1000).toISOString() }, 'from'],
      [{ step: 15 }, 'step'],
      [{ from: new Date(Date.now() - 14 * 86_400_000).toISOString(), step: 60 }, 'step'],
    ] as const) {
      await assert.rejects(dev.call('getAppMetrics', { params: { id: 'hist' }, query }), (e) => e instanceof ApiError && e.status === 400 && JSON.stringify(e).includes(field), JSON.stringify(query));
    }
  });

  test('the history survives a crash of the control plane, and sampling resumes', async () => {
    assert.ok(seen, 'the traffic test ran first');
    const to = new Date(seen.t.at(-1)! * 1000 + 10_000).toISOString();
    await s.kill();
    await s.start();
    const again = (await dev.call('getAppMetrics', { params: { id: 'hist' }, query: { from, to } })).history;
    assert.equal(sum(appLine(again).responses['2xx']), 300);
    assert.equal(sum(appLine(again).responses['5xx']), 30);
    const restartedAt = Date.now() / 1000;
    await waitFor(
      'a sample taken after the restart',
      async () => {
        const h = (await dev.call('getAppMetrics', { params: { id: 'hist' }, query: { from } })).history;
        return h.t.some((t, i) => t >= restartedAt - 10 && appLine(h).memory_mb[i] !== null);
      },
      // The first pass after a start only takes readings; the next writes, 10 s on.
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
  });
});

/**
 * An app with a worker process type (a built Procfile: web and worker), on PostgreSQL (the store's
 * queries on SQLite are in test/domain/metrics-history.test.ts): the worker's CPU and memory have
 * series of their own, for its type and each of its replicas, and none of it lands in web's slots.
 */
describe('metrics history per process type', () => {
  let s: TestServer;
  let dev: BerthClient;
  let from: string;
  const memoryOf = (h: History, type: string | null, replica: number | null) => h.series.find((x) => x.type === type && x.replica === replica)?.memory_mb;

  before(async () => {
    s = await startServer({ engine: 'postgres' });
    dev = await s.newUser('typed');
    await dev.call('createProject', { body: { name: 'typed' } });
    await dev.call('createApp', { body: { name: 'jobs', project: 'typed', health_check: { path: '/workers', timeout_s: 60, grace_s: 0 } } });
    await dev.call('setEnv', { params: { id: 'jobs' }, body: { set: { BEAT_HOST: 'jobs' } } });
    from = new Date(Date.now() - 60_000).toISOString();
    const built = await waitBuild(dev, (await buildArchive(dev, 'jobs', await packTarGz(NODE_WORKER, await listSourceFiles(NODE_WORKER)))).id);
    assert.equal(built.status, 'succeeded', built.message ?? '');
    assert.equal((await settled(dev, 'jobs', 1, 120_000)).status, 'live');
    await dev.call('updateFormation', { params: { id: 'jobs' }, body: { worker: 2 } });
    await formed(dev, 'jobs', 1, 2, 1);
  });
  after(async () => {
    await s?.destroy();
    await removeImages(['jobs']);
  });

  test("the worker's CPU and memory: a series for its type and one per replica, not in web's slots", async (t) => {
    const metrics = (query: { type?: string; replica?: number }) => dev.call('getAppMetrics', { params: { id: 'jobs' }, query: { from, ...query } }).then((m) => m.history);
    const worker = await waitFor(
      'memory of the worker type and of both its replicas',
      async () => {
        const h = await metrics({ type: 'worker' });
        return [null, 0, 1].every((r) => memoryOf(h, 'worker', r)?.some((m) => m !== null && m > 1)) ? h : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 2000 },
    );
    assert.equal(worker.type, 'worker');
    assert.deepEqual(worker.process_types, ['web', 'worker']);
    assert.deepEqual(worker.series.map((x) => [x.type, x.replica]), [['worker', null], ['worker', 0], ['worker', 1]]);
    assert.ok(worker.series.some((x) => x.cpu_percent.some((v) => v !== null)), 'CPU per worker from the engine');
    // The same buckets seen whole, as web, and as the worker: web's slots hold web's replica alone.
    const [app, web, again] = await Promise.all([metrics({}), metrics({ type: 'web' }), metrics({ type: 'worker' })]);
    assert.deepEqual(app.series.map((x) => [x.type, x.replica]), [[null, null], ['web', 0]], 'the default view: the app and web’s one replica');
    assert.deepEqual(web.series.map((x) => [x.type, x.replica]), [['web', null], ['web', 0]]);
    const all = memoryOf(app, null, null)!;
    const webTotal = memoryOf(web, 'web', null)!;
    const webSlot = memoryOf(web, 'web', 0)!;
    const workers = memoryOf(again, 'worker', null)!;
    const both = app.t.map((_, i) => i).filter((i) => [all, webTotal, webSlot, workers].every((v) => v[i] !== null));
    assert.ok(both.length > 0, 'buckets with every figure');
    for (const i of both) {
      assert.ok(Math.abs(webSlot[i]! - webTotal[i]!) <= 0.2, `web slot 0 is web alone: ${webSlot[i]} vs ${webTotal[i]}`);
      assert.ok(Math.abs(all[i]! - webTotal[i]! - workers[i]!) <= 0.3, `the app is web plus the workers: ${all[i]} = ${webTotal[i]} + ${workers[i]}`);
      assert.ok(workers[i]! > 1 && all[i]! > webSlot[i]! + 1, 'the workers’ memory is not in web’s slot');
    }
    const one = await metrics({ type: 'worker', replica: 1 });
    assert.deepEqual(one.series.map((x) => [x.type, x.replica]), [['worker', 1]]);
    t.diagnostic(`app ${all[both.at(-1)!]} MB = web ${webTotal[both.at(-1)!]} + workers ${workers[both.at(-1)!]}`);

    const want = [
      /berth_app_memory_bytes\{project="typed",app="jobs",process_type="worker",replica=""\} \d+\n/,
      /berth_app_memory_bytes\{project="typed",app="jobs",process_type="worker",replica="1"\} \d+\n/,
      /berth_app_memory_bytes\{project="typed",app="jobs",process_type="web",replica="0"\} \d+\n/,
      /berth_app_memory_bytes\{project="typed",app="jobs",replica=""\} \d+\n/,
    ];
    let text = '';
    await waitFor('the Prometheus text to hold the worker', async () => {
      text = await dev.call('getPrometheusMetrics');
      return want.every((re) => re.test(text));
    }, { timeoutMs: 40_000, intervalMs: 1000 }).catch(() => {});
    for (const re of want) assert.match(text, re);
  });

  test('an unknown or malformed process type is refused with the field named; another project’s user learns no type', async () => {
    const outsider = await s.newUser('prober');
    for (const type of ['worker', 'clock']) {
      await assert.rejects(outsider.call('getAppMetrics', { params: { id: 'jobs' }, query: { type } }), (e) => e instanceof ApiError && e.status === 404, type);
    }
    for (const query of [{ type: 'clock' }, { type: 'no such' }, { type: 'x'.repeat(31) }, { type: 'clock', replica: 0 }, { replica: -1 }]) {
      const field = 'type' in query ? 'type' : 'replica';
      await assert.rejects(dev.call('getAppMetrics', { params: { id: 'jobs' }, query }), (e) => e instanceof ApiError && e.status === 400 && JSON.stringify(e).includes(field), JSON.stringify(query));
    }
  });
});
