import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { sql } from 'kysely';
import { createDatabase } from '../support/server.js';
import { openStore } from '../../src/store/db.js';
import type { Db, Store } from '../../src/store/db.js';
import { createUser } from '../../src/store/users.js';
import { createProject } from '../../src/store/projects.js';
import { deleteApp, insertApp } from '../../src/store/apps.js';
import { insertLogLines, queryLogLines, type StoredLine } from '../../src/store/logs.js';
import { LogUsage, pruneLogs } from '../../src/controllers/logs/retention.js';
import { LogCollector } from '../../src/controllers/logs/index.js';
import { timeKey } from '../../src/domain/drains.js';
import { parseLogTime } from '../../src/domain/logs.js';
import type { ControllerDeps } from '../../src/controllers/deps.js';
import type { LogLine, LogOptions } from '../../src/runtime/types.js';

const NOW = Date.parse('2026-06-10T12:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (ms: number) => timeKey(new Date(ms).toISOString());

async function seed(db: Db) {
  const user = await createUser(db, { username: 'ann', passwordHash: 'x', isAdmin: false });
  const projectId = await createProject(db, user.id, 'shop');
  const ts = new Date(NOW).toISOString();
  for (const id of ['app_1', 'app_2']) {
    await insertApp(db, {
      id, project_id: projectId, name: id, slug: id.replace('_', '-'), image: 'img', replicas: 1, memory_mb: 64, cpu: 0, port: 8080, strategy: 'rolling',
      health_check: { path: '/', timeout_s: 5, grace_s: 0 }, env: {}, release_id: null, live_release_id: null, stopped: 0, restart_seq: 0, auto_deploy: 1, created_at: ts, updated_at: ts,
    });
  }
}

/** A seeded store of its own on `engine`, closed and removed when the test ends. */
async function seededStore(t: TestContext, engine: 'sqlite' | 'postgres'): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-logret-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pg = engine === 'postgres' ? await createDatabase() : null;
  if (pg) t.after(() => pg.drop());
  const store = await openStore({ dataDir: dir, databaseUrl: pg?.url ?? null });
  t.after(() => store.close());
  await seed(store.db);
  return store;
}

/** A 100-byte line (the size limit counts bytes), tagged so a test can tell them apart. */
const line = (app: string, ms: number, tag: string, type = 'web', replica = 1): StoredLine => {
  const text = tag.padEnd(100, '.');
  return { app_id: app, time: at(ms), stream: 'stdout', process_type: type, replica, release: 1, container: `${app}-${type}-${replica}`, line: text, bytes: Buffer.byteLength(text) };
};
const tags = (rows: { line: string }[]) => rows.map((r) => r.line.replace(/\.+$/, '')).reverse();

