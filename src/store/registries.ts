import type { Db } from './db.js';
import type { RegistryAccountsTable } from './schema-integrations.js';

export type RegistryRow = RegistryAccountsTable;

export const registriesOf = (db: Db, ownerId: string) =>
  db.selectFrom('registry_accounts').selectAll().where('owner_id', '=', ownerId).orderBy('host').execute();

export const registryById = (db: Db, id: string) => db.selectFrom('registry_accounts').selectAll().where('id', '=', id).executeTakeFirst();

export const registryFor = (db: Db, ownerId: string, host: string) =>
  db.selectFrom('registry_accounts').selectAll().where('owner_id', '=', ownerId).where('host', '=', host).executeTakeFirst();

export async function insertRegistry(db: Db, row: RegistryRow) {
  await db.insertInto('registry_accounts').values(row).execute();
}

export async function deleteRegistry(db: Db, id: string) {
  await db.deleteFrom('registry_accounts').where('id', '=', id).execute();
}
