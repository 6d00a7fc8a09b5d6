import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, type BerthClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';
import { run } from '../../src/lib/exec.js';
import { backupFile } from '../../src/domain/backups.js';
import { addonContainer, addonPsql, cli, rejectsWith } from './helpers.js';

/**
 * Restores verified automatically, on the real Docker Engine with the real PostgreSQL and Redis
 * add-ons: each backup is restored into a throwaway container and asked a question; a truncated
 * file fails the check, which is told to the notification targets of the apps the add-on serves.
 * Also: Redis's append-only file keeps writes across a kill -9.
 */
describe('backup restore checks', () => {
  let s: TestServer;
  let dev: BerthClient;
  let home: string;
  let receiver: Server;
  let hookUrl: string;
  const received: { event: { kind: string; message: string } }[] = [];
  const berth = cli(() => s, () => dev, () => home);

  const psql = addonPsql;
  const redis = async (addonId: string, ...args: string[]) =>
    (await run('docker', ['exec', await addonContainer(addonId), 'sh', '-c', 'REDISCLI_AUTH="$BERTH_ADDON_PASSWORD" redis-cli "$@"', 'redis-cli', ...args], { timeoutMs: 30_000 })).stdout.trim();
  const running = (name: string) =>
    waitFor(`add-on ${name} to run`, async () => {
      const a = await dev.call('getAddon', { params: { id: name }, query: { project: 'vfy' } });
      return a.status === 'running' ? a : undefined;
    }, { timeoutMs: 120_000, intervalMs: 300 });
  /** Waits for the backup's check to have ended (ok or failed). */
  const checked = (addon: string, job: string) =>
    waitFor(`the restore check of ${job}`, async () => {
      const j = await dev.call('getAddonJob', { params: { id: addon, job } });
      if (j.status === 'failed') throw new Error(`the backup failed: ${JSON.stringify(j)}`);
      return j.verified && j.verified.status !== 'pending' ? j : undefined;
    }, { timeoutMs: 180_000, intervalMs: 300 }).catch((err: Error) => {
      throw new Error(`${err.message}\n${s.output().split('\n').filter((l) => /verif|backup/.test(l)).slice(-20).join('\n')}`);
    });
  const leftovers = async () => (await run('docker', ['ps', '-aq', '--filter', 'label=berth.addon-verify', '--filter', `label=berth.instance=${s.instance}`], { timeoutMs: 30_000 })).stdout.trim();

  before(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(JSON.parse(Buffer.concat(chunks).toString()));
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    s = await startServer({ egressAllow: '127.0.0.1/32' });
    dev = await s.newUser('dev');
    home = await mkdtemp(join(tmpdir(), 'berth-verify-'));
    await dev.call('createProject', { body: { name: 'vfy' } });
    await dev.call('createAddon', { body: { type: 'postgres', name: 'db', project: 'vfy' } });
    await dev.call('createAddon', { body: { type: 'redis', name: 'cache', project: 'vfy' } });
  });
  after(async () => {
    await s?.destroy();
    receiver?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  test('a backup of a database with rows restores and answers; the owner’s own query’s answer is recorded; the list shows verified', async () => {
    const db = await running('db');
    // Its first base backup (point-in-time recovery) is taken as soon as it runs, and checked the same way.
    const base = await waitFor('the first base backup’s check', async () => (await dev.call('getAddon', { params: { id: db.id }, query: {} })).pitr?.verified ?? undefined, { timeoutMs: 180_000, intervalMs: 300 });
    assert.equal(base.status, 'ok', base.error ?? '');
    assert.equal(base.answer, '0', 'restored from pgBackRest’s archive: no user table yet');
    await psql(db.id, 'create table notes (id serial primary key, body text); create table tags (name text)');
    await psql(db.id, "insert into notes (body) select 'note ' || g from generate_series(1, 3) g");

    const out = await berth(['addons', 'backup', 'db', '--json']);
    assert.equal(out.code, 0, out.stderr);
    const backup = JSON.parse(out.stdout) as { id: string };
    const first = await checked(db.id, backup.id);
    assert.equal(first.verified!.status, 'ok', first.verified!.error ?? '');
    assert.equal(first.verified!.answer, '2', 'the default query counts the user tables: notes and tags');
    assert.ok(first.verified!.duration_ms! > 0);

    const set = await berth(['addons', 'update', 'db', '--project', 'vfy', '--verify-query', "select count(*) || ' notes, last: ' || max(body) from notes"]);
    assert.equal(set.code, 0, set.stderr);
    assert.match((await dev.call('getAddon', { params: { id: db.id }, query: {} })).verify_query ?? '', /from notes$/);
    const again = await berth(['addons', 'verify', 'db', backup.id]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /ok \(3 notes, last: note 3\)/);
    assert.equal(((await checked(db.id, backup.id)).verified!.answer), '3 notes, last: note 3');

    const list = await berth(['addons', 'backups', 'db']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /VERIFIED/);
    assert.match(list.stdout, new RegExp(`${backup.id}.*ok \\(3 notes, last: note 3\\)`));
    const events = (await dev.call('listEvents', { query: {} })).items.map((e) => e.kind);
    assert.ok(events.includes('addon.backup.verified') && events.includes('addon.base_backup.verified'), events.join(' '));
    assert.equal(await leftovers(), '', 'the throwaway containers are gone');
  });

  test('a backup file truncated on disk fails its check with the reason, and the apps’ notification targets are told', async () => {
    const db = await running('db');
    await dev.call('createApp', { body: { name: 'web', project: 'vfy' } });
    await dev.call('attachAddon', { params: { id: db.id }, query: {}, body: { app: 'web' } });
    await dev.call('addNotification', { params: { id: 'web' }, body: { kind: 'webhook', url: hookUrl } });
    await dev.call('updateAddon', { params: { id: db.id }, query: {}, body: { verify_query: null } });
    const job = await dev.call('createBackup', { params: { id: db.id } });
    assert.equal((await checked(db.id, job.id)).verified!.status, 'ok');

    const file = backupFile(s.dataDir, { kind: 'addon', id: db.id }, job.id, 'dump');
    await truncate(file, Math.floor((await stat(file)).size / 2));
    const asked = await dev.call('verifyAddonBackup', { params: { id: db.id, job: job.id } });
    assert.equal(asked.verified!.status, 'pending');
    const bad = await checked(db.id, job.id);
    assert.equal(bad.verified!.status, 'failed');
    assert.match(bad.verified!.error ?? '', /pg_restore could not restore the backup/);
    assert.equal(bad.verified!.answer, null);
    await waitFor('the webhook to be told', async () => received.find((r) => r.event.kind === 'addon.backup.verify_failed') ?? undefined, { timeoutMs: 30_000, intervalMs: 200 });
    const told = received.find((r) => r.event.kind === 'addon.backup.verify_failed')!;
    assert.match(told.event.message, new RegExp(`backup ${job.id} of db did not restore`));
    assert.equal(await leftovers(), '', 'the throwaway containers are gone');
  });

  test('the query is checked (400 naming verify_query); a viewer may not set it or ask for a check, another project’s user does not see the add-on', async () => {
    const db = await running('db');
    for (const q of ['select 1; drop table notes', 'delete from notes', '\\! id', "select 'open", '  ']) {
      await rejectsWith(dev.call('updateAddon', { params: { id: db.id }, query: {}, body: { verify_query: q } }), 400, 'verify_query');
    }
    // A semicolon inside a string or a comment is not a second statement.
    await dev.call('updateAddon', { params: { id: db.id }, query: {}, body: { verify_query: "select count(*) from notes where body <> 'a;b' -- one; statement\n;" } });
    await rejectsWith(dev.call('updateAddon', { params: { id: 'cache' }, query: { project: 'vfy' }, body: { verify_query: 'select 1' } }), 400, 'verify_query');
    const [b] = (await dev.call('listBackups', { params: { id: db.id } })).items;

    const viewer = await s.newUser('viewer');
    await dev.call('addMember', { params: { id: 'vfy' }, body: { username: 'viewer', role: 'viewer' } });
    const stranger = await s.newUser('stranger');
    const status = (p: Promise<unknown>, code: number) => assert.rejects(p, (err: unknown) => err instanceof ApiError && err.status === code);
    await status(viewer.call('updateAddon', { params: { id: db.id }, query: {}, body: { verify_query: 'select 1' } }), 403);
    await status(viewer.call('verifyAddonBackup', { params: { id: db.id, job: b!.id } }), 403);
    await status(stranger.call('updateAddon', { params: { id: db.id }, query: {}, body: { verify_query: 'select 1' } }), 404);
    await status(stranger.call('verifyAddonBackup', { params: { id: db.id, job: b!.id } }), 404);
    assert.match((await viewer.call('getAddon', { params: { id: db.id }, query: {} })).verify_query ?? '', /a;b/, 'unchanged, and a viewer sees it');
  });

  test('Redis: a snapshot backup loads (DBSIZE answers); writes survive a kill -9 two seconds later (append-only file)', async () => {
    const cache = await running('cache');
    await redis(cache.id, 'mset', 'a', '1', 'b', '2');
    const job = await dev.call('createBackup', { params: { id: cache.id } });
    const done = await checked(cache.id, job.id);
    assert.equal(done.verified!.status, 'ok', done.verified!.error ?? '');
    assert.equal(done.verified!.answer, '2');

    await redis(cache.id, 'set', 'late', 'kept');
    const before = await addonContainer(cache.id);
    await new Promise((r) => setTimeout(r, 2000)); // the append-only file is fsynced every second: the write is on disk by now
    await run('docker', ['kill', '-s', 'KILL', before], { timeoutMs: 30_000 });
    const value = await waitFor('the add-on to answer again after the kill', async () => {
      const r = await run('docker', ['exec', before, 'sh', '-c', 'REDISCLI_AUTH="$BERTH_ADDON_PASSWORD" redis-cli get late'], { timeoutMs: 30_000 }).catch(() => null);
      return r && r.code === 0 && !/LOADING|refused|not running/i.test(r.stdout + r.stderr) ? r.stdout.trim() : undefined;
    }, { timeoutMs: 60_000, intervalMs: 300 });
    assert.equal(value, 'kept');
    assert.equal(await redis(cache.id, 'get', 'a'), '1');
  });
});
