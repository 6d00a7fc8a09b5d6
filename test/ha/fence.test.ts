import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { now, openStore } from '../../src/store/db.js';
import { createUser } from '../../src/store/users.js';
import { createProject } from '../../src/store/projects.js';
import { insertApp } from '../../src/store/apps.js';
import { claimRun, insertCron, insertRun, newRun, runById, setCronFired } from '../../src/store/runs.js';
import { insertRelease, markLive, releaseById, setReleaseStatus } from '../../src/store/releases.js';
import { acquire, FencedOut, LEADER, release, renew } from '../../src/store/leases.js';
import { createDatabase } from '../support/server.js';

/**
 * The lease and its fencing on a real PostgreSQL: a new holder gets a new token, and a deposed
 * holder's claims, cron firings and release states write nothing (the SIGSTOP case of
 * test/ha/control-planes.test.ts, at the level of the rows).
 */
test('a deposed leader cannot renew, claim a run, fire a schedule or change a release', async (t) => {
  const pgdb = await createDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'berth-fence-'));
  const store = await openStore({ dataDir: dir, databaseUrl: pgdb.url });
  t.after(async () => {
    await store.close();
    await pgdb.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  const db = store.db;
  const user = await createUser(db, { username: 'ann', passwordHash: 'x', isAdmin: false });
  const projectId = await createProject(db, user.id, 'shop');
  const ts = now();
  await insertApp(db, {
    id: 'app_1', project_id: projectId, name: 'web', slug: 'web', image: 'img', replicas: 1, memory_mb: 64, cpu: 0, port: 8080, strategy: 'rolling',
    health_check: { path: '/', timeout_s: 5, grace_s: 0 }, env: {}, release_id: null, live_release_id: null, stopped: 0, restart_seq: 0, auto_deploy: 1, created_at: ts, updated_at: ts,
  });

  const first = await acquire(db, LEADER, 'cp_a', 60_000);
  assert.equal(first?.token, 1);
  assert.equal(await acquire(db, LEADER, 'cp_b', 60_000), null, 'held: no one else takes it');
  assert.ok(await renew(db, LEADER, 'cp_a', 1, 60_000));
  const old = { name: LEADER, token: 1 };

  // cp_a is paused; its term ends (here by giving it up; in life by expiry) and cp_b takes over.
  await release(db, LEADER, 'cp_a', 1);
  const second = await acquire(db, LEADER, 'cp_b', 60_000);
  assert.equal(second?.token, 2);
  const current = { name: LEADER, token: 2 };
  assert.equal(await renew(db, LEADER, 'cp_a', 1, 60_000), false, 'the old term cannot be renewed');

  await insertRun(db, newRun('run_1', { id: 'app_1', slug: 'web' }, 'rel_1', 'run', ['true'], 60));
  assert.equal(await claimRun(db, 'run_1', old), false, 'the old leader claims nothing');
  assert.equal((await runById(db, 'run_1'))!.status, 'queued');
  assert.equal(await claimRun(db, 'run_1', current), true);
  assert.equal(await claimRun(db, 'run_1', current), false, 'a run is claimed once');

  await insertCron(db, { id: 'cron_1', app_id: 'app_1', schedule: '* * * * *', command: ['true'], timeout_s: 60, last_fired_at: null, created_at: ts });
  const at = '2026-01-01T00:01:00.000Z';
  assert.equal(await setCronFired(db, 'cron_1', null, at, old), false, 'the old leader fires nothing');
  assert.equal(await setCronFired(db, 'cron_1', null, at, current), true);
  assert.equal(await setCronFired(db, 'cron_1', null, at, current), false, 'a firing is acted on once (compared with what was read)');

  const config = { replicas: 1, memory_mb: 64, cpu: 0, port: 8080, strategy: 'rolling' as const, health_check: { path: '/', timeout_s: 5, grace_s: 0 }, env: {} };
  const rel = await insertRelease(db, { appId: 'app_1', image: 'img', config, description: 'deploy', buildId: null, userId: null, withReleaseCommand: false });
  await assert.rejects(setReleaseStatus(db, rel.id, 'deploying', null, old), FencedOut);
  await assert.rejects(markLive(db, 'app_1', rel, null, old), FencedOut);
  assert.equal((await releaseById(db, rel.id))!.status, rel.status, 'the release is as it was');
  await markLive(db, 'app_1', rel, null, current);
  assert.equal((await releaseById(db, rel.id))!.status, 'live');

  // cp_b restarts after a crash (its id is kept in its data directory): it takes its own lease back
  // at once, in a new term, and its previous life's token is fenced out like any other.
  assert.equal((await acquire(db, LEADER, 'cp_b', 60_000))?.token, 3);
  assert.equal(await acquire(db, LEADER, 'cp_a', 60_000), null);
  await insertRun(db, newRun('run_2', { id: 'app_1', slug: 'web' }, 'rel_1', 'run', ['true'], 60));
  assert.equal(await claimRun(db, 'run_2', current), false);
});
