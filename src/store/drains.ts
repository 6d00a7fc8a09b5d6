import type { Db } from './db.js';
import type { LogDrainsTable } from './schema-integrations.js';

export type DrainRow = LogDrainsTable;
export type DrainStatus = Pick<DrainRow, 'last_success_at' | 'last_error' | 'last_error_at' | 'sent' | 'dropped'>;

/**
 * `sent` and `dropped` are bigint: PostgreSQL's driver gives them as text (SQLite as numbers).
 * Counts of lines stay far below 2^53, so a number holds them exactly.
 */
const decode = <R extends { sent: number; dropped: number }>(r: R): R => ({ ...r, sent: Number(r.sent), dropped: Number(r.dropped) });

export const drainsOf = async (db: Db, appId: string) =>
  (await db.selectFrom('log_drains').selectAll().where('app_id', '=', appId).orderBy('created_at').orderBy('id').execute()).map(decode);

export const drainById = async (db: Db, id: string) => {
  const r = await db.selectFrom('log_drains').selectAll().where('id', '=', id).executeTakeFirst();
  return r && decode(r);
};

/** Every drain with its app's slug: the drain runner's desired state. */
export const allDrains = async (db: Db) =>
  (await db.selectFrom('log_drains').innerJoin('apps', 'apps.id', 'log_drains.app_id').selectAll('log_drains').select('apps.slug').execute()).map(decode);

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
    .select(['id', 'app_id', 'docker_id', 'process_type', 'replica', 'status', 'created_at', 'address', 'port'])
    .where('app_id', 'in', db.selectFrom('log_drains').select('app_id'))
    .where('docker_id', 'is not', null)
    .execute();
