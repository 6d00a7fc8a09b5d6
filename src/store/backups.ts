import type { Db } from './db.js';
import { now } from './db.js';
import { holds, type Fence } from './leases.js';
import type { BackupJobsTable } from './schema.js';

/** Backups and restores of add-ons and volumes: one table, one set of queries, by owner. */
export type BackupJobRow = BackupJobsTable;
export type BackupOwnerKind = 'addon' | 'volume';
export interface BackupOwner {
  kind: BackupOwnerKind;
  id: string;
}

const column = (kind: BackupOwnerKind) => (kind === 'addon' ? 'addon_id' : 'volume_id');

/** Whose backup or restore a row is. */
export const ownerOf = (j: BackupJobRow): BackupOwner => (j.addon_id ? { kind: 'addon', id: j.addon_id } : { kind: 'volume', id: j.volume_id ?? '' });

/** The project of an add-on or volume (undefined when it is gone). */
export async function projectOfOwner(db: Db, o: BackupOwner): Promise<string | undefined> {
  return (await db.selectFrom(o.kind === 'addon' ? 'addons' : 'volumes').select('project_id').where('id', '=', o.id).executeTakeFirst())?.project_id;
}

export const insertJob = (db: Db, row: BackupJobRow) => db.insertInto('backup_jobs').values(row).execute();
export const jobById = (db: Db, id: string) => db.selectFrom('backup_jobs').selectAll().where('id', '=', id).executeTakeFirst();
export const jobsWithStatus = (db: Db, kind: BackupOwnerKind, status: BackupJobRow['status']) =>
  db.selectFrom('backup_jobs').selectAll().where('status', '=', status).where(column(kind), 'is not', null).orderBy('created_at').execute();
export const backupsOf = (db: Db, owner: BackupOwner) =>
  db.selectFrom('backup_jobs').selectAll().where(column(owner.kind), '=', owner.id).where('kind', '=', 'backup').orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
export const lastScheduledBackup = (db: Db, owner: BackupOwner) =>
  db.selectFrom('backup_jobs').selectAll().where(column(owner.kind), '=', owner.id).where('trigger', '=', 'schedule').orderBy('created_at', 'desc').executeTakeFirst();
/** A restore of this owner that has not finished, if any. */
export const restoreUnderWay = (db: Db, owner: BackupOwner) =>
  db.selectFrom('backup_jobs').selectAll().where(column(owner.kind), '=', owner.id).where('kind', '=', 'restore').where('status', 'in', ['queued', 'running']).executeTakeFirst();

export async function updateJob(db: Db, id: string, patch: Partial<Pick<BackupJobRow, 'status' | 'size_bytes' | 'reason' | 'finished_at' | 'verify_status' | 'verify_answer' | 'verify_error' | 'verify_ms' | 'verified_at'>>) {
  await db.updateTable('backup_jobs').set(patch).where('id', '=', id).execute();
}
/** Takes a queued job (queued → running), fenced on the lease; false when another took it first. */
export async function claimJob(db: Db, id: string, fence: Fence = null): Promise<boolean> {
  const r = await db.updateTable('backup_jobs').set({ status: 'running' }).where('id', '=', id).where('status', '=', 'queued').where(holds(fence)).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
/** Add-on backups whose restore check is asked for and not done, oldest first. */
export const pendingVerifications = (db: Db) =>
  db.selectFrom('backup_jobs').selectAll().where('verify_status', '=', 'pending').where('status', '=', 'succeeded').where('addon_id', 'is not', null).orderBy('finished_at').execute();
export const deleteJob = (db: Db, id: string) => db.deleteFrom('backup_jobs').where('id', '=', id).execute();

/** A new job row, queued. */
export function newJob(id: string, owner: BackupOwner, kind: BackupJobRow['kind'], trigger: BackupJobRow['trigger'], backupId: string | null = null, reason: string | null = null): BackupJobRow {
  return {
    id,
    addon_id: owner.kind === 'addon' ? owner.id : null,
    volume_id: owner.kind === 'volume' ? owner.id : null,
    kind,
    backup_id: backupId,
    trigger,
    status: 'queued',
    size_bytes: null,
    reason,
    created_at: now(),
    finished_at: null,
    verify_status: null,
    verify_answer: null,
    verify_error: null,
    verify_ms: null,
    verified_at: null,
  };
}
