import type { Db } from './db.js';
import { now } from './db.js';
import type { ContainersTable } from './schema.js';

export type ContainerRow = ContainersTable;

export const containersOfApp = (db: Db, appId: string) =>
  db.selectFrom('containers').selectAll().where('app_id', '=', appId).orderBy('replica').orderBy('created_at').execute();

/** Containers of every app in the user's projects, with their app's slug. */
export const visibleContainers = (db: Db, userId: string) =>
  db
    .selectFrom('containers')
    .innerJoin('apps', 'apps.id', 'containers.app_id')
    .innerJoin('project_members as m', (j) => j.onRef('m.project_id', '=', 'apps.project_id').on('m.user_id', '=', userId))
    .selectAll('containers')
    .select('apps.slug')
    .orderBy('apps.slug')
    .orderBy('containers.replica')
    .execute();

/** Upstreams (address:port) of the replicas in rotation, by app. */
export const rotationUpstreams = (db: Db) =>
  db.selectFrom('containers').select(['app_id', 'address', 'port']).where('in_rotation', '=', 1).where('address', 'is not', null).execute();

export const containerById = (db: Db, id: string) => db.selectFrom('containers').selectAll().where('id', '=', id).executeTakeFirst();

export async function insertContainer(db: Db, row: ContainerRow) {
  await db.insertInto('containers').values(row).execute();
}

export async function updateContainer(db: Db, id: string, patch: Partial<Omit<ContainerRow, 'id'>>) {
  await db.updateTable('containers').set({ ...patch, updated_at: now() }).where('id', '=', id).execute();
}

export async function deleteContainer(db: Db, id: string) {
  await db.deleteFrom('containers').where('id', '=', id).execute();
}

export const containerByDockerId = (db: Db, dockerId: string) =>
  db.selectFrom('containers').selectAll().where('docker_id', '=', dockerId).executeTakeFirst();

/** Apps that have container rows (deleted apps included). */
export const appIdsWithContainers = async (db: Db) =>
  (await db.selectFrom('containers').select('app_id').distinct().execute()).map((r) => r.app_id);

/** Replicas the control plane placed on a cluster node (by hostname), of every app. */
export const containersOnNode = (db: Db, node: string) => db.selectFrom('containers').selectAll().where('node', '=', node).execute();

export const hasContainers = async (db: Db, appId: string) =>
  !!(await db.selectFrom('containers').select('id').where('app_id', '=', appId).executeTakeFirst());

/** Every replica of the app out of rotation; with `status`, also marked so. */
export async function takeAppOutOfRotation(db: Db, appId: string, status?: 'draining') {
  await db.updateTable('containers').set({ in_rotation: 0, ...(status ? { status } : {}), updated_at: now() }).where('app_id', '=', appId).execute();
}

export async function deleteContainersOfApp(db: Db, appId: string) {
  await db.deleteFrom('containers').where('app_id', '=', appId).execute();
}

/** All of the app's traffic to the release's replicas, away from every other, in one transaction. */
export async function rotateToRelease(db: Db, appId: string, releaseId: string) {
  await db.transaction().execute(async (tx) => {
    await tx.updateTable('containers').set({ in_rotation: 0 }).where('app_id', '=', appId).where('release_id', '!=', releaseId).execute();
    // Only web replicas answer HTTP; the other process types never take traffic.
    await tx.updateTable('containers').set({ in_rotation: 1 }).where('app_id', '=', appId).where('release_id', '=', releaseId).where('process_type', '=', 'web').execute();
  });
}

/** One replica into rotation and others out (draining), in one transaction. */
export async function swapRotation(db: Db, freshId: string, oldIds: string[]) {
  await db.transaction().execute(async (tx) => {
    await tx.updateTable('containers').set({ in_rotation: 1, updated_at: now() }).where('id', '=', freshId).execute();
    for (const id of oldIds) {
      await tx.updateTable('containers').set({ in_rotation: 0, status: 'draining', updated_at: now() }).where('id', '=', id).execute();
    }
  });
}
