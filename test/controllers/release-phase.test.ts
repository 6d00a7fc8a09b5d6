import { test } from 'node:test';
import assert from 'node:assert/strict';
import { updateApp } from '../../src/store/apps.js';
import { runsOfApp } from '../../src/store/runs.js';
import { statuses, world } from './harness.js';

/** The release phase against the fake engine: the command runs before any replica of its release, once. */

test('a release command runs once, in a container of the new release, before its replicas start', async () => {
  const w = await world({ replicas: 1 });
  try {
    await w.deploy('img:1:ok');
    await w.reconcile();
    await updateApp(w.store.db, w.appId, { release_command: ['npm', 'run', 'migrate'] });
    const v2 = await w.deploy('img:2:ok');
    w.runtime.calls.length = 0;
    await w.reconcile();
    assert.deepEqual(await statuses(w), ['superseded', 'live']);
    const [run] = await runsOfApp(w.store.db, w.appId);
    assert.equal(run?.kind, 'release');
    assert.equal(run?.release_id, v2.id);
    assert.equal(run?.status, 'succeeded');
    assert.match(run?.output ?? '', /booting/, 'its output is kept');
    const order = w.runtime.calls.filter((c) => c.startsWith('create'));
    assert.match(order[0] ?? '', /web-release-/, `the release command's container comes first: ${order.join(', ')}`);
    assert.ok(!w.runtime.running().some((c) => c.spec.name.includes('-release-')), 'and is gone');
    await w.reconcile();
    assert.equal((await runsOfApp(w.store.db, w.appId)).length, 1, 'not run again by a later pass');
  } finally {
    await w.close();
  }
});

test('a failing release command fails its release; the live release keeps serving, untouched', async () => {
  const w = await world({ replicas: 2 });
  try {
    await w.deploy('img:1:ok');
    await w.reconcile();
    const before = w.served();
    await updateApp(w.store.db, w.appId, { release_command: ['false'] });
    await w.deploy('img:2:ok');
    w.runtime.calls.length = 0;
    await w.reconcile();
    assert.deepEqual(await statuses(w), ['live', 'failed']);
    const failed = (await w.releases())[1]!;
    assert.match(failed.reason ?? '', /the release command failed: exited with code 1/);
    assert.deepEqual(w.served(), before, 'the same replicas serve');
    assert.deepEqual(w.runtime.calls.filter((c) => !c.includes('-release-')), [], 'no replica was touched');
    assert.equal((await w.app()).live_release_id, (await w.releases())[0]!.id);
  } finally {
    await w.close();
  }
});
