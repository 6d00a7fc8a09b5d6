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
import { rejectsWith, scheduledAndPruned } from './helpers.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { ensureTestAppImage } from '../support/images.js';

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
    await scheduledAndPruned(
      (schedule) => dev.call('updateAddon', { params: { id: 'db' }, query: {}, body: { backup_schedule: schedule, backup_keep: 2 } }),
      async () => (await dev.call('listBackups', { params: { id: 'db' } })).items,
    );
  });

  test('bad input is refused with the field named; Redis: attach, data kept across a restart, backup and restore', async () => {
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
    // Redis keeps its data across a restart of its container (append-only file in its volume).
    const rctr = (await run('docker', ['ps', '-q', '--filter', `label=berth.addon=${cache.id}`], { timeoutMs: 30_000 })).stdout.trim();
    const renv = JSON.parse((await run('docker', ['inspect', rctr], { timeoutMs: 30_000 })).stdout)[0].Config.Env as string[];
    const pw = renv.find((e) => e.startsWith('BERTH_ADDON_PASSWORD='))!.split('=').slice(1).join('=');
    const cli = (...args: string[]) => run('docker', ['exec', '-e', `REDISCLI_AUTH=${pw}`, rctr, 'redis-cli', '--no-auth-warning', ...args], { timeoutMs: 30_000 });
    assert.equal((await cli('SET', 'greeting', 'kept')).stdout.trim(), 'OK');
    await run('docker', ['restart', rctr], { timeoutMs: 60_000 });
    const got = await waitFor('redis to answer after its restart', async () => {
      const r = await cli('GET', 'greeting');
      return r.code === 0 && !/LOADING|refused/i.test(r.stdout + r.stderr) ? r.stdout.trim() : undefined;
    }, { timeoutMs: 60_000, intervalMs: 300 });
    assert.equal(got, 'kept');
    // Backup, change, restore: the value in the snapshot is back.
    const snap = await jobDone('cache', (await dev.call('createBackup', { params: { id: 'cache' } })).id);
    assert.equal(snap.status, 'succeeded', snap.reason ?? '');
    assert.equal((await cli('SET', 'greeting', 'changed')).stdout.trim(), 'OK');
    const back = await jobDone('cache', (await dev.call('restoreBackup', { params: { id: 'cache' }, body: { backup: snap.id } })).id);
    assert.equal(back.status, 'succeeded', back.reason ?? '');
    const restored = await waitFor('redis to answer after the restore', async () => {
      const r = await cli('GET', 'greeting');
      return r.code === 0 && !/LOADING|refused/i.test(r.stdout + r.stderr) ? r.stdout.trim() : undefined;
    }, { timeoutMs: 60_000, intervalMs: 300 });
    assert.equal(restored, 'kept');
    await dev.call('deleteAddon', { params: { id: cache.id }, query: {} });
    await waitFor('the add-on container and volume to go', async () => {
      const left = (await run('docker', ['ps', '-aq', '--filter', `label=berth.addon=${cache.id}`], { timeoutMs: 30_000 })).stdout.trim();
      const vols = (await run('docker', ['volume', 'ls', '-q', '--filter', `label=berth.addon=${cache.id}`], { timeoutMs: 30_000 })).stdout.trim();
      return left === '' && vols === '' ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 300 });
  });

  test('isolation: an app of another project cannot reach the add-on, by name or by address', async () => {
    const image = await ensureTestAppImage(new DockerRuntime({}));
    await dev.call('createApp', { body: { name: 'outsider', project: 'elsewhere', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    await dev.call('deployApp', { params: { id: 'outsider' }, body: { image_id: image } });
    assert.equal((await settled(dev, 'outsider', 1, 90_000)).status, 'live');
    const db = await dev.call('getAddon', { params: { id: 'db' }, query: {} });
    const ctr = (await run('docker', ['ps', '-q', '--filter', `label=berth.addon=${db.id}`], { timeoutMs: 30_000 })).stdout.trim();
    const nets = JSON.parse((await run('docker', ['inspect', ctr], { timeoutMs: 30_000 })).stdout)[0].NetworkSettings.Networks as Record<string, { IPAddress: string }>;
    assert.equal(Object.keys(nets).length, 1, 'on its project network only');
    const ip = Object.values(nets)[0]!.IPAddress;
    const probe = (host: string) =>
      `const s=require('net').connect({host:'${host}',port:5432,timeout:3000});` +
      `s.on('connect',()=>{console.log('reached');process.exit(1)});` +
      `s.on('timeout',()=>{console.log('unreachable');process.exit(0)});s.on('error',(e)=>{console.log('unreachable '+e.code);process.exit(0)})`;
    for (const host of ['db', ip]) {
      const started = await dev.call('runCommand', { params: { id: 'outsider' }, body: { command: ['node', '-e', probe(host)] } });
      const r = await waitFor('the probe', async () => {
        const x = await dev.call('getRun', { params: { id: started.id } });
        return x.status === 'succeeded' || x.status === 'failed' ? x : undefined;
      }, { timeoutMs: 60_000, intervalMs: 200 });
      assert.equal(r.exit_code, 0, `${host}: ${r.output}`);
      assert.match(r.output, /unreachable/);
    }
  });

  test('kill -9 of the control plane during a backup: on start it is failed with the reason and its helper removed', async () => {
    const db = await dev.call('getAddon', { params: { id: 'db' }, query: {} });
    const ctr = (await run('docker', ['ps', '-q', '--filter', `label=berth.addon=${db.id}`], { timeoutMs: 30_000 })).stdout.trim();
    const helpers = async () => (await run('docker', ['ps', '-aq', '--filter', `label=berth.instance=${s.instance}`, '--filter', 'label=berth.addon-job'], { timeoutMs: 30_000 })).stdout.trim();
    // A paused server holds pg_dump at its connection: the backup stays running until the kill.
    await run('docker', ['pause', ctr], { timeoutMs: 30_000 });
    try {
      const job = await dev.call('createBackup', { params: { id: 'db' } });
      await waitFor('the backup to run', async () => ((await dev.call('getAddonJob', { params: { id: 'db', job: job.id } })).status === 'running' && (await helpers()) ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 100,
      });
      await s.kill();
      await run('docker', ['unpause', ctr], { timeoutMs: 30_000 });
      await s.start();
      dev = s.client(dev.opts.token);
      const j = await jobDone('db', job.id);
      assert.equal(j.status, 'failed');
      assert.match(j.reason ?? '', /control plane stopped during the backup/);
      await waitFor('no helper container left', async () => ((await helpers()) === '' ? true : undefined), { timeoutMs: 30_000, intervalMs: 200 });
      const next = await jobDone('db', (await dev.call('createBackup', { params: { id: 'db' } })).id);
      assert.equal(next.status, 'succeeded', 'backups work again');
    } finally {
      await run('docker', ['unpause', ctr], { timeoutMs: 30_000 });
    }
  });
});
