import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { ApiError, type BerthClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';
import { run } from '../../src/lib/exec.js';
import { rcloneEnv } from '../../src/domain/offsite-copy.js';
import { cli, rejectsWith } from './helpers.js';

/**
 * Off-site copies on a real S3-compatible server (s3rver, over TLS with a certificate this test
 * makes) with real pgBackRest, rclone and Docker: the bucket holds the add-on's WAL, base backups
 * and dump, none of it readable; then the whole installation is destroyed (containers, data and
 * archive volumes, data dir, database) and a fresh one given only the bucket and the key restores
 * the add-on to a point in time.
 */

type S3rverServer = { run(): Promise<{ port: number }>; close(): Promise<void> };
const S3rver = createRequire(import.meta.url)('s3rver') as new (o: object) => S3rverServer;

describe('off-site, encrypted copies of add-on backups', () => {
  let s: TestServer;
  let dev: BerthClient;
  let home: string;
  let s3dir: string;
  let s3: S3rverServer;
  let endpoint: string;
  let gateway: string;
  let key = '';
  let oldId = '';
  let target = '';
  let rowsBefore: string[] = [];
  const bucket = 'berth-offsite';
  const MARKER = 'plaintext-marker-7f3a9c';
  const TABLE = 'ledger_of_secrets';
  const berth = (token: () => string) => cli(() => s, () => ({ opts: { token: token() } }) as BerthClient, () => home);

  const container = async (addonId: string) => (await run('docker', ['ps', '-q', '--filter', `label=berth.addon=${addonId}`], { timeoutMs: 30_000 })).stdout.trim();
  const psql = async (addonId: string, sql: string) =>
    (await run('docker', ['exec', await container(addonId), 'sh', '-c', 'PGPASSWORD="$BERTH_ADDON_PASSWORD" psql -h /tmp -U "$BERTH_ADDON_USER" -d "$BERTH_ADDON_DB" -v ON_ERROR_STOP=1 -Atc "$0"', sql], { timeoutMs: 60_000 })).stdout.trim();
  const addonIs = (c: BerthClient, id: string, ok: (a: Awaited<ReturnType<BerthClient['call']>> & { status: string }) => boolean, what: string) =>
    waitFor(what, async () => {
      const a = await c.call('getAddon', { params: { id }, query: {} });
      if (a.status === 'failed') throw new Error(`${id} failed: ${a.message}`);
      return ok(a as never) ? a : undefined;
    }, { timeoutMs: 180_000, intervalMs: 300 }).catch(async (err: Error) => {
      const a = await c.call('getAddon', { params: { id }, query: {} });
      const told = (await c.call('listEvents', { query: { limit: 1000 } })).items.filter((e) => e.data?.addon === id).map((e) => `${e.created_at} ${e.kind}: ${e.message}`);
      const said = s.output().split('\n').filter((l) => !/"(incoming request|request completed)"/.test(l));
      throw new Error(`${err.message}; the add-on: ${JSON.stringify(a)}\nits events:\n${told.join('\n')}\n${said.slice(-30).join('\n')}`);
    });
  /** Every file s3rver keeps for the bucket, with its bytes. */
  const bucketFiles = async () => (await run('find', [join(s3dir, bucket), '-type', 'f', '-name', '*._S3rver_object'], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
  const grepBucket = async (what: string) => (await run('grep', ['-rlaF', what, join(s3dir, bucket)], { timeoutMs: 60_000 })).stdout.split('\n').filter(Boolean);

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'berth-offsite-'));
    s3dir = join(home, 's3');
    // The engine's default bridge's address on this machine: add-on containers reach the S3 server there.
    gateway = (await run('docker', ['network', 'inspect', 'bridge', '-f', '{{(index .IPAM.Config 0).Gateway}}'], { timeoutMs: 30_000 })).stdout.trim();
    assert.match(gateway, /^\d+\.\d+\.\d+\.\d+$/);
    const made = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(home, 'key.pem'), '-out', join(home, 'ca.pem'), '-days', '1', '-subj', `/CN=${gateway}`, '-addext', `subjectAltName=IP:${gateway},DNS:${gateway}`, '-addext', 'basicConstraints=critical,CA:TRUE'], { timeoutMs: 60_000 });
    assert.equal(made.code, 0, made.stderr);
    s3 = new S3rver({ address: gateway, port: 0, silent: true, directory: s3dir, key: await readFile(join(home, 'key.pem')), cert: await readFile(join(home, 'ca.pem')), configureBuckets: [{ name: bucket }] });
    endpoint = `https://${gateway}:${(await s3.run()).port}`;
    s = await startServer({ egressAllow: `${gateway}/32` });
    dev = await s.newUser('dev');
    await dev.call('createProject', { body: { name: 'shop' } });
  });
  after(async () => {
    await s?.destroy();
    await s3?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const setArgs = (extra: string[] = []) => ['cluster', 'backup-destination', 'set', '--endpoint', endpoint, '--bucket', bucket, '--region', 'us-east-1', '--access-key', 'S3RVER', '--secret-key', 'S3RVER', '--ca', join(home, 'ca.pem'), '--json', ...extra];

  test('an admin sets the destination: the key is shown once, never the credentials; others get 403, bad fields 400 naming the field', async () => {
    const body = { endpoint, bucket, region: 'us-east-1', access_key: 'S3RVER', secret_key: 'S3RVER' };
    for (const call of [() => dev.call('getBackupDestination', {}), () => dev.call('setBackupDestination', { body }), () => dev.call('deleteBackupDestination', {})]) {
      await assert.rejects(call(), (err: unknown) => err instanceof ApiError && err.status === 403);
    }
    await rejectsWith(s.admin.call('setBackupDestination', { body: { ...body, endpoint: endpoint.replace('https:', 'http:') } }), 400, 'endpoint');
    await rejectsWith(s.admin.call('setBackupDestination', { body: { ...body, endpoint: 'https://127.0.0.1:9' } }), 400, 'endpoint');
    await rejectsWith(s.admin.call('setBackupDestination', { body: { ...body, endpoint: `${endpoint}/path` } }), 400, 'endpoint');
    await rejectsWith(s.admin.call('setBackupDestination', { body: { ...body, bucket: 'Not_A_Bucket' } }), 400, 'bucket');
    await rejectsWith(s.admin.call('setBackupDestination', { body: { ...body, region: 'us east' } }), 400, 'region');
    await rejectsWith(s.admin.call('setBackupDestination', { body: { ...body, secret_key: 'has space' } }), 400, 'secret_key');
    await rejectsWith(s.admin.call('setBackupDestination', { body: { ...body, ca: 'not a certificate' } }), 400, 'ca');
    await rejectsWith(s.admin.call('setBackupDestination', { body: { ...body, encryption_key: 'short' } }), 400, 'encryption_key');
    await assert.rejects(s.admin.call('getBackupDestination', {}), (err: unknown) => err instanceof ApiError && err.status === 404, 'nothing was set by the refused calls');

    const out = await berth(() => s.adminToken)(setArgs());
    assert.equal(out.code, 0, out.stderr);
    const set = JSON.parse(out.stdout) as { encryption_key: string | null; ca: boolean };
    assert.match(set.encryption_key ?? '', /^[A-Za-z0-9_-]{43}$/, 'the key, shown in the answer that made it');
    key = set.encryption_key!;
    assert.equal(set.ca, true);
    const again = await berth(() => s.adminToken)(setArgs());
    assert.equal(JSON.parse(again.stdout).encryption_key, null, 'a second set keeps the key and does not show it');
    const read = JSON.stringify(await s.admin.call('getBackupDestination', {}));
    assert.ok(!read.includes(key) && !read.includes('S3RVER'), `no key or credential in a read: ${read}`);
    assert.equal(JSON.parse(read).encryption_key, null);
  });

  test('a PostgreSQL add-on’s WAL, base backups and dumps reach the bucket, and none of its data can be read there', async () => {
    const created = await dev.call('createAddon', { body: { type: 'postgres', name: 'db', project: 'shop' } });
    oldId = created.id;
    await addonIs(dev, oldId, (a) => a.status === 'running' && (a as { pitr: { earliest: string | null } }).pitr.earliest != null, 'db to run with its first base backup');
    await psql(oldId, `create table ${TABLE} (id serial primary key, note text not null)`);
    for (let i = 0; i < 3; i++) await psql(oldId, `insert into ${TABLE} (note) values ('${MARKER}-before-${i}')`);
    rowsBefore = (await psql(oldId, `select note from ${TABLE} order by id`)).split('\n');
    // The target: after the first rows committed (each psql its own session), before the next ones.
    target = new Date(Number(await psql(oldId, 'select extract(epoch from clock_timestamp())')) * 1000).toISOString();
    for (let i = 0; i < 3; i++) await psql(oldId, `insert into ${TABLE} (note) values ('${MARKER}-after-${i}')`);
    // Close the segment and wait until it is archived: archive-push reports success only when both repositories have it.
    const seg = await psql(oldId, 'select pg_walfile_name(pg_switch_wal())');
    await waitFor('the WAL segment to be archived to both repositories', async () => {
      const last = await psql(oldId, 'select coalesce(last_archived_wal, \'\') from pg_stat_archiver');
      return last >= seg ? true : undefined;
    }, { timeoutMs: 120_000, intervalMs: 300 });

    const job = await dev.call('createBackup', { params: { id: oldId } });
    const dump = await waitFor('the dump and its off-site copy', async () => {
      const j = (await dev.call('listBackups', { params: { id: oldId } })).items.find((x) => x.id === job.id);
      if (j?.status === 'failed') throw new Error(`the dump failed: ${j.reason}`);
      if (j?.offsite?.error) throw new Error(`the off-site copy failed: ${j.offsite.error}`);
      return j?.offsite?.at ? j : undefined;
    }, { timeoutMs: 120_000, intervalMs: 300 });

    const files = await bucketFiles();
    const repo = join(s3dir, bucket, 'berth/addons', oldId, 'pgbackrest');
    assert.ok(files.some((f) => f.startsWith(join(repo, 'archive/berth/'))), `WAL in the bucket: ${files.slice(0, 10).join(', ')}`);
    assert.ok(files.some((f) => f.startsWith(join(repo, 'backup/berth/')) && f.includes('/pg_data/')), 'a base backup in the bucket');
    assert.ok(files.some((f) => f.startsWith(join(s3dir, bucket, 'berth/files/'))), 'the dump in the bucket');
    assert.ok(!files.some((f) => f.includes(oldId) && f.includes('berth/files')), 'the dump’s name is encrypted too');
    assert.deepEqual(await grepBucket(MARKER), [], 'no row value in any object');
    assert.deepEqual(await grepBucket(TABLE), [], 'no table name in any object');
    // The same search finds the rows where they are in plain text: the add-on's own WAL.
    const wal = await run('docker', ['exec', await container(oldId), 'sh', '-c', `grep -rlaF ${MARKER} /data/pgdata/pg_wal | head -1`], { timeoutMs: 30_000 });
    assert.notEqual(wal.stdout.trim(), '', 'the marker is in the server’s own WAL');

    // The dump comes back by hand with rclone and the key alone, as docs/stateful.md says.
    const obscured = (await run('rclone', ['obscure', '-'], { timeoutMs: 30_000, input: key })).stdout.trim();
    const env = { PATH: process.env.PATH, HOME: home, ...rcloneEnv({ endpoint, host: gateway, port: 0, bucket, region: 'us-east-1', accessKey: 'S3RVER', secretKey: 'S3RVER', key, ca: null }, obscured) };
    const back = join(home, 'dump.back');
    const got = await run('rclone', ['copyto', `berthcrypt:addons/${oldId}/${dump.id}.dump`, back, '--config', '/dev/null', '--ca-cert', join(home, 'ca.pem')], { timeoutMs: 60_000, env });
    assert.equal(got.code, 0, got.stderr);
    const dl = await fetch(dev.url(`/api/v1/addons/${oldId}/backups/${dump.id}/download`), { headers: { authorization: `Bearer ${dev.opts.token}` } });
    assert.ok(Buffer.from(await dl.arrayBuffer()).equals(await readFile(back)), 'the copy decrypts to the dump, byte for byte');
  });

  test('the installation is lost; a fresh one given the bucket and the key restores the add-on to a point in time', async () => {
    assert.ok(oldId && key && target, 'the previous test made the add-on');
    await s.destroy(); // its containers, data and archive volumes, data dir and database
    const gone = await run('docker', ['volume', 'ls', '-q', '--filter', `name=${oldId.replace('_', '-')}`], { timeoutMs: 30_000 });
    assert.equal(gone.stdout.trim(), '', 'no volume of the old add-on is left');

    s = await startServer({ egressAllow: `${gateway}/32` });
    const admin = s.admin;
    await admin.call('createProject', { body: { name: 'rescue' } });
    const dev2 = await s.newUser('dev');
    await rejectsWith(admin.call('importAddon', { body: { from_addon: oldId, project: 'rescue' } }), 409, 'from_addon');
    const set = await berth(() => s.adminToken)(setArgs(['--key', key]));
    assert.equal(set.code, 0, set.stderr);
    assert.equal(JSON.parse(set.stdout).encryption_key, null, 'a key given is not shown back');
    await assert.rejects(dev2.call('importAddon', { body: { from_addon: oldId } }), (err: unknown) => err instanceof ApiError && err.status === 403);
    await rejectsWith(admin.call('importAddon', { body: { from_addon: oldId, project: 'rescue', to: 'yesterday' } }), 400, 'to');

    const started = Date.now();
    const out = await berth(() => s.adminToken)(['addons', 'import', '--from-addon', oldId, '--to', target, '--name', 'db', '--project', 'rescue', '--json']);
    assert.equal(out.code, 0, out.stderr + out.stdout);
    const a = JSON.parse(out.stdout) as { id: string; status: string; message: string | null; imported: { from: string; target: string; recovered_to: string } };
    assert.equal(a.status, 'running', a.message ?? '');
    console.log(`import restore took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(a.imported.from, oldId);
    assert.ok(new Date(a.imported.recovered_to) <= new Date(target), `recovery point ${a.imported.recovered_to} by ${target}`);
    assert.deepEqual((await psql(a.id, `select note from ${TABLE} order by id`)).split('\n'), rowsBefore, 'the rows committed by the time, none after');
    await psql(a.id, `insert into ${TABLE} (note) values ('new life')`);
    assert.equal(await psql(a.id, `select count(*) from ${TABLE}`), String(rowsBefore.length + 1), 'it takes writes with its new password');
  });
});
