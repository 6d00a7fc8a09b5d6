import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, type BerthClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';
import { addonContainer, addonPsql, cli, rejectsWith } from './helpers.js';
import { run } from '../../src/lib/exec.js';

/**
 * Point-in-time recovery on the real Docker Engine with real pgBackRest: rows written one after
 * another with their times, a table dropped, `berth addons restore db --to <a second before the
 * drop>` makes a fork holding exactly the rows committed by then; the window and the roles are
 * enforced by the API.
 */
describe('add-on point-in-time recovery', () => {
  let s: TestServer;
  let dev: BerthClient;
  let home: string;
  const berth = cli(() => s, () => dev, () => home);

  const psql = addonPsql;
  const addonIs = (name: string, ok: (a: Awaited<ReturnType<typeof get>>) => boolean, what: string) =>
    waitFor(what, async () => {
      const a = await get(name);
      if (a.status === 'failed') throw new Error(`${name} failed: ${a.message}`);
      return ok(a) ? a : undefined;
    }, { timeoutMs: 120_000, intervalMs: 300 }).catch(async (err: Error) => {
      const said = s.output().split('\n').filter((l) => !/"(incoming request|request completed)"/.test(l));
      const a = await get(name);
      const told = (await dev.call('listEvents', { query: { limit: 1000 } })).items.filter((e) => e.data?.addon === a.id).map((e) => `${e.created_at} ${e.kind}: ${e.message}`);
      throw new Error(`${err.message}; the add-on: ${JSON.stringify(a)}\nits events:\n${told.join('\n')}\n${said.slice(-30).join('\n')}`);
    });
  const get = (name: string) => dev.call('getAddon', { params: { id: name }, query: { project: 'pitr' } });

  before(async () => {
    s = await startServer();
    dev = await s.newUser('dev');
    home = await mkdtemp(join(tmpdir(), 'berth-pitr-'));
    await dev.call('createProject', { body: { name: 'pitr' } });
    await dev.call('createAddon', { body: { type: 'postgres', name: 'db', project: 'pitr' } });
  });
  after(async () => {
    await s?.destroy();
    if (home) await rm(home, { recursive: true, force: true });
  });

  test('rows written continuously, a table dropped: a fork restored to a second before the drop has every row committed by then and none after', async () => {
    const db = await addonIs('db', (a) => a.status === 'running' && a.pitr?.earliest != null, 'db to run with its first base backup');
    assert.equal(db.pitr?.window_days, 7, 'the default window');
    await psql(db.id, 'create table t (id serial primary key, at timestamptz not null default clock_timestamp(), note text)');

    // One session, one autocommitted insert after another: row k+1's clock_timestamp() is taken
    // after row k committed, so a target between them splits the rows exactly.
    const writer = spawn('docker', ['exec', '-i', await addonContainer(db.id), 'sh', '-c', 'PGPASSWORD="$BERTH_ADDON_PASSWORD" psql -h /tmp -U "$BERTH_ADDON_USER" -d "$BERTH_ADDON_DB" -v ON_ERROR_STOP=1 -At'], { stdio: ['pipe', 'pipe', 'inherit'] });
    /** Each row's id and its clock_timestamp() in microseconds since the epoch (a Date would round it to the millisecond). */
    const rows: { id: number; at: number }[] = [];
    let buf = '';
    let dropAt = 0;
    let answered: (() => void) | null = null;
    writer.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const drop = /^drop-at\|([\d.]+)$/.exec(line);
        if (drop) dropAt = Number(drop[1]);
        const m = /^(\d+)\|(\d+)\.?(\d*)$/.exec(line);
        if (m) rows.push({ id: Number(m[1]), at: Number(m[2]) * 1e6 + Number(m[3]!.padEnd(6, '0')) });
        if (line.startsWith('INSERT') || m) answered?.();
      }
    });
    const insert = () =>
      new Promise<void>((resolve) => {
        answered = resolve;
        writer.stdin.write("insert into t (note) values ('row') returning id, extract(epoch from at);\n");
      });
    const insertOne = async () => {
      const before = rows.length;
      await insert();
      await waitFor('the insert to be answered', async () => (rows.length > before ? true : undefined), { timeoutMs: 30_000, intervalMs: 1 });
    };
    // The clock starts once the session answers (docker exec may take seconds on a busy machine),
    // and the writes go on until the second before the last one's has more than 3 rows on each side
    // of it (at least 3.5 s): on a slow machine the rows come slower, not fewer.
    await insertOne();
    const startedAt = Date.now();
    const enough = () => {
      const t = (Math.floor(rows.at(-1)!.at / 1e6) - 1) * 1e6;
      return rows.filter((r) => r.at <= t).length > 4 && rows.filter((r) => r.at > t).length > 3;
    };
    while (Date.now() - startedAt < 3500 || (!enough() && Date.now() - startedAt < 60_000)) await insertOne();
    // The drop right after the last insert, in the same session: the second before it holds writes.
    writer.stdin.end("select 'drop-at|' || extract(epoch from clock_timestamp());\ndrop table t;\n");
    const exit = await new Promise((r) => writer.on('exit', r));
    assert.equal(exit, 0, 'the writer session ended well');
    assert.ok(dropAt > 0, 'the drop time was read');
    assert.match(await psql(db.id, "select count(*) from pg_tables where tablename = 't'"), /^0$/, 'the table is gone');

    // The second before the last row's (what the writer loop checked): before the drop, which comes right after it.
    const target = (Math.floor(rows.at(-1)!.at / 1e6) - 1) * 1e6;
    const targetText = new Date(target / 1000).toISOString().slice(0, 19).replace('T', ' ');
    const committed = rows.filter((r, i) => i + 1 < rows.length && rows[i + 1]!.at <= target); // the next row began by the target
    const later = rows.filter((r) => r.at > target);
    assert.ok(committed.length > 3 && later.length > 3, `rows on both sides of the target: ${committed.length} before, ${later.length} after`);

    const out = await berth(['addons', 'restore', 'db', '--to', targetText, '--name', 'rescued', '--project', 'pitr', '--json']);
    assert.equal(out.code, 0, out.stderr);
    const fork = JSON.parse(out.stdout) as Awaited<ReturnType<typeof get>>;
    assert.equal(fork.status, 'running', fork.message ?? '');
    assert.equal(fork.fork?.of, 'db');
    assert.equal(fork.fork?.target, new Date(target / 1000).toISOString());

    const restored = (await psql(fork.id, 'select id from t order by id')).split('\n').filter(Boolean).map(Number);
    const n = restored.length;
    assert.deepEqual(restored, Array.from({ length: n }, (_, i) => i + 1), 'the rows kept are the first n written, none missing');
    assert.ok(n >= committed.length, `every row committed by ${targetText} is there (${n} of ${committed.length})`);
    assert.ok(n <= rows.length - later.length, `no row begun after ${targetText} is there (${n}, ${later.length} later ones)`);
    const [, whole, frac] = /^(.*?)(?:\.(\d+))?Z$/.exec(fork.fork!.recovered_to!)!;
    const point = (Date.parse(`${whole}Z`) / 1000) * 1e6 + Number((frac ?? '').padEnd(6, '0'));
    assert.ok(point <= target && point >= rows[n - 1]!.at, `the recovery point ${fork.fork!.recovered_to} is the last restored row's commit, by the target`);

    // The fork is a database of its own: it takes writes, archives and gets its own base backup; the source is untouched.
    await psql(fork.id, "insert into t (note) values ('fork only')");
    assert.equal(await psql(db.id, "select count(*) from pg_tables where tablename = 't'"), '0');
    const forked = await addonIs('rescued', (a) => a.pitr?.earliest != null, 'the fork’s own first base backup');
    assert.equal(forked.fork?.recovered_to, fork.fork?.recovered_to);
  });

  test('in place, after the add-on’s name is typed: the same add-on goes back to the time, its later writes and the drop undone', async () => {
    const a = await get('rescued');
    await rejectsWith(dev.call('rewindAddon', { params: { id: 'rescued' }, query: { project: 'pitr' }, body: { to: new Date().toISOString(), confirm: 'db' } }), 400, 'confirm');
    await psql(a.id, 'create table v (id serial primary key, at timestamptz not null default clock_timestamp())');
    // Each statement its own session, one after another: those before the time read were committed before it.
    for (let i = 0; i < 3; i++) await psql(a.id, 'insert into v default values');
    const target = new Date(Number(await psql(a.id, 'select extract(epoch from clock_timestamp())')) * 1000);
    for (let i = 0; i < 3; i++) await psql(a.id, 'insert into v default values');
    await psql(a.id, 'drop table t');

    const out = await berth(['addons', 'restore', 'rescued', '--to', target.toISOString(), '--in-place', '--confirm', 'rescued', '--project', 'pitr', '--json']);
    assert.equal(out.code, 0, `${out.stderr}${out.stdout}`);
    const back = JSON.parse(out.stdout) as Awaited<ReturnType<typeof get>>;
    assert.equal(back.id, a.id, 'the same add-on');
    assert.equal(back.status, 'running', back.message ?? '');
    assert.equal(back.rewind?.target, target.toISOString());
    assert.ok(new Date(back.rewind!.recovered_to!) <= target, `recovery point ${back.rewind!.recovered_to} by ${target.toISOString()}`);
    // Where PostgreSQL said it stopped (the restored event's `stopped`), in the message should this ever fail again.
    const stopped = (await dev.call('listEvents', { query: { limit: 1000 } })).items.filter((e) => e.kind === 'addon.restored' && e.data?.addon === a.id).map((e) => e.data?.stopped);
    assert.equal(await psql(a.id, 'select string_agg(id::text, \',\' order by id) from v'), '1,2,3', `the rows written before the time, none after (target ${target.toISOString()}, recovery point ${back.rewind!.recovered_to}, ${JSON.stringify(stopped)})`);
    assert.ok(Number(await psql(a.id, 'select count(*) from t')) > 0, 'the table dropped after the time is back');
    await psql(a.id, 'insert into v default values');
    assert.equal(await psql(a.id, 'select count(*) from v'), '4', 'it takes writes again');
  });

  /**
   * An in-place rewind of `rescued` cut by a crash of the host's control plane while its restore's
   * helper runs; `helperToo`: the helper dies with it (a power cut), else it runs on to its end
   * while the control plane is down (an out-of-memory kill, an upgrade). On start the rewind must be
   * done, exactly, and the data from before it kept aside. Only the first is in the suite: a second
   * rewind right after this one can meet a pgBackRest backup of the branch this one abandoned
   * (error 058, docs/stateful.md), crash or not.
   */
  async function rewindCutByACrash(table: string, helperToo: boolean) {
    const a = await get('rescued');
    await psql(a.id, `create table ${table} (id serial primary key)`);
    for (let i = 0; i < 2; i++) await psql(a.id, `insert into ${table} default values`);
    const target = new Date(Number(await psql(a.id, 'select extract(epoch from clock_timestamp())')) * 1000);
    for (let i = 0; i < 2; i++) await psql(a.id, `insert into ${table} default values`);
    const docker = async (args: string[]) => (await run('docker', args, { timeoutMs: 120_000 })).stdout.trim();
    // A file in the data directory made after the time: no base backup before the time holds it, so
    // it marks the directory from before the rewind wherever it ends up.
    const mark = `/data/pgdata/berth-before-${table}`;
    await docker(['exec', await addonContainer(a.id), 'touch', mark]);
    await dev.call('rewindAddon', { params: { id: 'rescued' }, query: { project: 'pitr' }, body: { to: target.toISOString(), confirm: 'rescued' } });
    // The restore's own helper (its command ends with the mode), caught as soon as it runs: the server is gone by then.
    const helper = await waitFor('the in-place restore helper to run', async () => {
      for (const id of (await docker(['ps', '-q', '--filter', 'label=berth.addon-job'])).split('\n').filter(Boolean)) {
        if ((await docker(['inspect', '-f', '{{json .Args}}', id])).endsWith('"in-place"]')) return id;
      }
      return undefined;
    }, { timeoutMs: 120_000, intervalMs: 50 });
    await s.kill();
    const helperEnd = helperToo ? `killed mid-restore: ${(await run('docker', ['kill', helper], { timeoutMs: 30_000 })).code === 0}` : `ran to its end: exit ${await docker(['wait', helper])}`;
    await s.start();
    const back = await addonIs('rescued', (x) => x.status === 'running' && x.rewind?.recovered_to != null, `the rewind done after the crash (helper ${helperEnd})`);
    assert.equal(back.rewind?.target, target.toISOString(), back.message ?? '');
    assert.ok(new Date(back.rewind!.recovered_to!) <= target);
    assert.equal(await psql(a.id, `select string_agg(id::text, ',' order by id) from ${table}`), '1,2', `the rows written before the time, none after (helper ${helperEnd})`);
    assert.equal(await psql(a.id, 'select count(*) from v'), '4', 'the older rows are all there');
    // The data from before the rewind is kept aside (the file made after the time is there), and not served.
    const where = await docker(['exec', await addonContainer(a.id), 'sh', '-c', `ls ${mark.replace('/pgdata/', '/pgdata.before-restore/')} ${mark} 2>/dev/null; true`]);
    assert.equal(where, mark.replace('/pgdata/', '/pgdata.before-restore/'), `the data from before the rewind is in pgdata.before-restore, the served one is restored (helper ${helperEnd})`);
  }

  test('a crash in the middle of an in-place restore, the helper killed with the control plane: on start it is done again from the archive, never served half done', async () => {
    await rewindCutByACrash('w', true);
  });

  test('the time is checked against the window; a viewer may not restore, another project’s user does not see the add-on', async () => {
    const db = await get('db');
    await rejectsWith(dev.call('forkAddon', { params: { id: 'db' }, query: { project: 'pitr' }, body: { to: 'yesterday at noon' } }), 400, 'to');
    await rejectsWith(dev.call('forkAddon', { params: { id: 'db' }, query: { project: 'pitr' }, body: { to: '2026-02-30 10:00:00' } }), 400, 'to');
    for (const to of ['2020-01-01 00:00:00', new Date(Date.now() + 3600_000).toISOString()]) {
      await assert.rejects(dev.call('forkAddon', { params: { id: 'db' }, query: { project: 'pitr' }, body: { to } }), (err: unknown) => {
        assert.ok(err instanceof ApiError && err.status === 409, String(err));
        const d = err.details as { field: string; earliest: string; latest: string };
        assert.equal(d.field, 'to');
        assert.equal(d.earliest, db.pitr!.earliest, 'the window is stated');
        assert.ok(err.message.includes(db.pitr!.earliest!), err.message);
        return true;
      });
    }
    await rejectsWith(dev.call('forkAddon', { params: { id: 'db' }, query: { project: 'pitr' }, body: { to: new Date().toISOString(), name: 'rescued' } }), 409, 'name');

    await rejectsWith(dev.call('rewindAddon', { params: { id: 'db' }, query: { project: 'pitr' }, body: { to: 'soon', confirm: 'db' } }), 400, 'to');
    const viewer = await s.newUser('viewer');
    await dev.call('addMember', { params: { id: 'pitr' }, body: { username: 'viewer', role: 'viewer' } });
    const inWindow = new Date(Date.now() - 1000).toISOString();
    await assert.rejects(viewer.call('forkAddon', { params: { id: db.id }, query: {}, body: { to: inWindow } }), (err: unknown) => err instanceof ApiError && err.status === 403);
    await assert.rejects(viewer.call('rewindAddon', { params: { id: db.id }, query: {}, body: { to: inWindow, confirm: 'db' } }), (err: unknown) => err instanceof ApiError && err.status === 403);
    const stranger = await s.newUser('stranger');
    await assert.rejects(stranger.call('forkAddon', { params: { id: db.id }, query: {}, body: { to: inWindow } }), (err: unknown) => err instanceof ApiError && err.status === 404);
    await assert.rejects(stranger.call('rewindAddon', { params: { id: db.id }, query: {}, body: { to: inWindow, confirm: 'db' } }), (err: unknown) => err instanceof ApiError && err.status === 404);
    assert.equal((await get('db')).rewind, null, 'the refused calls restored nothing');
    const names = (await dev.call('listAddons', { query: { project: 'pitr' } })).items.map((a) => a.name).sort();
    assert.deepEqual(names, ['db', 'rescued'], 'the refused calls made no add-on');
  });
});
