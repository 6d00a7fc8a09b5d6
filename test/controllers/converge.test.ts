import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { updateApp, deleteApp } from '../../src/store/apps.js';
import { updateContainer } from '../../src/store/containers.js';
import { START_REQUESTED, stoppedBy } from '../../src/domain/containers.js';
import { assertSettled, healthyOf, world } from './harness.js';

// Steady state of the live release against the fake engine and router (see fakes.ts).

const ok = (cond: boolean, msg: string) => assert.ok(cond, msg);

async function live(replicas = 2) {
  const w = await world({ replicas });
  const v1 = await w.deploy('app:ok');
  await w.reconcile();
  return { w, v1 };
}

test('converge: scaling up starts the missing replicas, scaling down retires the extra ones', async (t) => {
  const { w, v1 } = await live(2);
  t.after(() => w.close());
  await updateApp(w.store.db, w.appId, { replicas: 4 });
  await w.reconcile();
  await assertSettled(w, v1, 4, ok);
  await updateApp(w.store.db, w.appId, { replicas: 1 });
  await w.reconcile();
  await assertSettled(w, v1, 1, ok);
  assert.deepEqual((await w.rows()).map((r) => r.replica), [0]);
});

test('converge: a restart replaces every replica with a new generation, one at a time', async (t) => {
  const { w, v1 } = await live(3);
  t.after(() => w.close());
  const from = w.router.history.length;
  await updateApp(w.store.db, w.appId, { restart_seq: 1 });
  await w.reconcile();
  await assertSettled(w, v1, 3, ok);
  assert.deepEqual((await w.rows()).map((r) => r.gen), [1, 1, 1]);
  assert.ok(w.router.upstreamsOver(w.slug).slice(from).every((u) => u.length >= 3), 'never fewer than 3 serving');
});

test('converge: a crashed replica leaves rotation at once and rejoins when the engine has restarted it', async (t) => {
  const { w, v1 } = await live(2);
  t.after(() => w.close());
  const [r0] = await w.rows();
  w.runtime.crash(r0.name, 137);
  await w.reconcile();
  const crashed = (await w.rows()).find((r) => r.id === r0.id)!;
  assert.equal(crashed.status, 'crashed');
  assert.equal(crashed.message, 'exited with code 137');
  assert.equal(w.served().length, 1);
  assert.ok((await w.events()).includes('container.crashed'));
  w.runtime.restartByEngine(r0.name);
  await w.reconcile();
  await assertSettled(w, v1, 2, ok);
  assert.equal((await w.rows()).find((r) => r.id === r0.id)?.status, 'healthy', 'the same replica is back');
});

test('converge: a container stopped behind Berth\'s back (docker stop) is started again', async (t) => {
  const { w, v1 } = await live(1);
  t.after(() => w.close());
  const [r0] = await w.rows();
  await w.runtime.stopContainer(r0.docker_id!);
  await w.reconcile(); // seen down: out of rotation, started
  await w.reconcile(); // seen up: checked, back in rotation
  await assertSettled(w, v1, 1, ok);
});

test('converge: a replica removed behind Berth\'s back is forgotten and made again; a stray container is removed', async (t) => {
  const { w, v1 } = await live(2);
  t.after(() => w.close());
  const [r0] = await w.rows();
  await w.runtime.removeContainer(r0.docker_id!);
  const stray = await w.runtime.createContainer({ ...w.runtime.byName((await w.rows())[1].name).spec, name: 'stray' });
  await w.reconcile();
  await assertSettled(w, v1, 2, ok);
  assert.equal(await w.runtime.inspectContainer(stray), null);
});

test('converge: a replica stopped through the API leaves rotation, is stopped and stays stopped; a start brings it back', async (t) => {
  const { w, v1 } = await live(2);
  t.after(() => w.close());
  const [r0] = await w.rows();
  // What the stop handler writes (desired state), then its nudge.
  await updateContainer(w.store.db, r0.id, { status: 'stopped', in_rotation: 0, message: stoppedBy('alice') });
  await w.reconcile();
  assert.equal(w.runtime.byName(r0.name).state, 'exited');
  assert.equal(w.served().length, 1);
  await w.reconcile();
  assert.equal((await w.rows()).length, 2, 'not replaced while stopped');
  // What the start handler writes.
  await updateContainer(w.store.db, r0.id, { status: 'starting', message: START_REQUESTED });
  await w.reconcile(); // started
  await w.reconcile(); // healthy, in rotation
  await assertSettled(w, v1, 2, ok);
  assert.ok(!(await w.events()).includes('container.crashed'), 'a stop and start by hand is no crash');
});

test('converge: a stopped app has no containers and its route answers 503; starting it brings the replicas back', async (t) => {
  const { w, v1 } = await live(2);
  t.after(() => w.close());
  await updateApp(w.store.db, w.appId, { stopped: 1 });
  await w.reconcile();
  assert.equal(w.runtime.containers.size, 0);
  assert.deepEqual(w.router.routes.find((r) => r.app === w.slug)?.upstreams, []);
  await updateApp(w.store.db, w.appId, { stopped: 0 });
  await w.reconcile();
  await assertSettled(w, v1, 2, ok);
});

