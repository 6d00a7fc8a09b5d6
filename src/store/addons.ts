import type { Db } from './db.js';
import { now } from './db.js';
import type { AddonAttachmentsTable, AddonsTable } from './schema.js';
import type { SecretBox } from '../lib/crypto.js';

/** The add-on's own account, stored sealed (JSON inside the secret box). */
export interface AddonCredentials {
  user: string;
  password: string;
  database: string;
}

export const sealCredentials = (box: SecretBox, c: AddonCredentials): string => box.seal(JSON.stringify(c));

export function openCredentials(box: SecretBox, sealed: string): AddonCredentials {
  const c = JSON.parse(box.open(sealed)) as Partial<AddonCredentials> | null;
  if (typeof c?.user !== 'string' || typeof c.password !== 'string' || typeof c.database !== 'string') {
    throw new Error('column addons.credentials does not hold an account');
  }
  return c as AddonCredentials;
}

export type AddonRow = AddonsTable;

/** The restore check of a base backup, kept on its add-on (pitr_verified). */
export interface BaseBackupCheck {
  status: 'ok' | 'failed';
  answer: string | null;
  error: string | null;
  duration_ms: number;
  at: string;
  /** When the base backup checked finished. */
  base_at: string;
}

export function baseBackupCheck(a: Pick<AddonRow, 'pitr_verified'>): BaseBackupCheck | null {
  return a.pitr_verified ? (JSON.parse(a.pitr_verified) as BaseBackupCheck) : null;
}
export type AttachmentRow = AddonAttachmentsTable;

export const insertAddon = (db: Db, row: AddonRow) => db.insertInto('addons').values(row).execute();
export const allAddons = (db: Db) => db.selectFrom('addons').selectAll().execute();
export const addonById = (db: Db, id: string) => db.selectFrom('addons').selectAll().where('id', '=', id).executeTakeFirst();
export const deleteAddon = (db: Db, id: string) => db.deleteFrom('addons').where('id', '=', id).execute();

export async function updateAddon(db: Db, id: string, patch: Partial<Pick<AddonRow, 'status' | 'message' | 'backup_schedule' | 'backup_keep' | 'pitr_days' | 'pitr_base_at' | 'pitr_earliest' | 'recovered_to' | 'rewind_target' | 'rewound_to' | 'verify_query' | 'pitr_verified'>>) {
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
  return q.orderBy('addons.created_at').orderBy('addons.id').execute();
}

/** The add-on attached to the app under this name, if any. */
export const attachmentAs = (db: Db, appId: string, asName: string) =>
  db.selectFrom('addon_attachments').select('addon_id').where('app_id', '=', appId).where('as_name', '=', asName).executeTakeFirst();

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
