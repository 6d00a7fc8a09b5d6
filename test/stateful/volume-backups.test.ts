import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage, BASE_IMAGE } from '../support/images.js';
import { viaRouter } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { run } from '../../src/lib/exec.js';
import { healthy } from '../support/rollout.js';
import { cli, deployKeeper, rejectsWith, scheduledAndPruned } from './helpers.js';

/**
 * Backups of app volumes on the real Docker Engine: tar snapshots taken and restored by a root
 * helper with no network, the app's non-root user owning its files again afterwards.
 */
describe('volume backups', () => {
  let s: TestServer;
  let dev: BerthClient;
  let stranger: BerthClient;
  let home: string;
  let engineName: string;
  const get = (path: string) => viaRouter(s.routerPort, 'keeper.localhost', path);
  const docker = (args: string[]) => run('docker', args, { timeoutMs: 60_000 });
  const berth = cli(() => s, () => dev, () => home);
  const helpers = async () => (await docker(['ps', '-aq', '--filter', `label=berth.instance=${s.instance}`, '--filter', 'label=berth.volume-job'])).stdout.trim();
  const jobDone = (volume: string, id: string) =>
    waitFor('the job to finish', async () => {
      const j = await dev.call('getVolumeJob', { params: { id: volume, job: id } });
      return j.status === 'succeeded' || j.status === 'failed' ? j : undefined;
    }, { timeoutMs: 120_000, intervalMs: 200 });
  /** Runs a one-off command in the app (as its user) and returns its output. */
  const inApp = async (script: string) => {
    const started = await dev.call('runCommand', { params: { id: 'keeper' }, body: { command: ['node', '-e', script] } });
    const r = await waitFor('the command', async () => {
      const x = await dev.call('getRun', { params: { id: started.id } });
      return x.status === 'succeeded' || x.status === 'failed' ? x : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    assert.equal(r.exit_code, 0, r.output);
    return r.output;
  };
  const stopped = () => waitFor('no container to use the volume', async () => ((await docker(['ps', '-q', '--filter', `volume=${engineName}`])).stdout.trim() === '' ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });

  before(async () => {
    const image = await ensureTestAppImage(new DockerRuntime({}));
    s = await startServer();
    dev = await s.newUser('dev');
    stranger = await s.newUser('stranger');
    home = mkdtempSync(join(tmpdir(), 'berth-volbackup-'));
    await dev.call('createProject', { body: { name: 'web' } });
    await stranger.call('createProject', { body: { name: 'theirs' } });
    engineName = (await dev.call('createVolume', { body: { name: 'data', project: 'web', size_mb: 64 } })).engine_name;
    await deployKeeper(s, dev, image, 'web', [{ volume: 'data', path: '/data' }]);
  });
  after(async () => {
    await s?.destroy();
  });

  test('backup, delete, restore (refused while the app runs): the file is back, owned by the app, which can still write', async () => {
    const w = await get('/file?path=/data/note.txt&write=kept');
    assert.equal(w.status, 200, w.body);
    const uid = JSON.parse((await get('/')).body).uid as number;
    assert.notEqual(uid, 0);

    const info = await dev.call('getVolume', { params: { id: 'data' }, query: { project: 'web' } });
    assert.ok(info.used_bytes !== null && info.used_bytes >= 4, `used bytes measured: ${info.used_bytes}`);
    assert.equal(info.size_mb, 64);

    const b = await berth(['volumes', 'backup', 'data', '--json']);
    assert.equal(b.code, 0, b.stderr);
    const backup = JSON.parse(b.stdout);
    assert.equal(backup.status, 'succeeded', backup.reason ?? '');
    assert.ok(backup.size_bytes > 0);
    const list = JSON.parse((await berth(['volumes', 'backups', 'data', '--json'])).stdout);
    assert.deepEqual(list.map((j: { id: string }) => j.id), [backup.id]);

    await inApp(`require('fs').unlinkSync('/data/note.txt'); require('fs').writeFileSync('/data/later.txt', 'after the backup')`);
    assert.equal((await get('/file?path=/data/note.txt')).status, 404, 'deleted');

    // The app runs: the restore is refused, naming the app and what to do.
    await assert.rejects(dev.call('restoreVolume', { params: { id: 'data' }, body: { backup: backup.id } }), (err: Error & { status?: number }) => {
      assert.equal(err.status, 409);
      assert.match(err.message, /mounted by keeper.*stop keeper first/);
      return true;
    });
    const wrong = await berth(['volumes', 'restore', 'data', backup.id], 'dta\n');
    assert.equal(wrong.code, 1, 'a wrong typed confirmation stops it');
    assert.match(wrong.stderr, /does not match/);

    await dev.call('stopApp', { params: { id: 'keeper' } });
    await stopped();
    const r = await berth(['volumes', 'restore', 'data', backup.id, '--json'], 'data\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).status, 'succeeded', r.stdout);

    await dev.call('startApp', { params: { id: 'keeper' } });
    await healthy(dev, 'keeper', 1, { timeoutMs: 90_000 });
    const back = await get('/file?path=/data/note.txt');
    assert.equal(back.status, 200, back.body);
    assert.equal(JSON.parse(back.body).content, 'kept', 'the file is back');
    assert.equal((await get('/file?path=/data/later.txt')).status, 404, 'a file made after the backup is gone: the volume is as it was');
    // Overwriting needs the file to be the app's own again (0644); a new file needs the volume's root writable.
    assert.equal((await get('/file?path=/data/note.txt&write=changed')).status, 200, 'the app can overwrite its restored file');
    assert.equal((await get('/file?path=/data/new.txt&write=fresh')).status, 200, 'the app can still write new files');
  });

  test('download gives a valid tar with numeric owners; size_mb is recorded, not enforced', async () => {
    const [latest] = (await dev.call('listVolumeBackups', { params: { id: 'data' } })).items;
    const file = join(home, 'data.tar');
    const dl = await berth(['volumes', 'backups', 'download', 'data', latest!.id, '-o', file]);
    assert.equal(dl.code, 0, dl.stderr);
    assert.equal(readFileSync(file).length, latest!.size_bytes);
    const listing = await run('tar', ['--numeric-owner', '-tvf', file], { timeoutMs: 30_000 });
    assert.equal(listing.code, 0, listing.stderr);
    const uid = JSON.parse((await get('/')).body).uid as number;
    assert.match(listing.stdout, new RegExp(`^-rw-r--r-- ${uid}/\\d+ +4 .* \\./note\\.txt$`, 'm'), listing.stdout);

    const info = await berth(['volumes', 'info', 'data', '--project', 'web']);
    assert.match(info.stdout, /Used:\s+\d+ bytes/);
    assert.match(info.stdout, /64 \(not enforced\)/);
  });

  test('a schedule takes backups and prunes all but the newest backup_keep', async () => {
    const left = await scheduledAndPruned(
      (schedule) => dev.call('updateVolume', { params: { id: 'data' }, query: { project: 'web' }, body: { backup_schedule: schedule, backup_keep: 2 } }),
      async () => (await dev.call('listVolumeBackups', { params: { id: 'data' } })).items,
    );
    const v = await dev.call('getVolume', { params: { id: 'data' }, query: { project: 'web' } });
    assert.equal(v.backup_keep, 2);
    const files = (await run('ls', [join(s.dataDir, 'volumes', v.id)], { timeoutMs: 10_000 })).stdout.split('\n').filter(Boolean).sort();
    assert.deepEqual(files, left.map((i) => `${i.id}.tar`).sort(), 'pruned backups leave no file behind');
    await rejectsWith(dev.call('updateVolume', { params: { id: 'data' }, query: { project: 'web' }, body: { backup_schedule: 'every day' } }), 400, 'backup_schedule');
  });

  test('a backup of another kind, or of another project, is a 400 naming backup; strangers see nothing', async () => {
    // The newest that succeeded: a scheduled one may still be under way after the schedule was turned off.
    const latest = (await dev.call('listVolumeBackups', { params: { id: 'data' } })).items.find((i) => i.status === 'succeeded');
    await dev.call('createVolume', { body: { name: 'spare', project: 'web' } });
    // An add-on's backup row (queued at once; whether the add-on ever runs does not matter here).
    await dev.call('createAddon', { body: { type: 'redis', name: 'cache', project: 'web' } });
    const addonBackup = await dev.call('createBackup', { params: { id: 'cache' } });
    await rejectsWith(dev.call('restoreVolume', { params: { id: 'spare' }, body: { backup: addonBackup.id } }), 400, 'backup');
    await assert.rejects(dev.call('restoreVolume', { params: { id: 'spare' }, body: { backup: addonBackup.id } }), /is of an add-on; "spare" is a volume/);
    await rejectsWith(dev.call('restoreBackup', { params: { id: 'cache' }, body: { backup: latest!.id } }), 400, 'backup');
    await dev.call('deleteAddon', { params: { id: 'cache' }, query: {} });

    // A volume's backup goes into another volume of its project.
    const copied = await jobDone('spare', (await dev.call('restoreVolume', { params: { id: 'spare' }, body: { backup: latest!.id } })).id);
    assert.equal(copied.status, 'succeeded', copied.reason ?? '');

    const data = await dev.call('getVolume', { params: { id: 'data' }, query: { project: 'web' } });
    const notFound = (p: Promise<unknown>) => assert.rejects(p, (e: Error & { status?: number }) => e.status === 404);
    await notFound(stranger.call('getVolume', { params: { id: data.id }, query: {} }));
    await notFound(stranger.call('listVolumeBackups', { params: { id: data.id } }));
    await notFound(stranger.call('createVolumeBackup', { params: { id: data.id } }));
    await notFound(stranger.call('restoreVolume', { params: { id: data.id }, body: { backup: latest!.id } }));
    await notFound(stranger.call('getVolumeJob', { params: { id: data.id, job: latest!.id } }));
    const dl = await fetch(stranger.url(`/api/v1/volumes/${data.id}/backups/${latest!.id}/download`), { headers: { authorization: `Bearer ${stranger.opts.token}` } });
    assert.equal(dl.status, 404);
    // Nor can they restore another project's backup into a volume of their own.
    await stranger.call('createVolume', { body: { name: 'mine', project: 'theirs' } });
    await rejectsWith(stranger.call('restoreVolume', { params: { id: 'mine' }, body: { backup: latest!.id } }), 400, 'backup');
  });

  test('kill -9 of the control plane during a backup or a restore: on start it is failed with the reason, no helper left', async () => {
    // A big file keeps tar busy long enough to catch its helper and freeze it (docker pause) before the kill.
    await dev.call('stopApp', { params: { id: 'keeper' } });
    await stopped();
    const fill = await docker(['run', '--rm', '--network', 'none', '-v', `${engineName}:/v`, BASE_IMAGE, 'dd', 'if=/dev/urandom', 'of=/v/big', 'bs=1M', 'count=256']);
    assert.equal(fill.code, 0, fill.stderr);
    let backupId = '';
    for (const kind of ['backup', 'restore'] as const) {
      const job =
        kind === 'backup'
          ? await dev.call('createVolumeBackup', { params: { id: 'data' } })
          : await dev.call('restoreVolume', { params: { id: 'data' }, body: { backup: backupId } });
      const helper = await waitFor(`the ${kind} helper to run`, async () => {
        const id = (await docker(['ps', '-q', '--filter', `label=berth.instance=${s.instance}`, '--filter', `label=berth.volume-job=${job.id}`])).stdout.trim();
        return id || undefined;
      }, { timeoutMs: 60_000, intervalMs: 20 });
      const paused = await docker(['pause', helper]);
      assert.equal(paused.code, 0, `caught the ${kind} while it ran: ${paused.stderr}`);
      const inspect = JSON.parse((await docker(['inspect', helper])).stdout)[0];
      assert.equal(inspect.HostConfig.NetworkMode, 'none');
      assert.deepEqual(inspect.HostConfig.CapDrop, ['ALL']);
      assert.deepEqual(inspect.Mounts.map((m: { Name: string; RW: boolean }) => [m.Name, m.RW]), [[engineName, kind === 'restore']], 'a backup mounts the volume read-only');
      await s.kill();
      await s.start();
      dev = s.client(dev.opts.token);
      const j = await jobDone('data', job.id);
      assert.equal(j.status, 'failed');
      assert.match(j.reason ?? '', new RegExp(`control plane stopped during the ${kind}`));
      await waitFor('no helper container left', async () => ((await helpers()) === '' ? true : undefined), { timeoutMs: 30_000, intervalMs: 200 });
      if (kind === 'backup') {
        const next = await jobDone('data', (await dev.call('createVolumeBackup', { params: { id: 'data' } })).id);
        assert.equal(next.status, 'succeeded', next.reason ?? 'backups work again');
        backupId = next.id;
      }
    }
    const again = await jobDone('data', (await dev.call('restoreVolume', { params: { id: 'data' }, body: { backup: backupId } })).id);
    assert.equal(again.status, 'succeeded', again.reason ?? 'restores work again');
  });
});
