import { test } from 'node:test';
import assert from 'node:assert/strict';
import { updateApp } from '../../src/store/apps.js';
import { setFormation } from '../../src/store/formation.js';
import { createRelease, snapshot } from '../../src/domain/releases.js';
import { Events } from '../../src/domain/events.js';
import { world, type World } from './harness.js';

// Process types besides web (Procfile `worker:` and the like) against the fake engine and router:
// their own formation, no health check, never in rotation, rolled with each release.

/** A release whose Procfile had `worker` besides web, as a build makes it. */
async function deployWithWorker(w: World, image: string, strategy?: 'rolling' | 'blue-green' | 'recreate') {
  if (strategy) await updateApp(w.store.db, w.appId, { strategy });
  const app = await w.app();
  return createRelease(w.store.db, new Events(w.store.db), app, { image, description: 'deploy', config: { ...snapshot(app), processes: { worker: 'node worker.js' } } });
}

const byType = async (w: World, type: string) => (await w.rows()).filter((r) => r.process_type === type);

test('processes: a release with a worker runs web and worker; the worker runs its Procfile line, is never routed and has no alias', async (t) => {
  const w = await world({ replicas: 2 });
  t.after(() => w.close());
  const v1 = await deployWithWorker(w, 'app:ok');
  await w.reconcile();
  assert.equal((await w.app()).live_release_id, v1.id);
  const webs = await byType(w, 'web');
  const workers = await byType(w, 'worker');
  assert.deepEqual(webs.map((r) => [r.status, r.in_rotation]), [['healthy', 1], ['healthy', 1]]);
  assert.deepEqual(workers.map((r) => [r.status, r.in_rotation, r.replica]), [['running', 0, 0]]);
  assert.equal(w.served().length, 2, 'only web replicas are served');
  const spec = w.runtime.byName(workers[0].name).spec;
  assert.deepEqual(spec.cmd, ['sh', '-c', 'node worker.js']);
  assert.deepEqual(spec.aliases, []);
  assert.equal(spec.labels['berth.process'], 'worker');
  assert.equal(spec.env.BERTH_PROCESS_TYPE, 'worker');
  assert.match(workers[0].name, /-v1-worker-r0-g0$/);
  assert.equal(w.runtime.byName(webs[0].name).spec.cmd, undefined, 'web runs the image’s own command');
});

test('processes: the worker formation scales on its own, web keeps its count', async (t) => {
  const w = await world({ replicas: 1 });
  t.after(() => w.close());
  await deployWithWorker(w, 'app:ok');
  await w.reconcile();
  await setFormation(w.store.db, w.appId, { worker: 3 });
  await w.reconcile();
  assert.deepEqual((await byType(w, 'worker')).map((r) => r.status), ['running', 'running', 'running']);
  assert.equal((await byType(w, 'web')).length, 1);
  await setFormation(w.store.db, w.appId, { worker: 0 });
  await w.reconcile();
  assert.equal((await byType(w, 'worker')).length, 0);
  assert.equal((await byType(w, 'web')).length, 1);
  assert.equal(w.runtime.running().length, 1);
  assert.ok(!(await w.events()).includes('container.crashed'), 'a scale-down is no crash');
});

for (const strategy of ['rolling', 'blue-green', 'recreate'] as const) {
  test(`processes: a new release (${strategy}) replaces the workers too; the old ones are not kept`, async (t) => {
    const w = await world({ replicas: 2 });
    t.after(() => w.close());
    await deployWithWorker(w, 'app:ok', strategy);
    await w.reconcile();
    await setFormation(w.store.db, w.appId, { worker: 2 });
    await w.reconcile();
    const v2 = await deployWithWorker(w, 'app:ok2');
    await w.reconcile();
    assert.equal((await w.app()).live_release_id, v2.id);
    const workers = await byType(w, 'worker');
    assert.deepEqual(workers.map((r) => [r.release_id, r.status]), [[v2.id, 'running'], [v2.id, 'running']]);
    // Only web is kept stopped for a blue-green rollback; workers of v1 are gone from the engine.
    const engineWorkers = [...w.runtime.containers.values()].filter((c) => c.spec.labels['berth.process'] === 'worker');
    assert.deepEqual(engineWorkers.map((c) => c.spec.labels['berth.release']), [v2.id, v2.id]);
    assert.ok(!(await w.events()).includes('container.crashed'), 'a rollout is no crash');
  });
}

test('processes: a release whose web replicas fail leaves the live workers alone', async (t) => {
  const w = await world({ replicas: 1 });
  t.after(() => w.close());
  const v1 = await deployWithWorker(w, 'app:ok');
  await w.reconcile();
  const before = (await byType(w, 'worker')).map((r) => r.id);
  const v2 = await deployWithWorker(w, 'app:unhealthy');
  await w.reconcile();
  assert.equal((await w.releases()).find((r) => r.id === v2.id)?.status, 'failed');
  const workers = await byType(w, 'worker');
  assert.deepEqual(workers.map((r) => [r.id, r.release_id, r.status]), [[before[0], v1.id, 'running']]);
});

test('processes: a crashed worker is reported and runs again once the engine restarted it; a restart makes a new generation', async (t) => {
  const w = await world({ replicas: 1 });
  t.after(() => w.close());
  await deployWithWorker(w, 'app:ok');
  await w.reconcile();
  const [worker] = await byType(w, 'worker');
  w.runtime.crash(worker.name, 1);
  await w.reconcile();
  assert.equal((await byType(w, 'worker'))[0].status, 'crashed');
  assert.ok((await w.events()).includes('container.crashed'));
  w.runtime.restartByEngine(worker.name);
  await w.reconcile();
  const [again] = await byType(w, 'worker');
  assert.deepEqual([again.id, again.status], [worker.id, 'running']);

  await updateApp(w.store.db, w.appId, { restart_seq: 1 });
  await w.reconcile();
  assert.deepEqual((await w.rows()).map((r) => [r.process_type, r.gen, r.status]), [
    ['web', 1, 'healthy'],
    ['worker', 1, 'running'],
  ]);
});

test('processes: a config change without a build keeps the release’s process types; another image has none', async (t) => {
  const w = await world({ replicas: 1 });
  t.after(() => w.close());
  await deployWithWorker(w, 'app:ok');
  await w.reconcile();
  const same = await w.deploy('app:ok');
  assert.deepEqual(JSON.parse(same.config).processes, { worker: 'node worker.js' });
  await w.reconcile();
  assert.equal((await byType(w, 'worker'))[0].release_id, same.id);
  const other = await w.deploy('other:1');
  assert.equal(JSON.parse(other.config).processes, undefined);
  await w.reconcile();
  assert.equal((await byType(w, 'worker')).length, 0);
});
