import type { Db } from './db.js';
import { decodeMounts } from './app-columns.js';
import type { VolumesTable } from './schema.js';

export type VolumeRow = VolumesTable;

export async function insertVolume(db: Db, row: VolumeRow) {
  await db.insertInto('volumes').values(row).execute();
}

/** A volume of the project by id or name. */
export const volumeInProject = (db: Db, projectId: string, idOrName: string) =>
  db
    .selectFrom('volumes')
    .selectAll()
    .where('project_id', '=', projectId)
    .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
    .executeTakeFirst();

/** Volumes of the projects the user is a member of (optionally one project), with the project's name. */
export function visibleVolumes(db: Db, userId: string, projectId?: string) {
  let q = db
    .selectFrom('volumes')
    .innerJoin('projects as p', 'p.id', 'volumes.project_id')
    .innerJoin('project_members as m', (j) => j.onRef('m.project_id', '=', 'volumes.project_id').on('m.user_id', '=', userId))
    .selectAll('volumes')
    .select(['p.name as project_name', 'm.role']);
  if (projectId) q = q.where('volumes.project_id', '=', projectId);
  return q.orderBy('volumes.created_at').orderBy('volumes.id').execute();
}

export const deleteVolume = (db: Db, id: string) => db.deleteFrom('volumes').where('id', '=', id).execute();

export const allVolumeIds = async (db: Db) => (await db.selectFrom('volumes').select('id').execute()).map((r) => r.id);

/** Apps of the project whose config mounts volumes (the caller filters by name). */
export async function appsWithVolumes(db: Db, projectId: string) {
  const rows = await db.selectFrom('apps').select(['id', 'slug', 'volumes']).where('project_id', '=', projectId).where('volumes', '!=', '[]').execute();
  return rows.map((r) => ({ ...r, volumes: decodeMounts(r.volumes) }));
}

export const allVolumes = (db: Db) => db.selectFrom('volumes').selectAll().execute();

export async function updateVolume(db: Db, id: string, patch: Partial<Pick<VolumeRow, 'backup_schedule' | 'backup_keep'>>) {
  await db.updateTable('volumes').set(patch).where('id', '=', id).execute();
}