test('converge: a deleted app loses its route, its containers and its rows', async (t) => {
  const { w } = await live(2);
  t.after(() => w.close());
  await deleteApp(w.store.db, w.appId);
  await w.reconcile();
  assert.equal(w.runtime.containers.size, 0);
  assert.equal(w.router.routes.find((r) => r.app === w.slug), undefined);
  assert.deepEqual(await w.rows(), []);
});

test('settings: replicas apply at once; image, port, health check, env and strategy only with the next release', async (t) => {
  const { w, v1 } = await live(1);
  t.after(() => w.close());
  await updateApp(w.store.db, w.appId, {
    replicas: 2,
    port: 9999,
    health_check: { path: '/never', timeout_s: 5, grace_s: 0 },
    strategy: 'recreate',
    env: { NEW: { v: 'x' } },
  });
  await w.reconcile();
  await assertSettled(w, v1, 2, ok);
  // The new replica runs with v1's config, not the app row's.
  for (const r of await w.rows()) assert.equal(r.port, 8080);
  const spec = w.runtime.byName((await w.rows())[1].name).spec;
  assert.equal(spec.env.PORT, '8080');
  assert.equal(spec.env.NEW, undefined);
  // A crashed replica of v1 rejoins on v1's health check path, not the app row's.
  const [r0] = await w.rows();
  w.runtime.crash(r0.name);
  await w.reconcile();
  w.runtime.restartByEngine(r0.name);
  await w.reconcile();
  assert.equal((await healthyOf(w, v1)).length, 2);
  // The next release takes them all.
  const v2 = await w.deploy('app:ok', { health_check: { path: '/health', timeout_s: 5, grace_s: 0 } });
  await w.reconcile();
  await assertSettled(w, v2, 2, ok);
  for (const r of await w.rows()) assert.equal(r.port, 9999);
  assert.equal(w.runtime.byName((await w.rows())[0].name).spec.env.NEW, 'x');
  assert.equal(JSON.parse((await w.releases())[1].config).strategy, 'recreate');
});

/** Resolves once cond() holds, checking after every turn of the event loop (no timer, no timeout of its own). */
async function until(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setImmediate(r));
}

/**
 * Two live replicas, the controller started with its next periodic pass an hour away and the
 * engine's event stream open: after the first pass, whatever happens comes from the engine's events.
 */
async function watching(t: TestContext) {
  const { w, v1 } = await live(2);
  t.after(() => w.close());
  await w.controller.start(3_600_000);
  await until(async () => w.runtime.watchers === 1);
  await w.controller.reconcileAll();
  return { w, v1 };
}

test('watch: a die event takes the replica out of rotation before any periodic pass, and a start event brings it back', async (t) => {
  const { w, v1 } = await watching(t);
  const [r0] = await w.rows();
  const gone = `${r0.address}:${r0.port}`;
  w.runtime.crash(r0.name, 2);
  w.runtime.emit('die', r0.name);
  await until(async () => (await w.events()).includes('container.crashed') && !w.served().includes(gone));
  assert.equal(w.served().length, 1, 'out of rotation');
  // The controller started the exited container again; the engine reports it running.
  w.runtime.emit('start', r0.name);
  await until(async () => w.served().length === 2);
  await assertSettled(w, v1, 2, ok);
});

test('watch: after the event stream breaks, the controller looks at every app again once the engine answers', async (t) => {
  const { w, v1 } = await watching(t);
  // While the stream is down a replica dies; its event is lost with the stream.
  const [r0] = await w.rows();
  w.runtime.breakStreams();
  w.runtime.crash(r0.name, 9);
  await until(async () => w.runtime.watchers === 1 && (await w.events()).includes('container.crashed'));
  // Seen by the pass after the reconnect: marked, started again by the controller, back once it answers.
  w.runtime.emit('start', r0.name);
  await until(async () => w.served().length === 2 && (await healthyOf(w, v1)).length === 2);
  await assertSettled(w, v1, 2, ok);
});

test('converge: a replacement replica that never answers is reported and the others keep serving', async (t) => {
  const { w, v1 } = await live(2);
  t.after(() => w.close());
  const [r0] = await w.rows();
  await w.runtime.removeContainer(r0.docker_id!);
  w.runtime.hook = (op, name) => {
    if (op === 'create') queueMicrotask(() => (w.runtime.byName(name).spec.image = 'app:unhealthy'));
  };
  await w.reconcile();
  assert.ok((await w.events()).includes('container.unhealthy'));
  assert.equal((await healthyOf(w, v1)).length, 1);
  assert.equal(w.served().length, 1);
  assert.equal((await w.app()).live_release_id, v1.id, 'the live release stays live');
  // Once replicas answer again, the next pass fills the gap.
  w.runtime.hook = () => {};
  await w.reconcile();
  await assertSettled(w, v1, 2, ok);
});
