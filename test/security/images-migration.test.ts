import { test } from 'node:test';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { migrationProvider } from '../../src/store/migrations.js';

/**
 * 0014_image_owners on a database with history: the project keeps what its apps built and what an
 * admin deployed into it; an image a non-admin deployed before the check (perhaps another
 * project's) does not become the project's.
 */
test('0014 carries over built images and admins\' deploys, not other releases', async () => {
  const file = new SQLite(':memory:');
  file.pragma('foreign_keys = ON');
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: file }) });
  try {
    const migrator = new Migrator({ db, provider: migrationProvider('sqlite') });
    const to13 = await migrator.migrateTo('0013_placement');
    assert.equal(to13.error, undefined);
    const ts = new Date().toISOString();
    for (const [id, admin] of [['u_admin', 1], ['u_dev', 0]] as const) {
      await db.insertInto('users').values({ id, username: id, password_hash: 'x', is_admin: admin, disabled: 0, created_at: ts, updated_at: ts }).execute();
    }
    await db.insertInto('projects').values({ id: 'p1', name: 'p1', owner_id: 'u_dev', created_at: ts, updated_at: ts }).execute();
    await db
      .insertInto('apps')
      .values({ id: 'a1', project_id: 'p1', name: 'web', slug: 'web', replicas: 1, memory_mb: 64, cpu: 0, port: 8080, strategy: 'rolling', health_check: '{}', env: '{}', stopped: 0, restart_seq: 0, created_at: ts, updated_at: ts })
      .execute();
    const build = (id: string, number: number, status: string) => ({ id, app_id: 'a1', number, source: 'archive', status, image: `berth/web:${number}`, created_at: ts });
    await db.insertInto('builds').values([build('b1', 1, 'succeeded'), build('b2', 2, 'failed')]).execute();
    const release = (id: string, version: number, image: string, by: string) => ({ id, app_id: 'a1', version, image, config: '{}', status: 'superseded', description: 'd', created_by: by, created_at: ts, updated_at: ts });
    await db.insertInto('releases').values([release('r1', 1, 'ops/hand:1', 'u_admin'), release('r2', 2, 'berth/someone-else:3', 'u_dev'), release('r3', 3, 'berth/web:1', 'u_admin')]).execute();

    const rest = await migrator.migrateToLatest();
    assert.equal(rest.error, undefined);
    const rows = await db.selectFrom('image_owners').select(['project_id', 'image', 'image_id', 'source']).orderBy('image').execute();
    assert.deepEqual(rows, [
      { project_id: 'p1', image: 'berth/web:1', image_id: null, source: 'build' },
      { project_id: 'p1', image: 'ops/hand:1', image_id: null, source: 'admin' },
    ]);
  } finally {
    await db.destroy();
  }
});
