import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { ensurePostgres, type Bench } from '../support/context.js';
import { row, type Row } from '../support/report.js';
import { rssMb, settledRssMb } from '../support/rss.js';
import { openStore, now } from '../../src/store/db.js';
import { createUser } from '../../src/store/users.js';
import { createProject } from '../../src/store/projects.js';
import { insertApp } from '../../src/store/apps.js';
import { COARSE_KEEP_S, COARSE_S, FINE_KEEP_S, FINE_S } from '../../src/domain/metrics.js';
import { ADMIN_PASSWORD, createDatabase, startServer } from '../../test/support/server.js';
import { hashPassword } from '../../src/lib/crypto.js';

const APPS = 100;
const REPLICAS = 2;

/**
 * A PostgreSQL database with 100 apps and, with `history`, their full metrics history (14 days of
 * 1 min rollups and the last hour at 10 s, for the app and two replicas: 6.1 million rows), made in
 * SQL so the fill takes seconds.
 */
async function prepared(history: boolean): Promise<{ url: string; drop: () => Promise<void>; rows: number }> {
  const pg = await createDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-idle-'));
  const store = await openStore({ dataDir: dir, databaseUrl: pg.url });
  try {
    // The server's own admin (it makes one only in an empty database), which the test harness signs in as.
    const user = await createUser(store.db, { username: 'admin', passwordHash: await hashPassword(ADMIN_PASSWORD), isAdmin: true });
    const projectId = await createProject(store.db, user.id, 'bench');
    for (let i = 0; i < APPS; i++) {
      const ts = now();
      await insertApp(store.db, {
        id: `app_${i}`, project_id: projectId, name: `a${i}`, slug: `a${i}`, image: 'img', replicas: REPLICAS, memory_mb: 256, cpu: 0, port: 8080, strategy: 'rolling',
        health_check: { path: '/', timeout_s: 5, grace_s: 0 }, env: {}, release_id: null, live_release_id: null, stopped: 0, restart_seq: 0, auto_deploy: 1, created_at: ts, updated_at: ts,
      });
    }
    if (history) {
      const nowS = Math.floor(Date.now() / 1000 / COARSE_S) * COARSE_S;
      // One app per statement: each stays well within the store's statement timeout.
      for (let a = 0; a < APPS; a++)
      for (const [res, from] of [[COARSE_S, nowS - COARSE_KEEP_S], [FINE_S, nowS - FINE_KEEP_S]] as const) {
        await sql`insert into metric_samples (app_id, res, t, replica, span_s, requests, r2xx, r3xx, r4xx, r5xx, response_ms, p50_ms, p95_ms, p99_ms, sessions, cpu_percent, memory_mb, restarts)
          select 'app_' || a, ${res}, t, r, ${res}, (random() * 500)::int, (random() * 480)::int, 0, (random() * 10)::int, (random() * 10)::int,
                 5 + random() * 40, 4 + random() * 30, 20 + random() * 80, 40 + random() * 200, random() * 8, random() * 30, 60 + random() * 20, 0
          from generate_series(${a}::int, ${a}::int) a, generate_series(${from}::bigint, ${nowS - res}::bigint, ${res}::bigint) t, unnest(array['', '0', '1']) r`.execute(store.db);
      }
    }
    const n = await sql<{ n: string }>`select count(*) as n from metric_samples`.execute(store.db);
    return { url: pg.url, drop: pg.drop, rows: Number(n.rows[0]!.n) };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The control plane's idle memory with 100 apps' metrics history in its database (PostgreSQL),
 * against the same 100 apps with none: both the peak in the first 30 s (the first rollup pass
 * reads the last hour of 10 s buckets) and the settled figure. History is read per request, so it
 * should not stay in memory.
 */
export async function metricsIdle(_b: Bench): Promise<Row[]> {
  await ensurePostgres();
  const out: Record<'none' | 'history', { peak: number; idle: number; rows: number }> = { none: { peak: 0, idle: 0, rows: 0 }, history: { peak: 0, idle: 0, rows: 0 } };
  for (const which of ['none', 'history'] as const) {
    const db = await prepared(which === 'history');
    const s = await startServer({ engine: 'postgres', databaseUrl: db.url });
    try {
      let peak = 0;
      const t0 = Date.now();
      while (Date.now() - t0 < 30_000) {
        peak = Math.max(peak, await rssMb(s.pid!));
        await sleep(250);
      }
      out[which] = { peak, idle: await settledRssMb(s.pid!, 5_000), rows: db.rows };
    } finally {
      await s.destroy();
      await db.drop();
    }
  }
  const note = `${APPS} apps x ${REPLICAS} replicas, PostgreSQL; ${out.history.rows.toLocaleString('en')} history rows (14 d at 1 min, 1 h at 10 s) against none; the router is a separate process`;
  return [
    row({ group: 'metrics', figure: 'control plane idle memory with 100 apps’ history', unit: 'MB', berth: out.history.idle, baseline: out.none.idle, baselineName: 'the same 100 apps, no history', better: 'lower', note }),
    row({ group: 'metrics', figure: 'control plane peak memory, first 30 s, with 100 apps’ history', unit: 'MB', berth: out.history.peak, baseline: out.none.peak, baselineName: 'the same 100 apps, no history', better: 'lower', note }),
  ];
}
