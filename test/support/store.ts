import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Db } from '../../src/store/db.js';
import { createUser } from '../../src/store/users.js';
import { createProject } from '../../src/store/projects.js';
import { createDatabase } from './server.js';

/** A fresh SQLite store in a temporary directory, removed after the test, with user `ann` and her project `shop`. */
export async function tempStore(t: { after(fn: () => Promise<void> | void): void }, prefix = 'berth-store-'): Promise<{ db: Db; user: { id: string; username: string }; projectId: string }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const store = await openStore({ dataDir: dir, databaseUrl: null });
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const user = await createUser(store.db, { username: 'ann', passwordHash: 'x', isAdmin: false });
  const projectId = await createProject(store.db, user.id, 'shop');
  return { db: store.db, user: { id: user.id, username: user.username }, projectId };
}

/** The same fresh store, with `ann` and `shop`, on SQLite or on a new PostgreSQL database (dropped after the test). */
export async function engineStore(t: { after(fn: () => Promise<void> | void): void }, engine: 'sqlite' | 'postgres', prefix = 'berth-store-'): Promise<{ db: Db; projectId: string }> {
  if (engine === 'sqlite') return tempStore(t, prefix);
  const pg = await createDatabase();
  const store = await openStore({ dataDir: '/nonexistent', databaseUrl: pg.url });
  t.after(async () => {
    await store.close();
    await pg.drop();
  });
  const user = await createUser(store.db, { username: 'ann', passwordHash: 'x', isAdmin: false });
  return { db: store.db, projectId: await createProject(store.db, user.id, 'shop') };
}
