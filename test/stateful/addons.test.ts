import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../support/server.js';
import { viaRouter } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { run } from '../../src/lib/exec.js';
import { healthy, settled } from '../support/rollout.js';
import { listSourceFiles, packTarGz } from '../../src/cli/pack.js';
import { buildArchive, waitBuild } from '../builds/helpers.js';
import { rejectsWith } from './helpers.js';

const NODE_PG = new URL('../../../test/fixtures/apps/node-pg/', import.meta.url).pathname;

/**
 * The PostgreSQL add-on on the real Docker Engine: a built Node app (its Procfile's release line
 * makes the table) keeps rows through DATABASE_URL; they survive a redeploy and an add-on restart;
 * a backup, a delete and a restore bring them back; a schedule takes backups and prunes old ones.
 */
describe('add-ons', () => {
  let s: TestServer;
  let dev: BerthClient;
  const notes = async (query = '') => {
    const r = await viaRouter(s.routerPort, 'notes.localhost', `/notes${query}`);
    assert.equal(r.status, 200, r.body);
    return (JSON.parse(r.body) as { notes: string[] }).notes;
  };
  const addonUp = (name: string) =>
    waitFor(`add-on ${name} to run`, async () => {
      const a = await dev.call('getAddon', { params: { id: name }, query: {} });
      return a.status === 'running' ? a : undefined;
    }, { timeoutMs: 120_000, intervalMs: 300 });
  const jobDone = (addon: string, job: string) =>
    waitFor(`job ${job}`, async () => {
      const j = await dev.call('getAddonJob', { params: { id: addon, job } });
      return j.status === 'succeeded' || j.status === 'failed' ? j : undefined;
    }, { timeoutMs: 120_000, intervalMs: 300 });

  before(async () => {
    s = await startServer();
    dev = await s.newUser('dev');
    await dev.call('createProject', { body: { name: 'data' } });
    await dev.call('createProject', { body: { name: 'elsewhere' } });
  });
  after(async () => {
    await s?.destroy();
  });

  test('a built app writes and reads rows through DATABASE_URL; they survive a redeploy and an add-on restart', async () => {
    const db = await dev.call('createAddon', { body: { type: 'postgres', name: 'db', project: 'data' } });
    assert.equal(db.status, 'creating');
    await dev.call('createApp', { body: { name: 'notes', project: 'data', health_check: { path: '/health', timeout_s: 60, grace_s: 0 } } });
    const att = await dev.call('attachAddon', { params: { id: 'db' }, query: { project: 'data' }, body: { app: 'notes' } });
    assert.deepEqual(att.addon.attachments, [{ app: 'notes', as: 'DATABASE', var: 'DATABASE_URL' }]);
    const app = await dev.call('getApp', { params: { id: 'notes' } });
    assert.deepEqual(app.secret_env, ['DATABASE_URL'], 'the URL is a secret config var');
    await addonUp('db');

    const built = await waitBuild(dev, (await buildArchive(dev, 'notes', await packTarGz(NODE_PG, await listSourceFiles(NODE_PG)))).id);
    assert.equal(built.status, 'succeeded', built.message ?? '');
    const v1 = await settled(dev, 'notes', 1, 120_000);
    assert.equal(v1.status, 'live', v1.reason ?? '');
    const migrate = (await dev.call('listRuns', { params: { id: 'notes' } })).items.find((r) => r.kind === 'release');
    assert.deepEqual(migrate?.command, ['sh', '-c', 'node migrate.js'], 'the Procfile release line ran');
    assert.match(migrate?.output ?? '', /migrated/);

    await notes('?add=first');
    assert.deepEqual(await notes('?add=second'), ['first', 'second']);

    await dev.call('deployApp', { params: { id: 'notes' }, body: { build_id: built.id } });
    assert.equal((await settled(dev, 'notes', 2, 120_000)).status, 'live');
    await healthy(dev, 'notes', 1, { release: 2, timeoutMs: 60_000 });
    assert.deepEqual(await notes(), ['first', 'second'], 'rows survive a redeploy');

    // An add-on restart (the engine's restart of its container) keeps the data in its volume.
    const ctr = (await run('docker', ['ps', '-q', '--filter', `label=berth.addon=${db.id}`], { timeoutMs: 30_000 })).stdout.trim();
    assert.ok(ctr, 'the add-on container runs');
    await run('docker', ['restart', ctr], { timeoutMs: 60_000 });
    const again = await waitFor('rows after the add-on restart', async () => {
      const r = await viaRouter(s.routerPort, 'notes.localhost', '/notes');
      return r.status === 200 ? (JSON.parse(r.body) as { notes: string[] }).notes : undefined;
    }, { timeoutMs: 60_000, intervalMs: 300 });
    assert.deepEqual(again, ['first', 'second']);
    const inspect = JSON.parse((await run('docker', ['inspect', ctr], { timeoutMs: 30_000 })).stdout)[0];
    assert.deepEqual(inspect.HostConfig.PortBindings ?? {}, {}, 'never on a host port');
    assert.deepEqual(inspect.HostConfig.CapDrop, ['ALL']);
    assert.notEqual(inspect.Config.User, '');
  });

  test('backup, delete the rows, restore: the rows are back; the backup downloads', async () => {
    const job = await dev.call('createBackup', { params: { id: 'db' } });
    const b = await jobDone('db', job.id);
    assert.equal(b.status, 'succeeded', b.reason ?? '');
    assert.ok((b.size_bytes ?? 0) > 0);
    assert.deepEqual(await notes('?clear=1'), []);
    const r = await dev.call('restoreBackup', { params: { id: 'db' }, body: { backup: b.id } });
    const restored = await jobDone('db', r.id);
    assert.equal(restored.status, 'succeeded', restored.reason ?? '');
    assert.deepEqual(await notes(), ['first', 'second']);

    const dl = await fetch(dev.url(`/api/v1/addons/db/backups/${b.id}/download`), { headers: { authorization: `Bearer ${dev.opts.token}` } });
    assert.equal(dl.status, 200);
    const bytes = Buffer.from(await dl.arrayBuffer());
    assert.equal(bytes.length, b.size_bytes);
    assert.equal(bytes.subarray(0, 5).toString(), 'PGDMP', 'a pg_dump custom-format archive');
  });

  test('a schedule takes backups and prunes all but the newest backup_keep', async () => {
    await dev.call('updateAddon', { params: { id: 'db' }, query: {}, body: { backup_schedule: '*/2 * * * * *', backup_keep: 2 } });
    const seen = new Set<string>();
    await waitFor('three scheduled backups to have been made', async () => {
      const items = (await dev.call('listBackups', { params: { id: 'db' } })).items;
      for (const i of items) if (i.trigger === 'schedule' && i.status === 'succeeded') seen.add(i.id);
      assert.ok(items.filter((i) => i.status === 'succeeded').length <= 2, `more than backup_keep kept: ${items.length}`);
      return seen.size >= 3 ? true : undefined;
    }, { timeoutMs: 120_000, intervalMs: 300 });
    await dev.call('updateAddon', { params: { id: 'db' }, query: {}, body: { backup_schedule: null } });
    const left = (await dev.call('listBackups', { params: { id: 'db' } })).items.filter((i) => i.status === 'succeeded');
    assert.equal(left.length, 2, 'pruned to backup_keep');
  });

  test('bad input and other projects are refused with the field named', async () => {
    await dev.call('createApp', { body: { name: 'stranger', project: 'elsewhere' } });
    await rejectsWith(dev.call('attachAddon', { params: { id: 'db' }, query: {}, body: { app: 'stranger' } }), 400, 'app');
    await rejectsWith(dev.call('createAddon', { body: { type: 'postgres', name: 'db', project: 'data' } }), 409, 'name');
    await rejectsWith(dev.call('createAddon', { body: { type: 'redis', name: 'cache', project: 'data', backup_schedule: 'every day' } }), 400, 'backup_schedule');
    await rejectsWith(dev.call('deleteAddon', { params: { id: 'db' }, query: {} }), 409, 'id');
    const cache = await dev.call('createAddon', { body: { type: 'redis', name: 'cache', project: 'data' } });
    await addonUp('cache');
    const rb = await jobDone('cache', (await dev.call('createBackup', { params: { id: 'cache' } })).id);
    assert.equal(rb.status, 'succeeded', rb.reason ?? '');
    await rejectsWith(dev.call('restoreBackup', { params: { id: 'db' }, body: { backup: rb.id } }), 400, 'backup');
    await dev.call('attachAddon', { params: { id: 'cache' }, query: {}, body: { app: 'notes' } });
    assert.ok((await dev.call('getApp', { params: { id: 'notes' } })).secret_env.includes('REDIS_URL'));
    await dev.call('detachAddon', { params: { id: 'cache' }, query: {}, body: { app: 'notes' } });
    assert.ok(!(await dev.call('getApp', { params: { id: 'notes' } })).secret_env.includes('REDIS_URL'));
    await dev.call('deleteAddon', { params: { id: cache.id }, query: {} });
    await waitFor('the add-on container and volume to go', async () => {
      const left = (await run('docker', ['ps', '-aq', '--filter', `label=berth.addon=${cache.id}`], { timeoutMs: 30_000 })).stdout.trim();
      const vols = (await run('docker', ['volume', 'ls', '-q', '--filter', `label=berth.addon=${cache.id}`], { timeoutMs: 30_000 })).stdout.trim();
      return left === '' && vols === '' ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 300 });
  });
});
