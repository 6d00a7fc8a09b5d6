import type { Db } from './db.js';
import { isUniqueViolation, now } from './db.js';
import type { AppSourcesTable } from './schema-integrations.js';
import { insertApp, type AppRow } from './apps.js';

export type AppSourceRow = AppSourcesTable;

export const sourceOf = (db: Db, appId: string) => db.selectFrom('app_sources').selectAll().where('app_id', '=', appId).executeTakeFirst();

/** Sets the source; the webhook secret is kept unless `secret` is given. */
export async function upsertSource(db: Db, row: Omit<AppSourceRow, 'updated_at'>) {
  const values = { ...row, updated_at: now() };
  const { app_id: _id, webhook_secret_sealed: _secret, ...changed } = values;
  await db
    .insertInto('app_sources')
    .values(values)
    .onConflict((oc) => oc.column('app_id').doUpdateSet(changed))
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

export const previewOf = (db: Db, parentId: string, number: number) =>
  db.selectFrom('preview_apps').selectAll().where('parent_id', '=', parentId).where('number', '=', number).executeTakeFirst();

/** A pull request's preview app and its link to the parent, both or neither. */
export async function insertPreviewApp(db: Db, app: AppRow, row: { app_id: string; parent_id: string; number: number; branch: string }) {
  await db.transaction().execute(async (tx) => {
    await insertApp(tx, app);
    await tx.insertInto('preview_apps').values({ ...row, created_at: now() }).execute();
  });
}
