import type { Db } from './db.js';
import type { LogDrainsTable } from './schema-integrations.js';

export type DrainRow = LogDrainsTable;
export type DrainStatus = Pick<DrainRow, 'last_success_at' | 'last_error' | 'last_error_at' | 'sent' | 'dropped'>;

export const drainsOf = (db: Db, appId: string) =>
  db.selectFrom('log_drains').selectAll().where('app_id', '=', appId).orderBy('created_at').orderBy('id').execute();

export const drainById = (db: Db, id: string) => db.selectFrom('log_drains').selectAll().where('id', '=', id).executeTakeFirst();

/** Every drain with its app's slug: the drain runner's desired state. */
export const allDrains = (db: Db) =>
  db.selectFrom('log_drains').innerJoin('apps', 'apps.id', 'log_drains.app_id').selectAll('log_drains').select('apps.slug').execute();

export async function insertDrain(db: Db, row: DrainRow) {
  await db.insertInto('log_drains').values(row).execute();
}

export async function deleteDrain(db: Db, id: string) {
  await db.deleteFrom('log_drains').where('id', '=', id).execute();
}

/** The runner's observed status; a drain removed meanwhile is no error. */
export async function recordDrainStatus(db: Db, id: string, status: Partial<DrainStatus>) {
  await db.updateTable('log_drains').set(status).where('id', '=', id).execute();
}

/** The replicas of every app that has a drain, with what the runner needs to label their lines. */
export const drainedContainers = (db: Db) =>
  db
    .selectFrom('containers')
    .select(['id', 'app_id', 'docker_id', 'process_type', 'replica', 'status', 'created_at'])
    .where('app_id', 'in', db.selectFrom('log_drains').select('app_id'))
    .where('docker_id', 'is not', null)
    .execute();
