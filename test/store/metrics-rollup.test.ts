import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineStore } from '../support/store.js';
import { now } from '../../src/store/db.js';
import { insertApp } from '../../src/store/apps.js';
import { rollUpSamples, samplesOf, upsertSamples, type MetricRow } from '../../src/store/metrics.js';
import { aggregate } from '../../src/domain/metrics.js';

const row = (t: number, replica: string, over: Partial<MetricRow> = {}): MetricRow => ({
  app_id: 'a', res: 10, t, replica, span_s: 10, requests: 10, r2xx: 9, r3xx: 0, r4xx: 0, r5xx: 1, response_ms: null, p50_ms: null, p95_ms: null, p99_ms: null, sessions: 2, cpu_percent: 10, memory_mb: 100, restarts: 0, ...over,
});

/** The same 10 s buckets rolled up by the database, on SQLite and on PostgreSQL, as the domain's rule says. */
for (const engine of ['sqlite', 'postgres'] as const) {
  test(`metrics history: the database's rollup (${engine}) adds counts, averages gauges, keeps the highest percentile, as aggregate() does`, async (t) => {
    const { db, projectId } = await engineStore(t, engine, 'berth-rollup-');
    const ts = now();
    await insertApp(db, {
      id: 'a', project_id: projectId, name: 'a', slug: 'a', image: 'img', replicas: 1, memory_mb: 64, cpu: 0, port: 8080, strategy: 'rolling',
      health_check: { path: '/', timeout_s: 5, grace_s: 0 }, env: {}, release_id: null, live_release_id: null, stopped: 0, restart_seq: 0, auto_deploy: 1, created_at: ts, updated_at: ts,
    });
    const fine = [
      row(600, ''), row(610, '', { response_ms: 30, cpu_percent: 30, restarts: 1, p95_ms: 80, p99_ms: 90 }), row(620, '', { response_ms: 10, p95_ms: 40, p99_ms: 400 }),
      row(600, '0', { memory_mb: 50, sessions: null }), row(660, ''), row(720, ''),
    ];
    await upsertSamples(db, fine);
    await rollUpSamples(db, 10, 60, 600, 720);
    // PostgreSQL's real is a 4-byte float: six significant digits.
    const norm = (rows: MetricRow[]) => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 1e4) / 1e4 : v])));
    const got = (await samplesOf(db, 'a', 60, 0, 1e9)).sort((x, y) => x.t - y.t || x.replica.localeCompare(y.replica));
    assert.deepEqual(norm(got), norm(aggregate(fine.filter((r) => r.t < 720), 60, 60)), 'the minute at 720 is outside [600, 720): not rolled up');
  });
}

