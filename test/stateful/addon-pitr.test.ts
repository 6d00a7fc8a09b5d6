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
import { run, runOk } from '../../src/lib/exec.js';
import { pgTime } from '../../src/domain/addon-pitr.js';

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

  /**
   * One psql session in the add-on's server writing rows into `table` one after another, each
   * autocommitted: row k+1's clock_timestamp() is taken after row k committed, so a target between
   * them splits the rows exactly. Each row's id, its time in microseconds since the epoch (a Date
   * would round it to the millisecond) and the WAL insert position before its commit.
   */
  async function rowWriter(addonId: string, table: string) {
    const writer = spawn('docker', ['exec', '-i', await addonContainer(addonId), 'sh', '-c', 'PGPASSWORD="$BERTH_ADDON_PASSWORD" psql -h /tmp -U "$BERTH_ADDON_USER" -d "$BERTH_ADDON_DB" -v ON_ERROR_STOP=1 -At'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const rows: { id: number; at: number; lsn: bigint }[] = [];
    const other: string[] = [];
    let buf = '';
    let answered: (() => void) | null = null;
    writer.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const m = /^(\d+)\|(\d+)\.?(\d*)\|([0-9A-F]+)\/([0-9A-F]+)$/.exec(line);
        if (m) rows.push({ id: Number(m[1]), at: Number(m[2]) * 1e6 + Number(m[3]!.padEnd(6, '0')), lsn: (BigInt(`0x${m[4]}`) << 32n) + BigInt(`0x${m[5]}`) });
        else if (!line.startsWith('INSERT')) other.push(line);
        if (line.startsWith('INSERT') || m) answered?.();
      }
    });
    const insertOne = async () => {
      const before = rows.length;
      await new Promise<void>((resolve) => {
        answered = resolve;
        writer.stdin.write(`insert into ${table} (note) values ('row') returning id, extract(epoch from at), pg_current_wal_insert_lsn();\n`);
      });
      await waitFor('the insert to be answered', async () => (rows.length > before ? true : undefined), { timeoutMs: 30_000, intervalMs: 1 });
    };
    /** Ends the session after `sql`; the lines it printed that are not rows. */
    const end = async (sql = '') => {
      const exit = new Promise((r) => writer.on('exit', r));
      writer.stdin.end(sql);
      assert.equal(await exit, 0, 'the writer session ended well');
      return other;
    };
    return { rows, insertOne, end };
  }

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

    const w = await rowWriter(db.id, 't');
    const { rows, insertOne } = w;
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
    const said = await w.end("select 'drop-at|' || extract(epoch from clock_timestamp());\ndrop table t;\n");
    assert.ok(said.some((l) => /^drop-at\|[\d.]+$/.test(l)), 'the drop time was read');
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
   * done, exactly, and the data from before it kept aside.
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
    // The restore's own helper (the mode among its arguments), caught as soon as it runs: the server is gone by then.
    const helper = await waitFor('the in-place restore helper to run', async () => {
      for (const id of (await docker(['ps', '-q', '--filter', 'label=berth.addon-job'])).split('\n').filter(Boolean)) {
        if ((JSON.parse(await docker(['inspect', '-f', '{{json .Args}}', id])) as string[]).includes('in-place')) return id;
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

  /** A target time as the restore helper's command line carries it. */
  const pgTimeOf = (iso: string) => pgTime(new Date(iso));
  /** A command in the add-on's server container, as its own user; it must succeed. */
  const inServer = async (addonId: string, script: string) => (await runOk('docker', ['exec', await addonContainer(addonId), 'sh', '-c', script], { timeoutMs: 300_000 })).stdout.trim();
  type Backup = { label: string; lsn: { start: string; stop: string }; timestamp: { start: number; stop: number } };
  /** The add-on's base backups as pgBackRest lists them, oldest first. */
  const backups = async (addonId: string) => (JSON.parse(await inServer(addonId, 'pgbackrest --stanza=berth --output=json info')) as { backup: Backup[] }[])[0]!.backup;
  /** A base backup taken now, as the add-on controller's helper takes one (the same pgBackRest command, from the server's container). */
  const baseBackupNow = async (addonId: string) => {
    await inServer(addonId, 'PGPASSWORD="$BERTH_ADDON_PASSWORD" pgbackrest --stanza=berth "--pg1-user=$BERTH_ADDON_USER" --repo1-retention-full-type=time --repo1-retention-full=7 --type=full backup');
    return (await backups(addonId)).at(-1)!;
  };
  /** The add-on runs and the add-on controller's base backup (due after each rewind) is taken and checked: none of its runs overlaps the test's own. */
  const settled = (name: string) => addonIs(name, (a) => a.status === 'running' && a.pitr?.latest_base_backup != null && a.pitr.verified?.base_at === a.pitr.latest_base_backup, `${name}'s base backup after its last rewind, checked`);
  /** The last `addon.restored` event of the add-on: where it stopped, the base backup and timeline it came from. */
  const lastRestored = async (addonId: string) => (await dev.call('listEvents', { query: { limit: 1000 } })).items.filter((e) => e.kind === 'addon.restored' && e.data?.addon === addonId).at(-1)?.data;
  const rewind = async (name: string, to: string) => {
    const out = await berth(['addons', 'restore', name, '--to', to, '--in-place', '--confirm', name, '--project', 'pitr', '--json']);
    assert.equal(out.code, 0, `${out.stderr}${out.stdout}`);
    const back = JSON.parse(out.stdout) as Awaited<ReturnType<typeof get>>;
    assert.equal(back.status, 'running', back.message ?? '');
    assert.equal(back.rewind?.target, new Date(to).toISOString());
    assert.ok(new Date(back.rewind!.recovered_to!) <= new Date(to), `recovery point ${back.rewind!.recovered_to} by ${to}`);
    return back;
  };

  test('a base backup that ended after the time an in-place restore went back to is on the branch it abandoned: a later restore, before the next base backup, starts from an older one and is exact', async () => {
    const a = await settled('rescued');
    const clock = async () => new Date(Number(await psql(a.id, 'select extract(epoch from clock_timestamp())')) * 1000).toISOString();
    await psql(a.id, 'create table p (n int primary key)');
    for (const n of [1, 2]) await psql(a.id, `insert into p values (${n})`);
    const first = await clock();
    for (const n of [3, 4]) await psql(a.id, `insert into p values (${n})`);
    const abandoned = await baseBackupNow(a.id);
    assert.ok(abandoned.timestamp.start * 1000 >= Date.parse(first) - 1000, `the base backup ${abandoned.label} began after ${first}`);
    // The add-on controller's base backup after the rewind cannot write until the second restore is
    // done (its backup directory read-only): the second restore's time then surely comes before it
    // ended, when the newest backup that ended by that time is the abandoned one (without this, it
    // is a race with the backup that follows the rewind, which a busy machine makes slow).
    await inServer(a.id, 'chmod a-w /archive/pgbackrest/backup/berth');
    try {
      await rewind('rescued', first);
      assert.equal(await psql(a.id, "select string_agg(n::text, ',' order by n) from p"), '1,2', 'the first restore: the rows before its time');
      for (const n of [5, 6]) await psql(a.id, `insert into p values (${n})`);
      const second = await clock();
      for (const n of [7, 8]) await psql(a.id, `insert into p values (${n})`);
      assert.equal((await get('rescued')).pitr?.latest_base_backup, null, 'no base backup since the first restore');
      await rewind('rescued', second);
      assert.equal(await psql(a.id, "select string_agg(n::text, ',' order by n) from p"), '1,2,5,6', 'the second restore: the rows before the first restore’s time and those written after it up to the second time, none after');
      const from = await lastRestored(a.id);
      assert.notEqual(from?.base_backup, abandoned.label, `not from the abandoned branch's base backup: ${JSON.stringify(from)}`);
      assert.ok((await backups(a.id)).some((b) => b.label === from?.base_backup), `from a base backup in the archive: ${JSON.stringify(from)}`);
    } finally {
      // Not when a restore failed and left no server: that failure is the one to report.
      if ((await get('rescued')).status !== 'failed') await inServer(a.id, 'chmod u+w /archive/pgbackrest/backup/berth');
    }
    await psql(a.id, 'insert into p values (9)');
  });

  test('a crash while an in-place restore runs, the helper finishing while the control plane is down: on start it is reported done, the data from before kept aside', async () => {
    await rewindCutByACrash('x', false);
  });

  test('across a base-backup boundary: a restore to a time while a newer base backup ran starts from the older one, replays past the newer one’s start, and has every row up to the time and none after', async () => {
    const a = await settled('rescued');
    await psql(a.id, 'create table b (id serial primary key, at timestamptz not null default clock_timestamp(), note text)');
    const w = await rowWriter(a.id, 'b');
    const { rows, insertOne } = w;
    const writeFor = async (ms: number) => {
      const from = Date.now();
      while (Date.now() - from < ms) await insertOne();
    };
    await insertOne();
    await writeFor(1000);
    // A base backup while the rows go on, then a second more of rows.
    let ended = false;
    const taking = baseBackupNow(a.id).finally(() => (ended = true));
    while (!ended) await insertOne();
    const newer = await taking;
    await writeFor(1000);
    await w.end();
    // The time: just after a row that began past the newer backup's start (its WAL) was committed,
    // and more than a second before that backup ended (pgBackRest keeps whole seconds).
    const lsn = (text: string) => { const [hi, lo] = text.split('/'); return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`); };
    const start = lsn(newer.lsn.start);
    const k = rows.findIndex((r) => r.lsn > start) + 2;
    assert.ok(k >= 2 && k + 1 < rows.length, `rows written after the newer backup's start (${newer.lsn.start}): ${rows.length} rows`);
    const target = Math.ceil(rows[k]!.at / 1000) * 1000; // at a millisecond, as the API takes it
    assert.ok(target < (newer.timestamp.stop - 1) * 1e6, `the time ${new Date(target / 1000).toISOString()} is before the newer backup ${newer.label} ended (${new Date(newer.timestamp.stop * 1000).toISOString()}): a slow enough backup`);
    const committed = rows.filter((r, i) => i + 1 < rows.length && rows[i + 1]!.at <= target);
    const later = rows.filter((r) => r.at > target);
    assert.ok(committed.some((r) => r.lsn > start) && later.length > 3, `rows on both sides of the time, some after the newer backup began: ${committed.length} before, ${later.length} after`);

    const targetText = new Date(target / 1000).toISOString();
    await rewind('rescued', targetText);
    const restored = (await psql(a.id, 'select id from b order by id')).split('\n').filter(Boolean).map(Number);
    const n = restored.length;
    assert.deepEqual(restored, rows.slice(0, n).map((r) => r.id), 'the rows kept are the first n written, none missing');
    assert.ok(n >= committed.length, `every row committed by ${targetText} is there (${n} of ${committed.length})`);
    assert.ok(n <= rows.length - later.length, `no row begun after ${targetText} is there (${n}, ${later.length} later ones)`);
    const from = await lastRestored(a.id);
    const older = (await backups(a.id)).filter((b) => b.timestamp.stop < newer.timestamp.start).map((b) => b.label);
    assert.ok(older.includes(String(from?.base_backup)), `restored from a base backup older than ${newer.label} (${older.join(', ')}): ${JSON.stringify(from)}`);
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
  test('a kill -9 of the control plane while a fork is restored, its helper killed too: on start the fork is restored again, exactly; the source is untouched and its archive still takes WAL and backups', async () => {
    const db = await get('db');
    await psql(db.id, 'create table f (n int primary key)');
    for (const n of [1, 2]) await psql(db.id, `insert into f values (${n})`);
    const target = new Date(Number(await psql(db.id, 'select extract(epoch from clock_timestamp())')) * 1000).toISOString();
    for (const n of [3, 4]) await psql(db.id, `insert into f values (${n})`);
    const before = await backups(db.id);
    await dev.call('forkAddon', { params: { id: 'db' }, query: { project: 'pitr' }, body: { to: target, name: 'crashfork' } });
    const docker = async (args: string[]) => (await run('docker', args, { timeoutMs: 120_000 })).stdout.trim();
    const helper = await waitFor('the fork’s restore helper to run', async () => {
      for (const id of (await docker(['ps', '-q', '--filter', 'label=berth.addon-job'])).split('\n').filter(Boolean)) {
        const args = JSON.parse(await docker(['inspect', '-f', '{{json .Args}}', id])) as string[];
        if (args.includes('fork') && args.includes(pgTimeOf(target))) return id;
      }
      return undefined;
    }, { timeoutMs: 120_000, intervalMs: 50 });
    await s.kill();
    assert.equal((await run('docker', ['kill', helper], { timeoutMs: 30_000 })).code, 0, 'the helper killed mid-restore');
    await s.start();
    const fork = await addonIs('crashfork', (x) => x.status === 'running' && x.fork?.recovered_to != null, 'the fork restored after the crash');
    assert.equal(fork.fork?.target, target);
    assert.equal(await psql(fork.id, "select string_agg(n::text, ',' order by n) from f"), '1,2', 'the fork: the rows before the time, none after');
    // The source: serving, every row, no restore of its own, its backups as they were; its archive still takes WAL and base backups.
    const source = await get('db');
    assert.equal(source.status, 'running', source.message ?? '');
    assert.equal(source.rewind, null);
    assert.equal(await psql(db.id, "select string_agg(n::text, ',' order by n) from f"), '1,2,3,4', 'the source has every row');
    assert.deepEqual((await backups(db.id)).map((b) => b.label).slice(0, before.length), before.map((b) => b.label), 'the source’s base backups are all there');
    await inServer(db.id, 'PGPASSWORD="$BERTH_ADDON_PASSWORD" pgbackrest --stanza=berth "--pg1-user=$BERTH_ADDON_USER" check');
    const next = await baseBackupNow(db.id);
    assert.ok(!before.some((b) => b.label === next.label), `a new base backup of the source: ${next.label}`);
  });
});
