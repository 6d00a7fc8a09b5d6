import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStore, now, type Store } from '../../src/store/db.js';
import { UNCOUNTED_TABLES } from '../../src/store/write-counter.js';
import { ReadCache } from '../../src/api/read-cache.js';
import { createDatabase, startServer, type TestServer } from '../support/server.js';
import type { BerthClient } from '../../src/client/index.js';

/** The database's write count behind the API's read cache, on a real PostgreSQL. */
describe('write count on PostgreSQL', () => {
  let store: Store;
  let other: Store;
  let dir: string;
  let drop: () => Promise<void>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-pgcount-'));
    const db = await createDatabase();
    drop = db.drop;
    store = await openStore({ dataDir: dir, databaseUrl: db.url });
    // A second store on the same database: another control plane's connections.
    other = await openStore({ dataDir: dir, databaseUrl: db.url });
  });
  after(async () => {
    await other?.close();
    await store?.close();
    await drop?.();
    rmSync(dir, { recursive: true, force: true });
  });

  const user = (id: string) => ({ id, username: id, password_hash: 'x', is_admin: 0, disabled: 0, created_at: now(), updated_at: now() });

  test('every table but the listed logs and heartbeats counts its writes', async () => {
    const r = await sql<{ name: string; counted: boolean }>`select c.relname as name,
        exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname = 'berth_write_gen') as counted
      from pg_class c where c.relkind = 'r' and c.relnamespace = current_schema()::regnamespace`.execute(store.db);
    const notCounted = r.rows.filter((t) => !t.counted).map((t) => t.name).sort();
    assert.deepEqual(notCounted, UNCOUNTED_TABLES.filter((t) => r.rows.some((x) => x.name === t)).sort());
    assert.ok(r.rows.filter((t) => t.counted).some((t) => t.name === 'apps'));
  });

  test('a commit through one store moves the count the other reads; reads and a rollback do not', async () => {
    const count = () => other.generation.read();
    const g0 = await count();
    await store.db.selectFrom('users').selectAll().execute();
    assert.equal(await count(), g0, 'reads are not writes');
    const steps: [string, () => Promise<unknown>][] = [
      ['insert', () => store.db.insertInto('users').values(user('u1')).execute()],
      ['update', () => store.db.updateTable('users').set({ disabled: 1 }).where('id', '=', 'u1').execute()],
      ['raw SQL', () => sql`update users set disabled = 0 where id = 'u1'`.execute(store.db)],
      ['transaction', () => store.db.transaction().execute((tx) => tx.insertInto('users').values(user('u2')).execute())],
      ['delete', () => store.db.deleteFrom('users').where('id', '=', 'u2').execute()],
    ];
    for (const [what, write] of steps) {
      const before = await count();
      await write();
      assert.ok((await count()) > before, `${what}: the other store sees the count move as soon as the commit returned`);
    }
    const before = await count();
    await assert.rejects(
      store.db.transaction().execute(async (tx) => {
        await tx.insertInto('users').values(user('u3')).execute();
        throw new Error('roll back');
      }),
    );
    assert.equal(await count(), before, 'a rolled-back transaction wrote nothing and counts nothing');
  });

  test('a write not yet committed leaves the other store reading the old answer, its commit a new one', async () => {
    const cache = new ReadCache<number>(other);
    // What a build read, in order (the cache hands back its own wrapper, not the value).
    const built: number[] = [];
    const users = async () => {
      const n = Number((await other.db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      built.push(n);
      return n;
    };
    await cache.get('k', users);
    let commit!: () => void;
    const held = new Promise<void>((r) => (commit = r));
    let inserted!: () => void;
    const written = new Promise<void>((r) => (inserted = r));
    const tx = store.db.transaction().execute(async (t) => {
      await t.insertInto('users').values(user('u4')).execute();
      inserted();
      await held;
    });
    await written;
    await cache.get('k', users);
    assert.equal(built.length, 1, 'uncommitted: the cached answer is still the truth');
    commit();
    await tx;
    await cache.get('k', users);
    assert.equal(built.length, 2, 'committed: rebuilt at once');
    assert.equal(built[1], built[0]! + 1);
  });

  test('a count that goes back (a failover that lost commits, a restore) never gives a number it gave before', async () => {
    const g0 = await other.generation.read();
    // The database's count back by two, then forward again to where it was: other data may stand behind it now.
    await sql`update write_generation set n = n - 2 where shard = 0`.execute(store.db);
    const g1 = await other.generation.read();
    await sql`update write_generation set n = n + 2 where shard = 0`.execute(store.db);
    const g2 = await other.generation.read();
    assert.ok(g1 > g0, `a count gone back is a change: ${g0} then ${g1}`);
    assert.ok(g2 > g1, `back at the old count is a change again, not the old number: ${g0}, ${g1}, ${g2}`);
  });

  test('reads that arrive together share one count query, each sent after they arrived', async () => {
    const g = await Promise.all(Array.from({ length: 50 }, () => other.generation.read()));
    assert.equal(new Set(g).size, 1);
    // A write committed while a count is in flight is seen by every read that started after the commit.
    const inflight = other.generation.read();
    await store.db.insertInto('users').values(user('u5')).execute();
    const after = await other.generation.read();
    assert.equal(await inflight, g[0], 'the count read before the write');
    assert.ok(after > g[0]!, 'the read after the commit sees it');
  });
});