for (const engine of ['sqlite', 'postgres'] as const) {
  test(`${engine}: filters return exactly the matching lines; retention prunes by age, then by size per app`, async (t) => {
    const { db } = await seededStore(t, engine);
    await insertLogLines(db, [
      line('app_1', NOW - 10 * DAY, 'ten-days'),
      line('app_1', NOW - 8 * DAY, 'eight-days'),
      line('app_1', NOW - 6 * DAY, 'six-days', 'worker', 1),
      line('app_1', NOW - DAY, 'one-day 100%_sure', 'web', 2),
      line('app_1', NOW - 2 * HOUR, 'two-hours', 'worker', 2),
      line('app_1', NOW - HOUR, 'one-hour\\path', 'web', 1),
      line('app_2', NOW - 9 * DAY, 'other-app-old'),
      line('app_2', NOW - HOUR, 'other-app'),
      line('app_2', NOW - HOUR + 1, 'Ünïcode ÉTÉ'),
    ], []);
    const q = async (f: Partial<Parameters<typeof queryLogLines>[2]>, app = 'app_1') => tags(await queryLogLines(db, app, { limit: 100, ...f }));

    assert.deepEqual(await q({}), ['ten-days', 'eight-days', 'six-days', 'one-day 100%_sure', 'two-hours', 'one-hour\\path']);
    assert.deepEqual(await q({ type: 'worker' }), ['six-days', 'two-hours']);
    assert.deepEqual(await q({ type: 'worker', replica: 2 }), ['two-hours']);
    assert.deepEqual(await q({ replica: 2 }), ['one-day 100%_sure', 'two-hours']);
    assert.deepEqual(await q({ grep: 'ONE-' }), ['one-day 100%_sure', 'one-hour\\path']);
    assert.deepEqual(await q({ grep: '0%_s' }), ['one-day 100%_sure']);
    assert.deepEqual(await q({ grep: 'one%' }), [], '% is text, not a wildcard');
    assert.deepEqual(await q({ grep: 'tw_' }), [], '_ is text, not a wildcard');
    assert.deepEqual(await q({ grep: 'hour\\p' }), ['one-hour\\path']);
    assert.deepEqual(await q({ since: parseLogTime('2d', NOW)! }), ['one-day 100%_sure', 'two-hours', 'one-hour\\path']);
    assert.deepEqual(await q({ since: parseLogTime('7d', NOW)!, until: parseLogTime('90m', NOW)! }), ['six-days', 'one-day 100%_sure', 'two-hours']);
    assert.deepEqual(await q({ limit: 2 }), ['two-hours', 'one-hour\\path'], 'the newest lines');
    const page = await queryLogLines(db, 'app_1', { limit: 2 });
    assert.deepEqual(await q({ limit: 2, before: page[1] }), ['six-days', 'one-day 100%_sure']);
    assert.deepEqual(await q({}, 'app_2'), ['other-app-old', 'other-app', 'Ünïcode ÉTÉ']);
    // Letters beyond ASCII fold too (SQLite's own LIKE folds only A-Z).
    assert.deepEqual(await q({ grep: 'ünïcode été' }, 'app_2'), ['Ünïcode ÉTÉ']);
    assert.deepEqual(await q({ grep: 'ÜNÏ' }, 'app_2'), ['Ünïcode ÉTÉ']);
    assert.deepEqual(await q({ grep: 'ünïx' }, 'app_2'), []);
    await db.deleteFrom('log_lines').where('line', 'like', 'Ü%').execute();

    // By age: 7 days before the given now; the clock is the caller's.
    assert.equal(await pruneLogs(db, { retentionDays: 7, retentionBytes: 1e9 }, NOW), 3);
    assert.deepEqual(await q({}), ['six-days', 'one-day 100%_sure', 'two-hours', 'one-hour\\path']);
    assert.deepEqual(await q({}, 'app_2'), ['other-app']);
    // By size: each app keeps its newest lines that fit; an app under the limit keeps all.
    assert.equal(await pruneLogs(db, { retentionDays: 7, retentionBytes: 250 }, NOW), 2);
    assert.deepEqual(await q({}), ['two-hours', 'one-hour\\path']);
    assert.deepEqual(await q({}, 'app_2'), ['other-app']);
    assert.equal(await pruneLogs(db, { retentionDays: 7, retentionBytes: 250 }, NOW), 0);

    // An app's own limits, below the platform's: app_1 keeps 2 days, app_2 1 MB (10,485 lines of 100 bytes).
    await db.updateTable('apps').set({ log_retention_days: 2 }).where('id', '=', 'app_1').execute();
    await db.updateTable('apps').set({ log_retention_mb: 1 }).where('id', '=', 'app_2').execute();
    await insertLogLines(db, [line('app_1', NOW - 3 * DAY, 'three-days')], []);
    await insertLogLines(db, Array.from({ length: 11_000 }, (_, i) => line('app_2', NOW - HOUR + 1 + i, `bulk-${i}`)), []);
    assert.equal(await pruneLogs(db, { retentionDays: 7, retentionBytes: 1e9 }, NOW), 1 + (11_001 - 10_485));
    assert.deepEqual(await q({}), ['two-hours', 'one-hour\\path']);
    const left = tags(await queryLogLines(db, 'app_2', { limit: 20_000 }));
    assert.equal(left.length, 10_485);
    assert.deepEqual([left[0], left.at(-1)], ['bulk-515', 'bulk-10999'], 'the newest kept');
    // A platform limit below an app's own wins: the app's limits only lower it.
    await db.updateTable('apps').set({ log_retention_mb: 2 }).where('id', '=', 'app_2').execute();
    assert.equal(await pruneLogs(db, { retentionDays: 7, retentionBytes: 500 }, NOW), 10_485 - 5);

    // A deleted app's lines go with the next pass; a batch of lines still buffered for it is written.
    await deleteApp(db, 'app_2');
    await insertLogLines(db, [line('app_2', NOW, 'late-line')], [{ docker_id: 'dock_2', app_id: 'app_2', last: at(NOW) }]);
    assert.equal(await pruneLogs(db, { retentionDays: 7, retentionBytes: 1e9 }, NOW), 5 + 1);
    assert.deepEqual(await q({}, 'app_2'), []);
    // A day later the rest is past one day's retention.
    assert.equal(await pruneLogs(db, { retentionDays: 1, retentionBytes: 1e9 }, NOW + DAY), 2);
    assert.deepEqual(await q({}), []);

    // With the collector's usage book, the table is summed once; then the figures grow with what is written.
    const book = new LogUsage();
    const five = (from: number, tag: string) => Array.from({ length: 5 }, (_, i) => line('app_1', NOW + DAY + from + i, `${tag}-${i}`));
    await insertLogLines(db, five(0, 'a'), []);
    assert.equal(await pruneLogs(db, { retentionDays: 7, retentionBytes: 1e9 }, NOW + DAY, book), 0);
    assert.deepEqual([...book.bytes!], [['app_1', 500]]);
    await insertLogLines(db, five(10, 'b'), []);
    book.add('app_1', 500);
    assert.equal(await pruneLogs(db, { retentionDays: 7, retentionBytes: 250 }, NOW + DAY, book), 8);
    assert.deepEqual(await q({}), ['b-3', 'b-4']);
    assert.deepEqual([...book.bytes!], [['app_1', 200]]);
    // A figure above the truth costs one app's sum and prunes nothing wrongly.
    book.add('app_1', 1000);
    assert.equal(await pruneLogs(db, { retentionDays: 7, retentionBytes: 250 }, NOW + DAY, book), 0);
    assert.deepEqual([...book.bytes!], [['app_1', 200]]);
  });
}

