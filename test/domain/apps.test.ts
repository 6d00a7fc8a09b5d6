import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempStore } from '../support/store.js';
import { now } from '../../src/store/db.js';
import { appById, insertApp, type AppRow } from '../../src/store/apps.js';
import { insertVolume, allVolumes } from '../../src/store/volumes.js';
import { listReleases, releaseConfig } from '../../src/store/releases.js';
import { ColumnError } from '../../src/store/app-columns.js';
import { Events } from '../../src/domain/events.js';
import { createRelease } from '../../src/domain/releases.js';
import { AppRuleError, applyAppChange, changeEnv, checkAppChange, deleteApp, mountRelease } from '../../src/domain/apps.js';
import { SecretBox } from '../../src/lib/crypto.js';
import { randomBytes } from 'node:crypto';

const data = { volume: 'data', volume_id: 'vol_data', path: '/data' };
const base = { volumes: [], strategy: 'rolling' as const, placement: null, release_id: 'rel_1', image: 'img:1' };

const refused = (fn: () => void, field: string) =>
  assert.throws(fn, (err: unknown) => err instanceof AppRuleError && err.field === field, `refused naming ${field}`);

test('an app with volumes rolls out with recreate: mounting on a rolling app is refused, with recreate it is not', () => {
  refused(() => checkAppChange(base, { volumes: [data] }, null), 'strategy');
  checkAppChange(base, { volumes: [data], strategy: 'recreate' }, null);
  // An app that has them cannot leave recreate; dropping the mounts frees it.
  refused(() => checkAppChange({ ...base, volumes: [data], strategy: 'recreate' }, { strategy: 'blue-green' }, null), 'strategy');
  checkAppChange({ ...base, volumes: [data], strategy: 'recreate' }, { volumes: [], strategy: 'rolling' }, null);
});

test("cluster mode: the placement must admit the volumes' node; the field named is the constraint given, or the volumes", () => {
  const unmet = (c: string) => (c === 'node.labels.zone==b' ? 'the volumes node is in zone a' : null);
  const app = { ...base, volumes: [data], strategy: 'recreate' as const };
  refused(() => checkAppChange(app, { placement: { constraints: ['node.role==manager', 'node.labels.zone==b'] } }, unmet), 'placement.constraints.1');
  refused(() => checkAppChange({ ...app, placement: { constraints: ['node.labels.zone==b'] } }, { volumes: [data] }, unmet), 'volumes');
  checkAppChange({ ...app, placement: { constraints: ['node.labels.zone==b'] } }, { placement: null }, unmet);
  // One node (no node to check against): no placement check at all.
  checkAppChange({ ...app, placement: { constraints: ['node.labels.zone==b'] } }, {}, null);
});

test('a mount change makes a release only when the app is deployed and the mounts differ', () => {
  assert.equal(mountRelease(base, { volumes: [data] }), 'Volumes: data:/data');
  assert.equal(mountRelease({ ...base, volumes: [data] }, { volumes: [] }), 'Volumes: none');
  assert.equal(mountRelease({ ...base, volumes: [data] }, { volumes: [{ ...data }] }), null, 'the same mounts again');
  assert.equal(mountRelease({ ...base, release_id: null }, { volumes: [data] }), null, 'never deployed');
  assert.equal(mountRelease({ ...base, image: null }, { volumes: [data] }), null, 'no image yet');
  assert.equal(mountRelease(base, { replicas: 3 }), null, 'no mount change');
});

async function world(t: { after(fn: () => Promise<void> | void): void }) {
  const { db, user, projectId } = await tempStore(t, 'berth-domain-');
  const ts = now();
  const newApp = (id: string, slug: string, more: Partial<AppRow> = {}) =>
    insertApp(db, {
      id, project_id: projectId, name: slug, slug, image: 'img:1', replicas: 1, memory_mb: 128, cpu: 0, port: 8080, strategy: 'recreate',
      health_check: { path: '/health', timeout_s: 5, grace_s: 0 }, env: { A: { v: '1' } }, release_id: null, live_release_id: null,
      stopped: 0, restart_seq: 0, auto_deploy: 1, created_at: ts, updated_at: ts, ...more,
    });
  const volume = (id: string, name: string) => insertVolume(db, { id, project_id: projectId, name, size_mb: null, backup_schedule: null, backup_keep: 7, created_at: ts });
  return { db, events: new Events(db), user, projectId, newApp, volume };
}

