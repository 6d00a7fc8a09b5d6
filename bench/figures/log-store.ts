import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePostgres, type Bench } from '../support/context.js';
import { row, type Row } from '../support/report.js';
import { medianMs, tablesBytes } from '../support/store-size.js';
import { openStore, now } from '../../src/store/db.js';
import { createUser } from '../../src/store/users.js';
import { createProject } from '../../src/store/projects.js';
import { insertApp } from '../../src/store/apps.js';
import { PRUNE_BATCH, insertLogLines, pruneOlderThan, queryLogLines, type StoredLine } from '../../src/store/logs.js';
import { LogUsage, pruneLogs } from '../../src/controllers/logs/retention.js';
import { timeKey } from '../../src/domain/drains.js';
import { createDatabase } from '../../test/support/server.js';

const LINES = Number(process.env.BENCH_LOG_LINES ?? 1_000_000);
/** The collector's batch at full speed (controllers/logs: a write at 2000 buffered lines). */
const BATCH = 2000;
const RUNS = 5;
const PATHS = ['/api/orders', '/api/users', '/health', '/static/app.js', '/api/cart', '/login'];

/** Access-log-like lines of 60-110 bytes, varied so no engine compresses them away; one in 10^5 carries the needle. */
function makeLines(appId: string, start: number): StoredLine[] {
  const out: StoredLine[] = new Array(LINES);
  for (let i = 0; i < LINES; i++) {
    const r = Math.random();
    const text =
      i % 100_000 === 77
        ? `ERROR payment gateway timeout order=${i} NeedleToken`
        : `${r < 0.9 ? 'GET' : 'POST'} ${PATHS[i % PATHS.length]}/${Math.floor(r * 1e6)} ${r < 0.98 ? 200 : 500} ${Math.floor(r * 90)}ms ua=Mozilla/5.0 req=${(r * 1e12).toString(36)}`;
    out[i] = {
      app_id: appId, time: timeKey(new Date(start + i).toISOString()), stream: r < 0.95 ? 'stdout' : 'stderr', process_type: i % 4 === 3 ? 'worker' : 'web',
      replica: (i % 3) + 1, release: 7, container: `shop-web-${(i % 3) + 1}-a1b2c3`, line: text, bytes: Buffer.byteLength(text),
    };
  }
  return out;
}

/**
 * The log store (docs/logs.md), on SQLite and PostgreSQL: lines per second written in the
 * collector's batches, against appending the same lines to a file as Docker's json-file log driver
 * does; bytes kept per million lines, against that file's size; and the time of a search
 * (`grep`, case-insensitive, newest 200 matches) over one app's million lines, against a scan of the
 * same lines in memory.
 */
