import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempStore } from '../support/store.js';
import { now } from '../../src/store/db.js';
import { deleteApp, insertApp } from '../../src/store/apps.js';
import { insertEvent } from '../../src/store/events.js';
import { Events, type BerthEvent } from '../../src/domain/events.js';

/** An event names its app and who caused it, live and listed; rows older than actors show none. */
test('events carry their app and actor; an older row has no actor, a deleted app no app', async (t) => {
  const { db, user: ann, projectId } = await tempStore(t, 'berth-events-');
  const ts = now();
  await insertApp(db, {
    id: 'app_1', project_id: projectId, name: 'Web shop', slug: 'web', image: 'img', replicas: 1, memory_mb: 64, cpu: 0, port: 8080, strategy: 'rolling',
    health_check: { path: '/', timeout_s: 5, grace_s: 0 }, env: {}, release_id: null, live_release_id: null, stopped: 0, restart_seq: 0, auto_deploy: 1, created_at: ts, updated_at: ts,
  });
  const events = new Events(db);
  const heard: BerthEvent[] = [];
  events.subscribe((e) => heard.push(e));
  // Written before migration 0019: no actor.
  await insertEvent(db, { project_id: projectId, app_id: 'app_1', kind: 'app.scaled', message: 'old', data: null, created_at: ts, actor_id: null, actor: null });
  await events.record({ project_id: projectId, app_id: 'app_1', kind: 'app.scaled', message: 'by ann', actor: { user: ann.id } });
  await events.record({ project_id: projectId, app_id: 'app_1', kind: 'release.live', message: 'v1 live', actor: { system: 'apps' } });
  await events.record({ project_id: projectId, kind: 'volume.created', message: 'no app', actor: { user: ann.id } });
  const app = { id: 'app_1', slug: 'web', name: 'Web shop' };
  const expected = [
    [app, null],
    [app, { kind: 'user', id: ann.id, name: 'ann' }],
    [app, { kind: 'system', id: null, name: 'apps' }],
    [null, { kind: 'user', id: ann.id, name: 'ann' }],
  ];
  assert.deepEqual((await events.list([projectId], { limit: 10 })).map((e) => [e.app, e.actor]), expected);
  assert.deepEqual(heard.map((e) => [e.app, e.actor]), expected.slice(1), 'live events say the same');
  await deleteApp(db, 'app_1');
  assert.deepEqual((await events.list([projectId], { limit: 10 })).map((e) => e.app), [null, null, null, null], 'a deleted app is named by none');
});
