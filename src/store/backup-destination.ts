import type { Db } from './db.js';
import { now } from './db.js';
import type { BackupDestinationTable } from './schema-integrations.js';

export type BackupDestinationRow = BackupDestinationTable;
const ID = 'default';

export const backupDestination = (db: Db) => db.selectFrom('backup_destination').selectAll().where('id', '=', ID).executeTakeFirst();

/** Sets the destination, its key as given (the handler keeps the old one unless a key is given). */
export async function saveBackupDestination(db: Db, row: Omit<BackupDestinationRow, 'id' | 'created_at' | 'updated_at'>) {
  const at = now();
  await db
    .insertInto('backup_destination')
    .values({ ...row, id: ID, created_at: at, updated_at: at })
    .onConflict((c) => c.column('id').doUpdateSet({ endpoint: row.endpoint, bucket: row.bucket, region: row.region, access_key_sealed: row.access_key_sealed, secret_key_sealed: row.secret_key_sealed, key_sealed: row.key_sealed, ca_pem: row.ca_pem, updated_at: at }))
    .execute();
}

export const deleteBackupDestination = (db: Db) => db.deleteFrom('backup_destination').where('id', '=', ID).execute();
