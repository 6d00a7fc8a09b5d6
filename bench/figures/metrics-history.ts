import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePostgres, type Bench } from '../support/context.js';
import { row, type Row } from '../support/report.js';
import { medianMs, tablesBytes } from '../support/store-size.js';
import { openStore, now, type Db } from '../../src/store/db.js';
import { createUser } from '../../src/store/users.js';
import { createProject } from '../../src/store/projects.js';
import { insertApp } from '../../src/store/apps.js';
import { bucketsOf, upsertSamples, type MetricRow } from '../../src/store/metrics.js';
import { APP_KEY, COARSE_S, FINE_KEEP_S, FINE_S, COARSE_KEEP_S, keysFor, slotKey, toSeries, typeKey } from '../../src/domain/metrics.js';
import { createDatabase } from '../../test/support/server.js';

const REPLICAS = 2;
const RUNS = 15;

/**
 * The rows of one bucket of an app, as the sampler writes them (keys: domain/metrics.ts): web alone
 * (the app and each web slot), or web and a worker type of as many replicas (the app, each type's
 * total, each slot of each type).
 */
const PROFILES = {
  web: { apps: 20, keys: [APP_KEY, ...Array.from({ length: REPLICAS }, (_, i) => slotKey('web', i))] },
  'web+worker': {
    apps: 6,
    keys: [APP_KEY, typeKey('web'), typeKey('worker'), ...['web', 'worker'].flatMap((type) => Array.from({ length: REPLICAS }, (_, i) => slotKey(type, i)))],
  },
} as const;

/** A bucket with figures that vary like real ones (so no engine compresses them away). */
function bucket(app: string, res: number, t: number, replica: string): MetricRow {
  const r = Math.random();
  const requests = Math.round(r * 50 * res);
  return {
    app_id: app, res, t, replica, span_s: res, requests, r2xx: requests - Math.round(requests * 0.02), r3xx: 0, r4xx: Math.round(requests * 0.01), r5xx: Math.round(requests * 0.01),
    response_ms: 5 + r * 40, p50_ms: 4 + r * 30, p95_ms: 20 + r * 80, p99_ms: 40 + r * 200, sessions: r * 8, cpu_percent: r * 30, memory_mb: 60 + r * 20, restarts: r > 0.999 ? 1 : 0,
  };
}

async function fill(db: Db, apps: string[], res: number, from: number, to: number, keys: readonly string[]): Promise<void> {
  for (const app of apps) {
    const rows: MetricRow[] = [];
    for (let t = from; t < to; t += res) for (const replica of keys) rows.push(bucket(app, res, t, replica));
    await upsertSamples(db, rows);
  }
}

async function withStore<T>(engine: 'sqlite' | 'postgres', fn: (db: Db, apps: (n: number) => Promise<string[]>) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-metrics-'));
  const pg = engine === 'postgres' ? (await ensurePostgres(), await createDatabase()) : null;
  const store = await openStore({ dataDir: dir, databaseUrl: pg?.url ?? null });
  try {
    const user = await createUser(store.db, { username: 'bench', passwordHash: 'x', isAdmin: false });
    const projectId = await createProject(store.db, user.id, 'bench');
    let made = 0;
    const apps = async (n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++, made++) {
        const ts = now();
        await insertApp(store.db, {
          id: `app_${made}`, project_id: projectId, name: `a${made}`, slug: `a${made}`, image: 'img', replicas: REPLICAS, memory_mb: 256, cpu: 0, port: 8080, strategy: 'rolling',
          health_check: { path: '/', timeout_s: 5, grace_s: 0 }, env: {}, release_id: null, live_release_id: null, stopped: 0, restart_seq: 0, auto_deploy: 1, created_at: ts, updated_at: ts,
        });
        ids.push(`app_${made}`);
      }
      return ids;
    };
    return await fn(store.db, apps);
  } finally {
    await store.close();
    await pg?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Metrics history in Berth's own database: the table's size per app per day once 14 days of 1 min
 * rollups and an hour of 10 s buckets are kept, for an app of two web replicas (three rows a
 * bucket) and one of two web and two worker replicas (seven rows), against the same app's day kept
 * at 10 s; and the time to read and shape a 14-day chart (336 hourly points) against a 1-hour one
 * (360 points of 10 s), on SQLite and PostgreSQL. The web+worker app's charts are its worker type's
 * (`?type=worker`) and its web type's (`?type=web`, whose total stands in for the app's row where
 * web ran alone).
 */
export async function metricsHistory(_b: Bench): Promise<Row[]> {
  const rows: Row[] = [];
  for (const engine of (process.env.BENCH_ENGINES?.split(',') ?? ['sqlite', 'postgres']) as ('sqlite' | 'postgres')[]) {
    for (const [profile, { apps: APPS, keys }] of Object.entries(PROFILES)) {
      const nowS = Math.floor(Date.now() / 1000 / COARSE_S) * COARSE_S;
      const chart = async (db: Db, app: string, res: number, from: number, step: number, type?: string) => {
        const k = keysFor(type, undefined);
        return toSeries(await bucketsOf(db, app, res, from, nowS, step, k.select), from, nowS, step, res, k.total);
      };
      const kept = await withStore(engine, async (db, apps) => {
        const ids = await apps(APPS);
        const before = await tablesBytes(db, engine, ['metric_samples']);
        await fill(db, ids, COARSE_S, nowS - COARSE_KEEP_S, nowS, keys);
        await fill(db, ids, FINE_S, nowS - FINE_KEEP_S, nowS, keys);
        const bytes = (await tablesBytes(db, engine, ['metric_samples'])) - before;
        const types = profile === 'web' ? [undefined] : ['worker', 'web'];
        const times = [];
        for (const type of types) {
          const long = await medianMs(RUNS, () => chart(db, ids[0], COARSE_S, nowS - COARSE_KEEP_S, 3600, type));
          const hour = await medianMs(RUNS, () => chart(db, ids[0], FINE_S, nowS - FINE_KEEP_S, FINE_S, type));
          times.push({ type, long, hour });
        }
        return { perAppDay: bytes / APPS / 14, perApp: bytes / APPS, times };
      });
      // The day of one app kept at 10 s, for comparison: what 14 days would cost without rollups.
      const fine = await withStore(engine, async (db, apps) => {
        const ids = await apps(2);
        const before = await tablesBytes(db, engine, ['metric_samples']);
        await fill(db, ids, FINE_S, nowS - 86_400, nowS, keys);
        return ((await tablesBytes(db, engine, ['metric_samples'])) - before) / ids.length;
      });
      rows.push(
        row({
          group: 'metrics',
          figure: `metrics history (${engine}, ${profile}): storage per app per day`,
          unit: 'KB',
          berth: kept.perAppDay / 1024,
          baseline: fine / 1024,
          baselineName: 'the same day kept at 10 s',
          better: 'lower',
          note: `${(kept.perApp / 2 ** 20).toFixed(1)} MB per app at 14 days (1 min rollups + the last hour at 10 s; ${keys.length} rows a bucket)`,
        }),
        ...kept.times.map((x) =>
          row({
            group: 'metrics',
            figure: `metrics history (${engine}, ${profile}${x.type ? `, type=${x.type}` : ''}): 14-day chart (336 points)`,
            unit: 'ms',
            berth: x.long,
            baseline: x.hour,
            baselineName: '1-hour chart (360 points of 10 s)',
            better: 'lower',
            note: `median of ${RUNS}; read and shaped as GET /apps/{id}/metrics does, ${APPS} apps' history in the table`,
          }),
        ),
      );
    }
  }
  return rows;
}
