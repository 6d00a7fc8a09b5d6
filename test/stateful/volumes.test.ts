import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { dockerInspect } from '../support/docker.js';
import { viaRouter } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { run } from '../../src/lib/exec.js';
import { healthy, settled } from '../support/rollout.js';
import { deployKeeper, rejectsWith } from './helpers.js';

/** Volumes on the real Docker Engine: an app writes a file as its non-root user, and the file outlives deploys. */
describe('volumes', () => {
  let s: TestServer;
  let dev: BerthClient;
  let image: string;
  const runtime = new DockerRuntime({});
  const get = (slug: string, path: string) => viaRouter(s.routerPort, `${slug}.localhost`, path);
  const engineVolumes = async () => (await run('docker', ['volume', 'ls', '-q', '--filter', `label=berth.instance=${s.instance}`], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);

  before(async () => {
    image = await ensureTestAppImage(runtime);
    s = await startServer();
    dev = await s.newUser('dev');
    await dev.call('createProject', { body: { name: 'web' } });
    await dev.call('createProject', { body: { name: 'other' } });
    await deployKeeper(s, dev, image, 'web');
  });
  after(async () => {
    await s?.destroy();
  });

  test('a mounted volume is writable by the app (not root) and keeps its file across deploys', async () => {
    const v = await dev.call('createVolume', { body: { name: 'data', project: 'web', size_mb: 1024 } });
    assert.equal(v.project.name, 'web');
    assert.deepEqual(v.mounted_by, []);

    const a = await dev.call('updateApp', { params: { id: 'keeper' }, body: { volumes: [{ volume: 'data', path: '/data' }] } });
    assert.deepEqual(a.volumes, [{ volume: 'data', path: '/data' }]);
    assert.equal((await settled(dev, 'keeper', 2, 90_000)).status, 'live', 'mounting makes release v2');
    const [ctr] = await healthy(dev, 'keeper', 1, { release: 2, timeoutMs: 90_000 });
    const info = await dockerInspect(ctr!.docker_id!);
    const mounts = info.Mounts as { Type: string; Name: string; Destination: string }[];
    assert.deepEqual(mounts.map((m) => [m.Type, m.Name, m.Destination]), [['volume', v.engine_name, '/data']], 'a named volume, never a host path');
    assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);

    const who = JSON.parse((await get('keeper', '/')).body);
    assert.notEqual(who.uid, 0);
    const w = await get('keeper', '/file?path=/data/note.txt&write=kept');
    assert.equal(w.status, 200, w.body);

    await dev.call('deployApp', { params: { id: 'keeper' }, body: { image_id: image } });
    assert.equal((await settled(dev, 'keeper', 3, 90_000)).status, 'live');
    await healthy(dev, 'keeper', 1, { release: 3, timeoutMs: 90_000 });
    const r = await get('keeper', '/file?path=/data/note.txt');
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).content, 'kept', 'the file written by v2 is there for v3');
    assert.deepEqual((await dev.call('getVolume', { params: { id: 'data' }, query: { project: 'web' } })).mounted_by, ['keeper']);
  });

  test('bad mounts are refused with the field named', async () => {
    await dev.call('createVolume', { body: { name: 'theirs', project: 'other' } });
    const put = (volumes: { volume: string; path: string }[], strategy?: 'rolling') =>
      dev.call('updateApp', { params: { id: 'keeper' }, body: { volumes, ...(strategy ? { strategy } : {}) } });
    await rejectsWith(put([{ volume: 'data', path: 'data' }]), 400, 'volumes[0].path');
    await rejectsWith(put([{ volume: 'data', path: '/etc/app' }]), 400, 'volumes[0].path');
    await rejectsWith(put([{ volume: 'data', path: '/data/../etc' }]), 400, 'volumes[0].path');
    await rejectsWith(put([{ volume: 'data', path: '/data' }, { volume: 'data', path: '/data' }]), 400, 'volumes[1].path');
    await rejectsWith(put([{ volume: 'theirs', path: '/x' }]), 400, 'volumes[0].volume');
    const theirs = (await dev.call('listVolumes', { query: { project: 'other' } })).items[0]!;
    await rejectsWith(put([{ volume: theirs.id, path: '/x' }]), 400, 'volumes[0].volume');
    await rejectsWith(put([{ volume: 'data', path: '/data' }], 'rolling'), 400, 'strategy');
    await rejectsWith(dev.call('createVolume', { body: { name: 'data', project: 'web' } }), 409, 'name');
    await rejectsWith(dev.call('deleteVolume', { params: { id: 'data' }, query: { project: 'web' } }), 409, 'id');
    // Nothing changed: still v3 with its one mount.
    assert.deepEqual((await dev.call('getApp', { params: { id: 'keeper' } })).volumes, [{ volume: 'data', path: '/data' }]);
  });

  test('deleting the app keeps its volume; --with-volumes removes it and the engine volume', async () => {
    const before = await engineVolumes();
    assert.equal(before.length, 1, 'only data was mounted, so only it exists on the engine');
    await dev.call('createApp', { body: { name: 'second', project: 'web', strategy: 'recreate', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    await dev.call('updateApp', { params: { id: 'second' }, body: { volumes: [{ volume: 'data', path: '/srv/data' }] } });
    await dev.call('deployApp', { params: { id: 'second' }, body: { image_id: image } });
    await settled(dev, 'second', 1, 90_000);
    const r = await get('second', '/file?path=/srv/data/note.txt');
    assert.equal(JSON.parse(r.body).content, 'kept', 'another app of the project mounts the same volume');

    await dev.call('deleteApp', { params: { id: 'second' }, query: {} });
    await dev.call('deleteApp', { params: { id: 'keeper' }, query: {} });
    assert.equal((await dev.call('getVolume', { params: { id: 'data' }, query: { project: 'web' } })).name, 'data', 'kept');
    assert.deepEqual(await engineVolumes(), before);

    await dev.call('createApp', { body: { name: 'third', project: 'web', strategy: 'recreate' } });
    await dev.call('updateApp', { params: { id: 'third' }, body: { volumes: [{ volume: 'data', path: '/data' }] } });
    await dev.call('deleteApp', { params: { id: 'third' }, query: { with_volumes: true } });
    await assert.rejects(dev.call('getVolume', { params: { id: 'data' }, query: { project: 'web' } }), /not found/);
    await waitFor('the engine volume to be removed', async () => ((await engineVolumes()).length === 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 250 });
  });
});
