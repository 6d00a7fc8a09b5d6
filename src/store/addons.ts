import type { Db } from './db.js';
import { now } from './db.js';
import type { AddonAttachmentsTable, AddonJobsTable, AddonsTable } from './schema.js';

export type AddonRow = AddonsTable;
export type AttachmentRow = AddonAttachmentsTable;
export type AddonJobRow = AddonJobsTable;

export const insertAddon = (db: Db, row: AddonRow) => db.insertInto('addons').values(row).execute();
export const allAddons = (db: Db) => db.selectFrom('addons').selectAll().execute();
export const addonById = (db: Db, id: string) => db.selectFrom('addons').selectAll().where('id', '=', id).executeTakeFirst();
export const deleteAddon = (db: Db, id: string) => db.deleteFrom('addons').where('id', '=', id).execute();

export async function updateAddon(db: Db, id: string, patch: Partial<Pick<AddonRow, 'status' | 'message' | 'backup_schedule' | 'backup_keep'>>) {
  await db.updateTable('addons').set({ ...patch, updated_at: now() }).where('id', '=', id).execute();
}

/** Add-ons of the projects the user is a member of (optionally one project), with the project's name and the caller's role. */
export function visibleAddons(db: Db, userId: string, projectId?: string) {
  let q = db
    .selectFrom('addons')
    .innerJoin('projects as p', 'p.id', 'addons.project_id')
    .innerJoin('project_members as m', (j) => j.onRef('m.project_id', '=', 'addons.project_id').on('m.user_id', '=', userId))
    .selectAll('addons')
    .select(['p.name as project_name', 'm.role']);
  if (projectId) q = q.where('addons.project_id', '=', projectId);
  return q.orderBy('addons.created_at').orderBy('addons.id');
}

export const attachmentsOf = (db: Db, addonId: string) =>
  db
    .selectFrom('addon_attachments as t')
    .innerJoin('apps', 'apps.id', 't.app_id')
    .select(['t.addon_id', 't.app_id', 't.as_name', 't.created_at', 'apps.slug'])
    .where('t.addon_id', '=', addonId)
    .orderBy('t.created_at')
    .execute();

export const insertAttachment = (db: Db, row: AttachmentRow) => db.insertInto('addon_attachments').values(row).execute();
export const deleteAttachment = (db: Db, addonId: string, appId: string) =>
  db.deleteFrom('addon_attachments').where('addon_id', '=', addonId).where('app_id', '=', appId).execute();

export const insertJob = (db: Db, row: AddonJobRow) => db.insertInto('addon_jobs').values(row).execute();
export const jobById = (db: Db, id: string) => db.selectFrom('addon_jobs').selectAll().where('id', '=', id).executeTakeFirst();
export const jobsWithStatus = (db: Db, status: AddonJobRow['status']) =>
  db.selectFrom('addon_jobs').selectAll().where('status', '=', status).orderBy('created_at').execute();
export const backupsOf = (db: Db, addonId: string) =>
  db.selectFrom('addon_jobs').selectAll().where('addon_id', '=', addonId).where('kind', '=', 'backup').orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
export const lastScheduledBackup = (db: Db, addonId: string) =>
  db.selectFrom('addon_jobs').selectAll().where('addon_id', '=', addonId).where('trigger', '=', 'schedule').orderBy('created_at', 'desc').executeTakeFirst();

export async function updateJob(db: Db, id: string, patch: Partial<Pick<AddonJobRow, 'status' | 'size_bytes' | 'reason' | 'finished_at'>>) {
  await db.updateTable('addon_jobs').set(patch).where('id', '=', id).execute();
}
export const deleteJob = (db: Db, id: string) => db.deleteFrom('addon_jobs').where('id', '=', id).execute();

/** A new job row, queued. */
export function newJob(id: string, addonId: string, kind: AddonJobRow['kind'], trigger: AddonJobRow['trigger'], backupId: string | null = null, reason: string | null = null): AddonJobRow {
  return { id, addon_id: addonId, kind, backup_id: backupId, trigger, status: 'queued', size_bytes: null, reason, created_at: now(), finished_at: null };
}
