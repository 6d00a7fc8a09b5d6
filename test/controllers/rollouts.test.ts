import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRelease } from '../../src/domain/releases.js';
import { Events } from '../../src/domain/events.js';
import { releaseConfig } from '../../src/store/releases.js';
import { assertSettled, statuses, world, type Strategy } from './harness.js';

// Every path of every rollout strategy against the fake engine and router (see fakes.ts); the same
// behaviours against real Docker and Caddy are in test/runtime/apps.test.ts and test/faults/.

const ok = (cond: boolean, msg: string) => assert.ok(cond, msg);
const STRATEGIES: Strategy[] = ['rolling', 'blue-green', 'recreate'];
const lastIndex = <T>(xs: T[], f: (x: T) => boolean) => xs.reduce((found, x, i) => (f(x) ? i : found), -1);

for (const strategy of STRATEGIES) {
  test(`${strategy}: a first deploy starts every replica and serves them`, async (t) => {
    const w = await world({ strategy, replicas: 3 });
    t.after(() => w.close());
    const v1 = await w.deploy('app:ok');
    await w.reconcile();
    assert.deepEqual(await statuses(w), ['live']);
    await assertSettled(w, v1, 3, ok);
    assert.ok((await w.events()).includes('release.live'));
  });

  test(`${strategy}: a second deploy replaces the live release`, async (t) => {
    const w = await world({ strategy, replicas: 2 });
    t.after(() => w.close());
    const v1 = await w.deploy('app:ok');
    await w.reconcile();
    const before = w.router.history.length;
    const v2 = await w.deploy('app:ok');
    await w.reconcile();
    assert.deepEqual(await statuses(w), ['superseded', 'live']);
    await assertSettled(w, v2, 2, ok);
    const v1Rows = (await w.rows()).filter((r) => r.release_id === v1.id);
    if (strategy === 'blue-green') {
      // The old set stays, stopped, for a fast rollback.
      assert.deepEqual(v1Rows.map((r) => r.status), ['stopped', 'stopped']);
    } else {
      assert.equal(v1Rows.length, 0, 'the old replicas are removed');
    }
    const loads = w.router.upstreamsOver(w.slug).slice(before);
    const v1Addrs = new Set(w.router.upstreamsOver(w.slug)[before - 1]);
    const mixed = loads.some((u) => u.some((a) => v1Addrs.has(a)) && u.some((a) => !v1Addrs.has(a)));
    if (strategy === 'rolling') {
      // One in, one out: never fewer than two serving, and old and new serve side by side meanwhile.
      assert.ok(loads.every((u) => u.length >= 2), `never fewer than 2 upstreams: ${JSON.stringify(loads)}`);
      assert.ok(mixed, 'old and new served together during the roll');
    } else {
      // All traffic moves in one router update: no load serves old and new together.
      assert.ok(!mixed, `no load mixes v1 and v2: ${JSON.stringify(loads)}`);
    }
    if (strategy === 'recreate') {
      // Every old replica is stopped before the first new one is made.
      const firstNew = w.runtime.calls.findIndex((c) => c.startsWith('create') && c.includes('-v2-'));
      const lastOldStop = lastIndex(w.runtime.calls, (c) => c.startsWith('stop') && c.includes('-v1-'));
      assert.ok(lastOldStop >= 0 && lastOldStop < firstNew, w.runtime.calls.join('\n'));
    }
    if (strategy === 'blue-green') {
      // The whole new set is healthy before traffic moves: the load that drops v1 serves both v2 replicas.
      const switched = loads.find((u) => u.length && u.every((a) => !v1Addrs.has(a)));
      assert.equal(switched?.length, 2);
    }
  });

  for (const [image, what, reason] of [
    ['app:unhealthy', 'never answer their health check', /no healthy answer from \/health within 5 s/],
    ['app:exits', 'exit as they start', /exited with code 3 before it became healthy/],
    ['app:refused', 'the engine refuses to start', /did not start: exec: "missing"/],
  ] as const) {
    test(`${strategy}: a release whose replicas ${what} fails and the app goes back to the live release`, async (t) => {
      const w = await world({ strategy, replicas: 2 });
      t.after(() => w.close());
      const v1 = await w.deploy('app:ok');
      await w.reconcile();
      await w.deploy(image);
      await w.reconcile();
      const [, v2] = await w.releases();
      assert.equal(v2.status, 'failed');
      assert.match(v2.reason ?? '', reason);
      if (image !== 'app:refused') assert.match(v2.reason ?? '', /--- last log lines ---\nbooting/);
      await assertSettled(w, v1, 2, ok);
      assert.equal(w.runtime.calls.filter((c) => c.includes('-v2-') && c.startsWith('create')).length > 0, true);
      assert.ok(![...w.runtime.containers.values()].some((c) => c.spec.name.includes('-v2-')), 'the failed release leaves no container');
      assert.ok((await w.events()).includes('release.failed'));
    });
  }

  test(`${strategy}: a first deploy that fails leaves nothing running and the app undeployed`, async (t) => {
    const w = await world({ strategy, replicas: 2 });
    t.after(() => w.close());
    await w.deploy('app:unhealthy');
    await w.reconcile();
    assert.deepEqual(await statuses(w), ['failed']);
    const app = await w.app();
    assert.equal(app.live_release_id, null);
    assert.equal(app.release_id, null);
    assert.equal(w.runtime.containers.size, 0);
    assert.deepEqual(w.served(), []);
  });

  test(`${strategy}: a deploy that a newer one replaces mid-rollout is superseded, and the newer goes live`, async (t) => {
    const w = await world({ strategy, replicas: 2 });
    t.after(() => w.close());
    await w.deploy('app:ok');
    await w.reconcile();
    await w.deploy('app:ok');
    let v3: Awaited<ReturnType<typeof w.deploy>> | undefined;
    // The first replica of v2 being created is the moment v3 arrives.
    w.runtime.hook = (op, name) => {
      if (op === 'create' && name.includes('-v2-') && !v3) {
        w.runtime.hook = () => {};
        void w.deploy('app:ok').then((r) => (v3 = r));
      }
    };
    await w.reconcile();
    while (!v3) await new Promise((r) => setImmediate(r));
    assert.deepEqual(await statuses(w), ['live', 'superseded', 'pending']);
    await w.reconcile();
    const [, v2, third] = await w.releases();
    assert.equal(v2.status, 'superseded');
    assert.equal(third.status, 'live');
    await assertSettled(w, third, 2, ok);
  });
}

