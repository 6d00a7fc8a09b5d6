import { test } from 'node:test';
import assert from 'node:assert/strict';
import { insertContainer } from '../../src/store/containers.js';
import { now } from '../../src/store/db.js';
import { ContainerStuck } from '../../src/runtime/types.js';
import { assertSettled, statuses, world, type Strategy } from './harness.js';

// A control plane killed at any moment resumes on start: each engine change of a rollout is, in
// turn, the moment it dies (the engine keeps what it had; the database keeps what was written).
// A new controller on the same database, engine and router must finish the rollout.

const ok = (cond: boolean, msg: string) => assert.ok(cond, msg);
class Killed extends Error {}

for (const strategy of ['rolling', 'blue-green', 'recreate'] as Strategy[]) {
  test(`${strategy}: killed before any engine change of a rollout, a restarted control plane finishes it`, async () => {
    // How many engine changes a clean v1 -> v2 rollout makes.
    const probe = await world({ strategy, replicas: 2 });
    await probe.deploy('app:ok');
    await probe.reconcile();
    const start = probe.runtime.calls.length;
    await probe.deploy('app:ok');
    await probe.reconcile();
    const steps = probe.runtime.calls.length - start;
    await probe.close();
    assert.ok(steps >= 6, `a rollout makes several engine changes (${steps})`);

    for (let k = 0; k < steps; k++) {
      const w = await world({ strategy, replicas: 2 });
      try {
        await w.deploy('app:ok');
        await w.reconcile();
        const v2 = await w.deploy('app:ok');
        let n = 0;
        w.runtime.hook = () => {
          if (n++ === k) throw new Killed(`killed before engine change ${k}`);
        };
        await w.reconcile();
        w.runtime.hook = () => {};
        await w.restart();
        await w.reconcile();
        assert.equal((await statuses(w))[1], 'live', `killed at step ${k}: v2 went live`);
        await assertSettled(w, v2, 2, (cond, msg) => ok(cond, `killed at step ${k}: ${msg}`));
      } finally {
        await w.close();
      }
    }
  });
}

test('recovery: a row written before its container was made, and a container made but never started, are resolved', async (t) => {
  const w = await world({ replicas: 2 });
  t.after(() => w.close());
  const v1 = await w.deploy('app:ok');
  await w.reconcile();
  const v2 = await w.deploy('app:ok');
  // As left by a control plane killed mid-rollout: v2's replica 0 was made but not started, and
  // replica 1's row was written but its container never created.
  const [a] = await w.rows();
  const spec = { ...w.runtime.byName(a.name).spec, name: `web-${w.appId.slice(4, 10)}-v2-r0-g0` };
  const madeId = await w.runtime.createContainer({ ...spec, labels: { ...spec.labels, 'berth.release': v2.id } });
  const base = { app_id: w.appId, release_id: v2.id, gen: 0, node: 'x', address: null, port: 8080, status: 'starting' as const, in_rotation: 0, message: null, process_type: 'web', created_at: now(), updated_at: now() };
  await insertContainer(w.store.db, { ...base, id: 'ctr_made', replica: 0, name: spec.name, docker_id: madeId });
  await insertContainer(w.store.db, { ...base, id: 'ctr_ghost', replica: 1, name: `web-${w.appId.slice(4, 10)}-v2-r1-g0`, docker_id: null });
  await w.restart();
  await w.reconcile();
  assert.deepEqual(await statuses(w), ['superseded', 'live']);
  await assertSettled(w, v2, 2, ok);
  assert.ok((await w.rows()).some((r) => r.id === 'ctr_made'), 'the half-made container was adopted');
  assert.ok(v1);
});

test('a reconcile that keeps failing is told to the app’s users once per reason, without other tenants’ details, and so is its end', async (t) => {
  const w = await world({ replicas: 1 });
  t.after(() => w.close());
  await w.deploy('app:ok');
  const list = w.runtime.listContainers.bind(w.runtime);
  // An engine refusal (docker-modem errors carry the HTTP status), or an error from elsewhere in
  // Berth whose text names another tenant's host (as a router refusal does).
  const engine = Object.assign(new Error('(HTTP code 500) server error - no space left on device'), { statusCode: 500 });
  const inside = new Error('haproxy rejected "add map hosts.map shop.other-tenant.example be7": busy');
  let refusal: Error | null = engine;
  w.runtime.listContainers = async (labels) => {
    if (refusal) throw refusal;
    return list(labels);
  };
  const stuck = async () => (await w.store.db.selectFrom('events').select('message').where('app_id', '=', w.appId).where('kind', '=', 'app.stuck').orderBy('id').execute()).map((e) => e.message);
  // The queue retries by itself after a backoff (an hour in this world); each reconcile() is one more try.
  for (let i = 0; i < 2; i++) await w.reconcile();
  assert.deepEqual(await stuck(), [], 'a passing hiccup is not told');
  await w.reconcile();
  await w.reconcile();
  assert.deepEqual(await stuck(), ['Berth cannot bring web to its desired state (3 tries in a row): the Docker Engine: (HTTP code 500) server error - no space left on device; it keeps trying']);
  assert.equal((await w.releases()).at(-1)!.status, 'pending', 'the release waits: neither failed nor live');
  refusal = inside;
  await w.reconcile();
  refusal = engine;
  await w.reconcile();
  refusal = inside;
  await w.reconcile();
  const told = await stuck();
  assert.equal(told.length, 2, `once per reason, alternating or not: ${told.join(' | ')}`);
  assert.match(told[1]!, /\(5 tries in a row\): an error inside Berth \(the server log has it\)/);
  assert.ok(!told.some((m) => m.includes('other-tenant')), 'no other tenant’s host in an app’s events');
  refusal = null;
  await w.reconcile();
  assert.deepEqual((await w.events()).filter((k) => k.startsWith('app.')), ['app.stuck', 'app.stuck', 'app.recovered']);
  assert.equal((await w.releases()).at(-1)!.status, 'live');
});

test('recovery: a replica the engine cannot start again (a task left by an engine restart) is replaced, and says so', async (t) => {
  const w = await world({ replicas: 2 });
  t.after(() => w.close());
  const v1 = await w.deploy('app:ok');
  await w.reconcile();
  // As left by an engine stopped while a start was under way: exited, and every start refused.
  const [stuck] = await w.rows();
  const c = w.runtime.byName(stuck.name);
  Object.assign(c, { state: 'exited', exitCode: 143, address: null });
  w.runtime.hook = (op, name) => {
    // Only that container: a new one, even of the same name, starts.
    if (op === 'start' && name === stuck.name && w.runtime.containers.has(c.id)) throw new ContainerStuck(`docker start container: task ${c.id}: already exists`);
  };
  await w.reconcile();
  assert.ok(!w.runtime.containers.has(c.id), 'the stuck container is removed');
  assert.ok(!(await w.rows()).some((r) => r.id === stuck.id), 'and its row');
  assert.ok((await w.events()).includes('container.replaced'), 'an event says why');
  await assertSettled(w, v1, 2, ok);
});
