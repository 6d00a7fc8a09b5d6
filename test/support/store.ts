import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Db } from '../../src/store/db.js';
import { createUser } from '../../src/store/users.js';
import { createProject } from '../../src/store/projects.js';

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
