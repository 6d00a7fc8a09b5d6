import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStore, now, type Store } from '../../src/store/db.js';
import { ReadCache } from '../../src/api/read-cache.js';

/** The write counter behind the apps-list cache, on a real SQLite database. */
describe('write generation (SQLite)', () => {
  let dir: string;
  let store: Store;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-gen-'));
    store = await openStore({ dataDir: dir, databaseUrl: null });
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const gen = () => store.generation.read() as number;
  const user = (id: string) => ({ id, username: id, password_hash: 'x', is_admin: 0, disabled: 0, created_at: now(), updated_at: now() });

  test('reads leave the count alone; every kind of write moves it, inside a transaction too', async () => {
    const g0 = gen();
    await store.db.selectFrom('users').selectAll().execute();
    await store.ping();
    assert.equal(gen(), g0, 'reads are not writes');
    const steps: [string, () => Promise<unknown>][] = [
      ['insert', () => store.db.insertInto('users').values(user('u1')).execute()],
      ['update', () => store.db.updateTable('users').set({ disabled: 1 }).where('id', '=', 'u1').execute()],
      ['raw SQL', () => sql`update users set disabled = 0 where id = 'u1'`.execute(store.db)],
      ['transaction', () => store.db.transaction().execute((tx) => tx.insertInto('users').values(user('u2')).execute())],
      ['delete', () => store.db.deleteFrom('users').where('id', '=', 'u2').execute()],
    ];
    for (const [what, write] of steps) {
      const before = gen();
      await write();
      assert.ok(gen() > before, `${what} moves the count`);
    }
  });

  test('a rolled-back transaction still moves the count: a cached read from before it is not reused', async () => {
    const cache = new ReadCache<number>(store);
    let builds = 0;
    const read = () => cache.get('k', async () => ++builds);
    await read();
    await read();
    assert.equal(builds, 1, 'unchanged data: built once');
    await assert.rejects(
      store.db.transaction().execute(async (tx) => {
        await tx.insertInto('users').values(user('u3')).execute();
        throw new Error('roll back');
      }),
    );
    await read();
    assert.equal(builds, 2, 'rebuilt after the transaction');
  });
});
