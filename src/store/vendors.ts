import type { Db } from './db.js';
import type { VendorAccountsTable } from './schema-integrations.js';

export type VendorRow = VendorAccountsTable;

export const vendorsOf = (db: Db, ownerId: string) =>
  db.selectFrom('vendor_accounts').selectAll().where('owner_id', '=', ownerId).orderBy('created_at').execute();

export const vendorById = (db: Db, id: string) => db.selectFrom('vendor_accounts').selectAll().where('id', '=', id).executeTakeFirst();

export async function insertVendor(db: Db, row: VendorRow) {
  await db.insertInto('vendor_accounts').values(row).execute();
}

export async function deleteVendor(db: Db, id: string) {
  await db.deleteFrom('vendor_accounts').where('id', '=', id).execute();
}
