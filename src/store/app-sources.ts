import type { Db } from './db.js';
import { isUniqueViolation, now } from './db.js';
import type { AppSourcesTable } from './schema-integrations.js';

export type AppSourceRow = AppSourcesTable;

export const sourceOf = (db: Db, appId: string) => db.selectFrom('app_sources').selectAll().where('app_id', '=', appId).executeTakeFirst();

/** Sets the source; the webhook secret is kept unless `secret` is given. */
export async function upsertSource(db: Db, row: Omit<AppSourceRow, 'updated_at'>) {
  const values = { ...row, updated_at: now() };
  await db
    .insertInto('app_sources')
    .values(values)
    .onConflict((oc) => oc.column('app_id').doUpdateSet({ repo_url: row.repo_url, branch: row.branch, vendor_id: row.vendor_id, updated_at: values.updated_at }))
    .execute();
}

export async function setWebhookSecret(db: Db, appId: string, sealed: string) {
  await db.updateTable('app_sources').set({ webhook_secret_sealed: sealed, updated_at: now() }).where('app_id', '=', appId).execute();
}

export async function deleteSource(db: Db, appId: string) {
  await db.deleteFrom('app_sources').where('app_id', '=', appId).execute();
}

/** Records a delivery id; false if it was seen before (the provider redelivered it). */
export async function claimDelivery(db: Db, appId: string, deliveryId: string, provider: string): Promise<boolean> {
  try {
    await db.insertInto('webhook_deliveries').values({ app_id: appId, delivery_id: deliveryId, provider, build_id: null, created_at: now() }).execute();
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

export async function deliveryBuilt(db: Db, appId: string, deliveryId: string, buildId: string) {
  await db.updateTable('webhook_deliveries').set({ build_id: buildId }).where('app_id', '=', appId).where('delivery_id', '=', deliveryId).execute();
}

export const deliveryOf = (db: Db, appId: string, deliveryId: string) =>
  db.selectFrom('webhook_deliveries').selectAll().where('app_id', '=', appId).where('delivery_id', '=', deliveryId).executeTakeFirst();