/**
 * Two control planes on one PostgreSQL: GET /api/v1/apps is cached on each, and a write through
 * either is seen at once by a read through the other; each caller's cached page is their own.
 */
describe('the apps list across two instances', () => {
  let a: TestServer;
  let b: TestServer;
  let devA: BerthClient;
  let devB: BerthClient;
  let stranger: BerthClient;
  const env = { BERTH_SECRET_KEY: randomBytes(32).toString('base64') };

  before(async () => {
    a = await startServer({ engine: 'postgres', env });
    b = await startServer({ engine: 'postgres', databaseUrl: a.env.DATABASE_URL, env });
    const dev = await a.newUser('dev');
    devA = dev;
    devB = b.client(dev.opts.token!);
    const s = await a.newUser('stranger');
    stranger = b.client(s.opts.token!);
    await devA.call('createProject', { body: { name: 'shop' } });
    await s.call('createProject', { body: { name: 'own' } });
    await s.call('createApp', { body: { name: 'secret-thing', project: 'own' } });
  });
  after(async () => {
    await b?.destroy();
    await a?.destroy();
  });

  const names = async (c: BerthClient) => (await c.call('listApps', {})).items.map((x) => x.name).sort();

  test('create, rename and delete through A: the very next list through B shows each', async () => {
    assert.deepEqual(await names(devB), []);
    assert.deepEqual(await names(devB), [], 'a cached page');
    for (let i = 0; i < 20; i++) {
      await devA.call('createApp', { body: { name: `web-${i}`, project: 'shop' } });
      const seen = await names(devB);
      assert.equal(seen.length, i + 1, `after create ${i}, B lists ${seen.length}`);
      assert.ok(seen.includes(`web-${i}`));
    }
    const app = (await devA.call('listApps', {})).items.find((x) => x.name === 'web-0')!;
    await devA.call('updateApp', { params: { id: app.id }, body: { name: 'renamed' } });
    assert.ok((await names(devB)).includes('renamed'));
    await devA.call('deleteApp', { params: { id: app.id } });
    assert.ok(!(await names(devB)).includes('renamed'));
    // And the other way: through B, seen by A.
    await devB.call('createApp', { body: { name: 'from-b', project: 'shop' } });
    assert.ok((await names(devA)).includes('from-b'));
  });

  test('each caller gets their own page: a tenant never sees another project, cached or not', async () => {
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await names(stranger), ['secret-thing']);
      assert.ok(!(await names(devB)).includes('secret-thing'));
    }
    // Membership granted through A: the stranger's next list through B has the shop's apps; revoked, gone.
    const shop = (await devA.call('listProjects', {})).items.find((p) => p.name === 'shop')!;
    await devA.call('addMember', { params: { id: shop.id }, body: { username: 'stranger', role: 'viewer' } });
    assert.ok((await names(stranger)).includes('from-b'));
    await devA.call('removeMember', { params: { id: shop.id, user: 'stranger' } });
    assert.deepEqual(await names(stranger), ['secret-thing']);
  });

  test('who holds a token is kept per instance too: revoked or disabled through A, refused by B at the next request', async () => {
    const t2 = await devA.call('createToken', { body: { name: 'second' } });
    const second = b.client(t2.token);
    for (let i = 0; i < 3; i++) assert.equal((await second.call('whoami', {})).username, 'dev');
    await devA.call('revokeToken', { params: { id: t2.id } });
    await assert.rejects(second.call('whoami', {}), (err: { status?: number }) => err.status === 401);

    const soon = await a.newUser('soon-off');
    const soonB = b.client(soon.opts.token!);
    const id = (await soonB.call('whoami', {})).id;
    for (let i = 0; i < 3; i++) assert.deepEqual(await names(soonB), []);
    await a.admin.call('updateUser', { params: { id }, body: { disabled: true } });
    await assert.rejects(soonB.call('listApps', {}), (err: { status?: number }) => err.status === 401);
    // And the other way round: enabled again through B, A lets the token in at once.
    await b.admin.call('updateUser', { params: { id }, body: { disabled: false } });
    assert.deepEqual(await names(a.client(soon.opts.token!)), []);
  });
});
