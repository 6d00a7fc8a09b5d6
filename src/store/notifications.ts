import type { Db } from './db.js';
import { now } from './db.js';
import type { NotificationDeliveriesTable, NotificationTargetsTable } from './schema-integrations.js';

export type TargetRow = NotificationTargetsTable;
export type DeliveryRow = NotificationDeliveriesTable;

export const targetsOf = (db: Db, appId: string) =>
  db.selectFrom('notification_targets').selectAll().where('app_id', '=', appId).orderBy('created_at').execute();

export const targetById = (db: Db, id: string) => db.selectFrom('notification_targets').selectAll().where('id', '=', id).executeTakeFirst();

export async function insertTarget(db: Db, row: TargetRow) {
  await db.insertInto('notification_targets').values(row).execute();
}

export async function deleteTarget(db: Db, id: string) {
  await db.deleteFrom('notification_targets').where('id', '=', id).execute();
}

export async function insertDeliveries(db: Db, rows: DeliveryRow[]) {
  if (rows.length) await db.insertInto('notification_deliveries').values(rows).execute();
}

export const deliveriesOf = (db: Db, targetId: string, limit: number) =>
  db.selectFrom('notification_deliveries').selectAll().where('target_id', '=', targetId).orderBy('created_at', 'desc').orderBy('id').limit(limit).execute();

/** Pending deliveries due by `at`, oldest first. */
export const dueDeliveries = (db: Db, at: string, limit: number) =>
  db
    .selectFrom('notification_deliveries')
    .innerJoin('notification_targets as t', 't.id', 'notification_deliveries.target_id')
    .selectAll('notification_deliveries')
    .select(['t.kind', 't.url_sealed', 't.secret_sealed'])
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', at)
    .orderBy('next_attempt_at')
    .limit(limit)
    .execute();

export const nextDue = (db: Db) =>
  db.selectFrom('notification_deliveries').select('next_attempt_at').where('status', '=', 'pending').orderBy('next_attempt_at').limit(1).executeTakeFirst();

export async function recordAttempt(db: Db, id: string, patch: Partial<Pick<DeliveryRow, 'status' | 'attempts' | 'last_error' | 'next_attempt_at' | 'delivered_at'>>) {
  await db.updateTable('notification_deliveries').set(patch).where('id', '=', id).execute();
}

export { now };