test('an app row reads back as it was written, and its columns are stored as the JSON text they always were', async (t) => {
  const w = await world(t);
  await w.newApp('app_1', 'web', { volumes: [data], release_command: ['npm', 'run', 'migrate'], placement: { constraints: ['node.role==manager', 'node.role==manager'] } });
  const a = (await appById(w.db, 'app_1'))!;
  assert.deepEqual(
    [a.health_check, a.env, a.volumes, a.release_command, a.placement],
    [{ path: '/health', timeout_s: 5, grace_s: 0 }, { A: { v: '1' } }, [data], ['npm', 'run', 'migrate'], { constraints: ['node.role==manager'] }],
  );
  const raw = await w.db.selectFrom('apps').selectAll().where('id', '=', 'app_1').executeTakeFirstOrThrow();
  assert.equal(raw.volumes, JSON.stringify([data]));
  assert.equal(raw.env, '{"A":{"v":"1"}}');
  assert.equal(raw.placement, '{"constraints":["node.role==manager"]}');
  // Defaults: no mounts, no release command, anywhere.
  await w.newApp('app_2', 'api');
  const b = (await appById(w.db, 'app_2'))!;
  assert.deepEqual([b.volumes, b.release_command, b.placement], [[], null, null]);
});

test('a row whose JSON column is corrupt is refused when read, naming the column', async (t) => {
  const w = await world(t);
  await w.newApp('app_1', 'web');
  await w.db.updateTable('apps').set({ volumes: '{"not":"a list"}' }).where('id', '=', 'app_1').execute();
  await assert.rejects(appById(w.db, 'app_1'), (err: unknown) => err instanceof ColumnError && /volumes/.test(err.message));
  await w.db.updateTable('apps').set({ volumes: '[]', env: 'not json' }).where('id', '=', 'app_1').execute();
  await assert.rejects(appById(w.db, 'app_1'), (err: unknown) => err instanceof ColumnError && /env/.test(err.message));
});

test("a mount change on a deployed app makes a release that mounts it; the release's env is kept as the app's", async (t) => {
  const w = await world(t);
  await w.newApp('app_1', 'web');
  await w.volume('vol_data', 'data');
  const v1 = await createRelease(w.db, w.events, (await appById(w.db, 'app_1'))!, { image: 'img:1', description: 'Deploy' });
  const app = (await appById(w.db, 'app_1'))!;
  assert.equal(app.release_id, v1.id);
  assert.equal(await applyAppChange(w.db, w.events, app, { volumes: [data] }, w.user), true);
  const [v2] = await listReleases(w.db, 'app_1');
  assert.equal(v2!.version, 2);
  assert.equal(v2!.description, 'Volumes: data:/data');
  const cfg = releaseConfig(v2!);
  assert.deepEqual([cfg.volumes, cfg.env], [[data], { A: { v: '1' } }]);
  // The stored config keeps its env as JSON text inside the JSON, as releases always did.
  assert.equal(typeof (JSON.parse(v2!.config) as { env: unknown }).env, 'string');
  // Another change that leaves the mounts alone makes no release; an empty change writes nothing.
  await applyAppChange(w.db, w.events, (await appById(w.db, 'app_1'))!, { replicas: 2, volumes: [data] }, w.user);
  assert.equal((await listReleases(w.db, 'app_1')).length, 2);
  assert.equal(await applyAppChange(w.db, w.events, (await appById(w.db, 'app_1'))!, {}, w.user), false);
  const kinds = (await w.events.list([w.projectId], { limit: 10 })).map((e) => e.kind);
  assert.deepEqual(kinds, ['release.created', 'release.created', 'app.updated', 'app.updated']);
});

test('deleting an app with its volumes deletes only those no other app mounts', async (t) => {
  const w = await world(t);
  await w.volume('vol_data', 'data');
  await w.volume('vol_shared', 'shared');
  const shared = { volume: 'shared', volume_id: 'vol_shared', path: '/shared' };
  await w.newApp('app_1', 'web', { volumes: [data, shared] });
  await w.newApp('app_2', 'worker', { volumes: [shared] });
  await deleteApp(w.db, (await appById(w.db, 'app_1'))!, true);
  assert.equal(await appById(w.db, 'app_1'), undefined);
  assert.deepEqual((await allVolumes(w.db)).map((v) => v.name), ['shared']);
});

test('a config var change is written; it makes a release (with the vars, secrets sealed) only once the app is deployed', async (t) => {
  const w = await world(t);
  const box = new SecretBox(randomBytes(32));
  await w.newApp('app_1', 'web');
  const first = await changeEnv(w.db, w.events, box, (await appById(w.db, 'app_1'))!, { set: { B: '2' }, secret: [], description: 'Config: set B', userId: w.user.id });
  assert.equal(first.release, null, 'never deployed: no release');
  assert.deepEqual((await appById(w.db, 'app_1'))!.env, { A: { v: '1' }, B: { v: '2' } });
  await createRelease(w.db, w.events, (await appById(w.db, 'app_1'))!, { image: 'img:1', description: 'Deploy' });
  const { release, env } = await changeEnv(w.db, w.events, box, (await appById(w.db, 'app_1'))!, { set: { A: null, KEY: 'hush' }, secret: ['KEY'], description: 'Config: unset A, set KEY', userId: w.user.id });
  assert.equal(release!.version, 2);
  assert.deepEqual(Object.keys(env).sort(), ['B', 'KEY']);
  assert.equal(env.KEY!.s, 1);
  assert.notEqual(env.KEY!.v, 'hush', 'sealed');
  assert.equal(box.open(releaseConfig(release!).env.KEY!.v), 'hush');
});