test('the collector never waits on the store: past its share of the buffer (a quarter), lines are dropped, counted, and a line says so', async (t) => {
  const store = await seededStore(t, 'sqlite');
  const { db } = store;
  const ts = new Date(NOW).toISOString();
  await db.insertInto('releases').values({ id: 'rel_1', app_id: 'app_1', version: 3, image: 'img', config: '{}', status: 'live', reason: null, description: 'd', build_id: null, created_by: null, created_at: ts, updated_at: ts }).execute();
  await db.insertInto('containers').values({
    id: 'ctr_1', app_id: 'app_1', release_id: 'rel_1', replica: 2, gen: 0, name: 'app-1-web-2', docker_id: 'dock_1', node: 'local', address: null, port: 8080,
    status: 'healthy', in_rotation: 1, message: null, process_type: 'web', created_at: ts, updated_at: ts,
  }).execute();
  const asked: LogOptions[] = [];
  let done!: () => void;
  const ended = new Promise<void>((r) => (done = r));
  // An engine that hands over 100 lines at once, as a busy replica does between two writes.
  const replicas = {
    async *logs(_id: string, opts: LogOptions): AsyncIterable<LogLine> {
      asked.push(opts);
      for (let i = 0; i < 100; i++) yield { stream: 'stdout', time: new Date(NOW + i).toISOString(), line: `line ${i}` };
      done();
    },
  };
  const ctx = { db, replicas, config: { logs: { bufferLines: 40, retentionDays: 7, retentionBytes: 1e9 } }, clock: { now: () => NOW, sleep: async () => {} }, log: pino({ level: 'silent' }) } as unknown as ControllerDeps;
  const c = new LogCollector(ctx);
  const generation = (store.generation.read() as number);
  c.nudge();
  await ended;
  assert.equal(c.dropped, 90);
  await c.stop();
  // The read cache's write count (store/generation.ts) does not move for log lines: they would
  // otherwise expire every cached answer twice a second while any app logs.
  assert.equal((store.generation.read() as number), generation);
  const rows = (await queryLogLines(db, 'app_1', { limit: 1000 })).reverse();
  assert.deepEqual(rows.map((r) => r.line), [...Array.from({ length: 10 }, (_, i) => `line ${i}`), '[berth] 90 log lines dropped: the log store fell behind']);
  assert.deepEqual(rows.map((r) => [r.process_type, r.replica, r.release, r.container]).at(-1), ['web', 2, 3, 'app-1-web-2']);
  assert.equal(rows.at(-1)!.stream, 'berth');
  assert.equal(rows.at(-1)!.time, at(NOW + 99), 'where the last dropped line was');
  assert.equal(asked[0].follow, true);
  // The cursor is the newest stored line: a collector started again reads on from there, not from the start.
  assert.deepEqual(await db.selectFrom('log_cursors').select(['docker_id', 'last']).execute(), [{ docker_id: 'dock_1', last: at(NOW + 9) }]);
});