test('rolling: scaling up in a deploy replaces what serves one by one and starts the rest together', async (t) => {
  const w = await world({ strategy: 'rolling', replicas: 1 });
  t.after(() => w.close());
  await w.deploy('app:ok');
  await w.reconcile();
  const v2 = await w.deploy('app:ok', { replicas: 3 });
  await w.reconcile();
  await assertSettled(w, v2, 3, ok);
  assert.ok(w.router.upstreamsOver(w.slug).every((u, i) => i === 0 || u.length >= 1), 'never without a serving replica');
});

test('rolling: scaling down in a deploy retires the replicas beyond the new count', async (t) => {
  const w = await world({ strategy: 'rolling', replicas: 3 });
  t.after(() => w.close());
  await w.deploy('app:ok');
  await w.reconcile();
  const v2 = await w.deploy('app:ok', { replicas: 1 });
  await w.reconcile();
  await assertSettled(w, v2, 1, ok);
});

test('rolling: a replica failing after others were replaced restores the live release in full', async (t) => {
  const w = await world({ strategy: 'rolling', replicas: 3 });
  t.after(() => w.close());
  const v1 = await w.deploy('app:ok');
  await w.reconcile();
  await w.deploy('app:ok');
  // v2's first replica passes and replaces one of v1's; its second never answers.
  w.runtime.hook = (op, name) => {
    if (op === 'create' && name.includes('-v2-r1-')) {
      w.runtime.hook = () => {};
      queueMicrotask(() => (w.runtime.byName(name).spec.image = 'app:unhealthy'));
    }
  };
  await w.reconcile();
  const [, v2] = await w.releases();
  assert.equal(v2.status, 'failed');
  await assertSettled(w, v1, 3, ok);
  assert.ok(w.router.upstreamsOver(w.slug).slice(1).every((u) => u.length >= 3), 'never fewer than 3 serving, rollback included');
});

test('blue-green: only the release live just before the current one is kept, stopped, as standby', async (t) => {
  const w = await world({ strategy: 'blue-green', replicas: 2 });
  t.after(() => w.close());
  await w.deploy('app:ok');
  await w.reconcile();
  const v2 = await w.deploy('app:ok');
  await w.reconcile();
  const v3 = await w.deploy('app:ok');
  await w.reconcile();
  // Only the release live just before v3 is kept as standby.
  const kept = new Set((await w.rows()).filter((r) => r.status === 'stopped').map((r) => r.release_id));
  assert.deepEqual([...kept], [v2.id]);
  await assertSettled(w, v3, 2, ok);
});

test('recreate: a failed release is removed before the live release starts again (never two copies)', async (t) => {
  const w = await world({ strategy: 'recreate', replicas: 2 });
  t.after(() => w.close());
  const v1 = await w.deploy('app:ok');
  await w.reconcile();
  await w.deploy('app:unhealthy');
  await w.reconcile();
  await assertSettled(w, v1, 2, ok);
  // v1 is back as a new generation of containers, started only after the last v2 container was removed.
  const lastV2Remove = lastIndex(w.runtime.calls, (c) => c.startsWith('remove') && c.includes('-v2-'));
  const v1Restart = w.runtime.calls.findIndex((c, i) => i > 0 && c.startsWith('create') && c.includes('-v1-') && w.runtime.calls.slice(0, i).some((x) => x.includes('-v2-')));
  assert.ok(lastV2Remove >= 0 && lastV2Remove < v1Restart, w.runtime.calls.join('\n'));
});

for (const strategy of STRATEGIES) {
  test(`${strategy}: a rollback runs the old release's snapshot again and marks the release it replaced rolled back`, async (t) => {
    const w = await world({ strategy, replicas: 2 });
    t.after(() => w.close());
    const v1 = await w.deploy('app:one');
    await w.reconcile();
    await w.deploy('app:two', { port: 9000 });
    await w.reconcile();
    // What the rollback handler writes: a release from v1's snapshot, with the app's current scale.
    const v3 = await createRelease(w.store.db, new Events(w.store.db), await w.app(), {
      image: v1.image,
      config: { ...releaseConfig(v1), replicas: 2 },
      description: 'Rollback to v1',
    });
    await w.reconcile();
    assert.deepEqual(await statuses(w), ['superseded', 'rolled-back', 'live']);
    await assertSettled(w, v3, 2, ok);
    for (const c of w.runtime.running()) {
      assert.equal(c.spec.image, 'app:one');
      assert.equal(c.spec.env.PORT, '8080');
    }
  });
}
