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
      /berth_app_memory_bytes\{project="[^"]+",app="hist",replica="0"\} \d+\n/,
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