for (const engine of ['sqlite', 'postgres'] as const) {
  test(`${engine}: one app's flood drops its own lines, not a quiet app's; router lines have their own share; a NUL byte is stored as U+FFFD`, async (t) => {
    const { db } = await seededStore(t, engine);
    const ts = new Date(NOW).toISOString();
    for (const n of [1, 2]) {
      await db.insertInto('releases').values({ id: `rel_${n}`, app_id: `app_${n}`, version: 1, image: 'img', config: '{}', status: 'live', reason: null, description: 'd', build_id: null, created_by: null, created_at: ts, updated_at: ts }).execute();
      await db.insertInto('containers').values({
        id: `ctr_${n}`, app_id: `app_${n}`, release_id: `rel_${n}`, replica: n, gen: 0, name: `app-${n}-web-${n}`, docker_id: `dock_${n}`, node: 'local', address: `10.9.0.${n}`, port: 8080,
        status: 'healthy', in_rotation: 1, message: null, process_type: 'web', created_at: ts, updated_at: ts,
      }).execute();
    }
    let floodDone!: () => void;
    const flooded = new Promise<void>((r) => (floodDone = r));
    let quietDone!: () => void;
    const quieted = new Promise<void>((r) => (quietDone = r));
    // app_1 floods (100 lines at once); app_2 prints 3 lines only after the flood is in: without a
    // share per app the flood would have filled the whole buffer by then.
    const replicas = {
      async *logs(id: string): AsyncIterable<LogLine> {
        if (id === 'dock_1') {
          for (let i = 0; i < 100; i++) yield { stream: 'stdout', time: new Date(NOW + i).toISOString(), line: `flood ${i}` };
          floodDone();
        } else {
          await flooded;
          for (let i = 0; i < 3; i++) yield { stream: 'stderr', time: new Date(NOW + 200 + i).toISOString(), line: i === 0 ? 'nul\0byte' : `quiet ${i}` };
          quietDone();
        }
        await new Promise(() => {});
      },
    };
    // The store is not written to until stop(): the buffer alone decides (no flush timer started).
    const ctx = { db, replicas, config: { logs: { bufferLines: 40, retentionDays: 7, retentionBytes: 1e9 } }, clock: { now: () => NOW + 1000, sleep: async () => {} }, log: pino({ level: 'silent' }) } as unknown as ControllerDeps;
    const c = new LogCollector(ctx);
    c.nudge();
    await quieted;
    const req = (app: string, upstream: string, path: string) =>
      ({ app, upstream, client: '127.0.0.1', request: `GET ${path} HTTP/1.1`, status: 200, bytes: 5, connectMs: 0, serviceMs: 1, totalMs: 2 });
    // Router lines of app_1's replica: their own share (10 of 40), whatever the app's lines took.
    for (let i = 0; i < 12; i++) c.routerRequest(req('app-1', '10.9.0.1:8080', `/r${i}`));
    c.routerRequest(req('app-2', '10.9.0.99:8080', '/gone-replica'));
    c.routerRequest(req('no-such-app', '10.9.0.1:8080', '/nobody'));
    assert.equal(c.dropped, 90 + 2);
    await c.stop();

    const text = async (app: string, type?: string) => (await queryLogLines(db, app, { limit: 1000, type })).reverse().map((r) => r.line);
    assert.deepEqual(await text('app_1', 'web'), [...Array.from({ length: 10 }, (_, i) => `flood ${i}`), '[berth] 90 log lines dropped: the log store fell behind']);
    assert.deepEqual(await text('app_2', 'web'), ['nul\uFFFDbyte', 'quiet 1', 'quiet 2']);
    const routed = (await queryLogLines(db, 'app_1', { limit: 1000, type: 'router' })).reverse();
    assert.deepEqual(routed.map((r) => r.line), [
      ...Array.from({ length: 10 }, (_, i) => `GET /r${i} HTTP/1.1 status=200 bytes=5 connect=0ms service=1ms total=2ms client=127.0.0.1`),
      '[berth] 2 log lines dropped: the log store fell behind',
    ]);
    assert.deepEqual(routed.slice(0, 10).map((r) => [r.stream, r.replica, r.container, r.release]), Array(10).fill(['stdout', 1, 'app-1-web-1', 1]));
    // An address no replica has (any more): replica 0.
    const other = (await queryLogLines(db, 'app_2', { limit: 10, type: 'router' }))[0]!;
    assert.deepEqual([other.line.split(' ')[1], other.replica, other.container], ['/gone-replica', 0, 'router']);
    assert.equal((await queryLogLines(db, 'app_2', { limit: 10, grep: 'nobody' })).length, 0);
  });
}

test('sqlite: a retention pass whose first sum fails sums the whole table again next time, and then prunes the old lines', async (t) => {
  const { db } = await seededStore(t, 'sqlite');
  await insertLogLines(db, [line('app_1', NOW - 10 * DAY, 'ten-days'), line('app_1', NOW - HOUR, 'an-hour')], []);
  const usage = new LogUsage();
  // The whole-table sum fails once (the table is away, as in a timeout), after nothing was pruned.
  await db.executeQuery(sql`alter table log_lines rename to log_lines_away`.compile(db));
  await assert.rejects(pruneLogs(db, { retentionDays: 7, retentionBytes: 1_000_000 }, NOW, usage));
  await db.executeQuery(sql`alter table log_lines_away rename to log_lines`.compile(db));
  assert.equal(usage.bytes as unknown, null, 'no book of only the lines written since');
  // The next pass sums the whole table again, and prunes by age.
  assert.equal(await pruneLogs(db, { retentionDays: 7, retentionBytes: 1_000_000 }, NOW, usage), 1);
  assert.deepEqual(tags(await queryLogLines(db, 'app_1', { limit: 10 })), ['an-hour']);
});
