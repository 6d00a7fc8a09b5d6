import type { Db } from './db.js';
import { now } from './db.js';
import type { DomainsTable } from './schema.js';

export type DomainRow = DomainsTable;

export const domainsOfApp = (db: Db, appId: string) =>
  db.selectFrom('domains').selectAll().where('app_id', '=', appId).orderBy('hostname').execute();

export const domainByHost = (db: Db, hostname: string) =>
  db.selectFrom('domains').selectAll().where('hostname', '=', hostname).executeTakeFirst();

/** Hostnames of the verified custom domains, with their apps. */
export const verifiedDomains = (db: Db) => db.selectFrom('domains').select(['app_id', 'hostname']).where('verified', '=', 1).execute();

export const unverifiedDomains = (db: Db) => db.selectFrom('domains').selectAll().where('verified', '=', 0).execute();

export async function insertDomain(db: Db, row: DomainRow) {
  await db.insertInto('domains').values(row).execute();
}

export async function recordCheck(db: Db, id: string, by: 'dns' | 'http' | null, message: string | null) {
  const ts = now();
  await db
    .updateTable('domains')
    .set(by ? { verified: 1, verified_by: by, message: null, checked_at: ts, verified_at: ts } : { message, checked_at: ts })
    .where('id', '=', id)
    .execute();
}

export async function deleteDomain(db: Db, id: string) {
  await db.deleteFrom('domains').where('id', '=', id).execute();
}