export async function logStore(_b: Bench): Promise<Row[]> {
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-logs-'));
  try {
    const start = Date.now() - LINES;
    const lines = makeLines('app_1', start);

    // The baseline: the same lines as json-file NDJSON, appended in the same batches.
    const file = join(dir, 'container-json.log');
    const fh = await open(file, 'a');
    const t0 = performance.now();
    for (let i = 0; i < lines.length; i += BATCH) {
      await fh.write(lines.slice(i, i + BATCH).map((l) => `${JSON.stringify({ log: `${l.line}\n`, stream: l.stream, time: l.time })}\n`).join(''));
    }
    await fh.sync();
    const fileRate = LINES / ((performance.now() - t0) / 1000);
    await fh.close();
    const fileBytes = statSync(file).size;
    const needle = 'needletoken';
    const scanMs = await medianMs(RUNS, () => lines.filter((l) => l.line.toLowerCase().includes(needle)).slice(-200));

    for (const engine of (process.env.BENCH_ENGINES?.split(',') ?? ['sqlite', 'postgres']) as ('sqlite' | 'postgres')[]) {
      const pg = engine === 'postgres' ? (await ensurePostgres(), await createDatabase()) : null;
      const store = await openStore({ dataDir: join(dir, engine), databaseUrl: pg?.url ?? null });
      try {
        const { db } = store;
        const user = await createUser(db, { username: 'bench', passwordHash: 'x', isAdmin: false });
        const projectId = await createProject(db, user.id, 'bench');
        const ts = now();
        await insertApp(db, {
          id: 'app_1', project_id: projectId, name: 'shop', slug: 'shop', image: 'img', replicas: 3, memory_mb: 256, cpu: 0, port: 8080, strategy: 'rolling',
          health_check: { path: '/', timeout_s: 5, grace_s: 0 }, env: {}, release_id: null, live_release_id: null, stopped: 0, restart_seq: 0, auto_deploy: 1, created_at: ts, updated_at: ts,
        });
        const empty = await tablesBytes(db, engine, ['log_lines', 'log_cursors']);
        const t1 = performance.now();
        for (let i = 0; i < lines.length; i += BATCH) {
          const batch = lines.slice(i, i + BATCH);
          await insertLogLines(db, batch, [{ docker_id: 'dock_1', app_id: 'app_1', last: batch[batch.length - 1].time }]);
        }
        const rate = LINES / ((performance.now() - t1) / 1000);
        const bytes = (await tablesBytes(db, engine, ['log_lines', 'log_cursors'])) - empty;
        let found = 0;
        const grepMs = await medianMs(RUNS, async () => (found = (await queryLogLines(db, 'app_1', { grep: 'NeedleToken', limit: 200 })).length));
        const recentMs = await medianMs(RUNS, () => queryLogLines(db, 'app_1', { limit: 200 }));
        // Retention with nothing to prune (the steady state, every minute): the whole table summed
        // per pass (before), against the collector's usage book (summed once, then per app only past its limit).
        const keepAll = { retentionDays: 3650, retentionBytes: 1e12 };
        const scanPassMs = await medianMs(RUNS, () => pruneLogs(db, keepAll, Date.now()));
        const book = new LogUsage();
        await pruneLogs(db, keepAll, Date.now(), book);
        const bookPassMs = await medianMs(RUNS, () => pruneLogs(db, keepAll, Date.now(), book));
        // Deleting a tenth of the lines by age: one statement (before) against batches of PRUNE_BATCH.
        const cut = (f: number) => lines[Math.floor(LINES * f)].time;
        const t2 = performance.now();
        const oneGone = Number((await db.deleteFrom('log_lines').where('time', '<', cut(0.1)).executeTakeFirst()).numDeletedRows);
        const oneMs = performance.now() - t2;
        const t3 = performance.now();
        const batchedGone = await pruneOlderThan(db, cut(0.2));
        const batchedMs = performance.now() - t3;
        const statements = Math.ceil((batchedGone + 1) / PRUNE_BATCH);
        rows.push(
          row({
            group: 'logs', figure: `log store (${engine}): ingest`, unit: 'lines/s', berth: rate, baseline: fileRate,
            baselineName: 'the same lines appended to a json-file log (as Docker keeps them)', better: 'higher',
            note: `${LINES} lines in batches of ${BATCH}, one transaction each, with the container's cursor`,
          }),
          row({
            group: 'logs', figure: `log store (${engine}): bytes per million lines`, unit: 'MB', berth: bytes / (LINES / 1e6) / 2 ** 20, baseline: fileBytes / (LINES / 1e6) / 2 ** 20,
            baselineName: 'the json-file log of the same lines', better: 'lower',
            note: `lines of 60-110 bytes; table and its (app, time, id) index`,
          }),
          row({
            group: 'logs', figure: `log store (${engine}): grep over ${LINES / 1e6}M lines`, unit: 'ms', berth: grepMs, baseline: scanMs,
            baselineName: 'the same search as a scan of the lines in memory', better: 'lower',
            note: `median of ${RUNS}; ${found} matches; the newest 200 lines without a search take ${recentMs.toFixed(1)} ms`,
          }),
          row({
            group: 'logs', figure: `log store (${engine}): retention pass, nothing to prune, ${LINES / 1e6}M lines`, unit: 'ms', berth: bookPassMs, baseline: scanPassMs,
            baselineName: 'the same pass summing the whole table (before)', better: 'lower',
            note: `median of ${RUNS}; the usage book is summed once per leader term`,
          }),
          row({
            group: 'logs', figure: `log store (${engine}): longest retention statement, deleting ${batchedGone} lines`, unit: 'ms', berth: batchedMs / statements, baseline: oneMs,
            baselineName: `one DELETE of ${oneGone} lines (before)`, better: 'lower',
            note: `batched: ${statements} statements of at most ${PRUNE_BATCH} rows, ${batchedMs.toFixed(0)} ms in all (the figure is their mean)`,
          }),
        );
      } finally {
        await store.close();
        await pg?.drop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
