import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ensurePostgres, type Bench } from '../support/context.js';
import { row, type Row } from '../support/report.js';
import { openStore, now, type Db } from '../../src/store/db.js';
import { createUser } from '../../src/store/users.js';
import { createProject } from '../../src/store/projects.js';
import { insertApp } from '../../src/store/apps.js';
import { upsertSamples, type MetricRow } from '../../src/store/metrics.js';
import { FINE_KEEP_S, FINE_S } from '../../src/domain/metrics.js';
import { Events } from '../../src/domain/events.js';
import { AlertController } from '../../src/controllers/alerts.js';
import { createDatabase } from '../../test/support/server.js';

const APPS = 100;
const RUNS = 15;

function bucket(app: string, t: number, replica: string): MetricRow {
  const r = Math.random();
  const requests = Math.round(r * 500);
  return {
    app_id: app, res: FINE_S, t, replica, span_s: FINE_S, requests, r2xx: requests - Math.round(requests * 0.02), r3xx: 0, r4xx: 0, r5xx: Math.round(requests * 0.02),
    response_ms: 5 + r * 40, p50_ms: 4 + r * 30, p95_ms: 20 + r * 80, p99_ms: 40 + r * 200, sessions: r * 8, cpu_percent: r * 30, memory_mb: 60 + r * 20, restarts: 0,
  };
}
const bucketRows = (ids: string[], t: number) => ids.flatMap((id) => ['', '0', '1'].map((replica) => bucket(id, t, replica)));

/**
 * One alert evaluation pass over 100 apps (2 replicas each, an hour of 10 s samples in the table,
 * every app's rules in steady state), against the metrics controller's write of one 10 s bucket of
 * the same apps: what the evaluator adds to the leader's database work every 10 s.
 */
export async function alerts(_b: Bench): Promise<Row[]> {
  const rows: Row[] = [];
  for (const engine of (process.env.BENCH_ENGINES?.split(',') ?? ['sqlite', 'postgres']) as ('sqlite' | 'postgres')[]) {
    const dir = mkdtempSync(join(tmpdir(), 'berth-bench-alerts-'));
    const pg = engine === 'postgres' ? (await ensurePostgres(), await createDatabase()) : null;
    const store = await openStore({ dataDir: dir, databaseUrl: pg?.url ?? null });
    try {
      const db: Db = store.db;
      const user = await createUser(db, { username: 'bench', passwordHash: 'x', isAdmin: false });
      const projectId = await createProject(db, user.id, 'bench');
      const ids: string[] = [];
      for (let i = 0; i < APPS; i++) {
        const ts = now();
        await insertApp(db, {
          id: `app_${i}`, project_id: projectId, name: `a${i}`, slug: `a${i}`, image: 'img', replicas: 2, memory_mb: 256, cpu: 0, port: 8080, strategy: 'rolling',
          health_check: { path: '/', timeout_s: 5, grace_s: 0 }, env: {}, release_id: null, live_release_id: null, stopped: 0, restart_seq: 0, auto_deploy: 1, created_at: ts, updated_at: ts,
        });
        ids.push(`app_${i}`);
      }
      let t = Math.floor(Date.now() / 1000 / FINE_S) * FINE_S;
      for (let x = t - FINE_KEEP_S; x < t; x += FINE_S) await upsertSamples(db, bucketRows(ids, x));
      const clock = { now: () => t * 1000, sleep: async () => {} };
      const evaluator = new AlertController({ db, log: pino({ level: 'silent' }), clock, events: new Events(db), routerDomain: 'bench', routerHttpPort: 80, fence: null, timeScale: 1, volumeUsage: async () => null });
      await evaluator.pass(); // the states' first rows
      const passes: number[] = [];
      const writes: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        t += FINE_S;
        const fresh = bucketRows(ids, t);
        const w0 = performance.now();
        await upsertSamples(db, fresh);
        writes.push(performance.now() - w0);
        const p0 = performance.now();
        await evaluator.pass();
        passes.push(performance.now() - p0);
      }
      const median = (v: number[]) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)];
      rows.push(
        row({
          group: 'metrics',
          figure: `alerts (${engine}): one evaluation pass, ${APPS} apps`,
          unit: 'ms',
          berth: median(passes),
          baseline: median(writes),
          baselineName: 'writing one 10 s sample of the same apps',
          better: 'lower',
          note: `median of ${RUNS}; 7 rules per app, an hour of 10 s samples in the table; runs every 10 s on the leader`,
        }),
      );
    } finally {
      await store.close();
      await pg?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}
