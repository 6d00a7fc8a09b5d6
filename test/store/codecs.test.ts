import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempStore } from '../support/store.js';
import { randomBytes } from 'node:crypto';
import { now } from '../../src/store/db.js';
import { insertApp } from '../../src/store/apps.js';
import { allCron, insertCron, insertRun, newRun, runById } from '../../src/store/runs.js';
import { nodeChange, pendingNodeChanges, requestNodeChange } from '../../src/store/cluster.js';
import { insertEvent, listEvents } from '../../src/store/events.js';
import { openCredentials, sealCredentials } from '../../src/store/addons.js';
import { SecretBox } from '../../src/lib/crypto.js';

/** Rows other than apps' (test/domain/apps.test.ts) leave the store decoded, and are stored as the same JSON text as before. */
async function world(t: { after(fn: () => Promise<void>): void }) {
  const { db, projectId } = await tempStore(t, 'berth-codecs-');
  const ts = now();
  await insertApp(db, {
    id: 'app_1', project_id: projectId, name: 'web', slug: 'web', image: 'img', replicas: 1, memory_mb: 64, cpu: 0, port: 8080, strategy: 'rolling',
    health_check: { path: '/', timeout_s: 5, grace_s: 0 }, env: {}, release_id: null, live_release_id: null, stopped: 0, restart_seq: 0, auto_deploy: 1, created_at: ts, updated_at: ts,
  });
  return { db, projectId };
}

test("a run's and a schedule's command read back as the argv written, stored as a JSON array", async (t) => {
  const { db } = await world(t);
  await insertRun(db, newRun('run_1', { id: 'app_1', slug: 'web' }, 'rel_1', 'run', ['sh', '-c', 'echo "a b"'], 60));
  assert.deepEqual((await runById(db, 'run_1'))!.command, ['sh', '-c', 'echo "a b"']);
  const raw = await db.selectFrom('runs').select('command').where('id', '=', 'run_1').executeTakeFirstOrThrow();
  assert.equal(raw.command, '["sh","-c","echo \\"a b\\""]');
  await insertCron(db, { id: 'cron_1', app_id: 'app_1', schedule: '*/5 * * * *', command: ['npm', 'run', 'report'], timeout_s: 60, last_fired_at: null, created_at: now() });
  assert.deepEqual((await allCron(db)).map((c) => c.command), [['npm', 'run', 'report']]);
  await db.updateTable('runs').set({ command: '"not an argv"' }).where('id', '=', 'run_1').execute();
  await assert.rejects(runById(db, 'run_1'), /runs\.command/);
});

test("a node change's labels read back as an object; a later change keeps a pending one's labels", async (t) => {
  const { db } = await world(t);
  await requestNodeChange(db, 'n1', { labels: { zone: 'a', disk: 'ssd' } });
  await requestNodeChange(db, 'n1', { availability: 'drain' });
  const c = (await nodeChange(db, 'n1'))!;
  assert.deepEqual([c.labels, c.availability], [{ zone: 'a', disk: 'ssd' }, 'drain']);
  assert.deepEqual((await pendingNodeChanges(db)).map((p) => p.labels), [{ zone: 'a', disk: 'ssd' }]);
  await requestNodeChange(db, 'n2', { availability: 'active' });
  assert.equal((await nodeChange(db, 'n2'))!.labels, null);
});

test("an event's data reads back as the object recorded; no data is null", async (t) => {
  const { db, projectId } = await world(t);
  await insertEvent(db, { project_id: projectId, app_id: 'app_1', kind: 'release.created', message: 'v1', data: { release: 1, image: 'img' }, created_at: now(), actor_id: null, actor: 'apps' });
  await insertEvent(db, { project_id: projectId, app_id: null, kind: 'note', message: 'plain', data: null, created_at: now(), actor_id: null, actor: null });
  assert.deepEqual((await listEvents(db, [projectId], { limit: 10 })).map((e) => e.data), [{ release: 1, image: 'img' }, null]);
});

test("an add-on's credentials are stored sealed and open to the account sealed", () => {
  const box = new SecretBox(randomBytes(32));
  // Long enough that the sealed text (base64) cannot hold it by chance, as a 2-letter one could.
  const password = `pw-${randomBytes(16).toString('hex')}`;
  const sealed = sealCredentials(box, { user: 'berth', password, database: 'berth' });
  assert.ok(!sealed.includes(password), 'the password is not in the stored text');
  assert.deepEqual(openCredentials(box, sealed), { user: 'berth', password, database: 'berth' });
  assert.throws(() => openCredentials(box, box.seal('{"user":"berth"}')), /addons\.credentials/);
});
