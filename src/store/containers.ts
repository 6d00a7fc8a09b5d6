import type { Db } from './db.js';
import { now } from './db.js';
import type { ContainersTable } from './schema.js';

export type ContainerRow = ContainersTable;

export const containersOfApp = (db: Db, appId: string) =>
  db.selectFrom('containers').selectAll().where('app_id', '=', appId).orderBy('replica').orderBy('created_at').execute();

export const containerById = (db: Db, id: string) => db.selectFrom('containers').selectAll().where('id', '=', id).executeTakeFirst();

export async function insertContainer(db: Db, row: ContainerRow) {
  await db.insertInto('containers').values(row).execute();
}

export async function updateContainer(db: Db, id: string, patch: Partial<Omit<ContainerRow, 'id'>>) {
  await db.updateTable('containers').set({ ...patch, updated_at: now() }).where('id', '=', id).execute();
}

export async function deleteContainer(db: Db, id: string) {
  await db.deleteFrom('containers').where('id', '=', id).execute();
}
