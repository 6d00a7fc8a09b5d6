import type { Db } from './db.js';
import { now } from './db.js';
import type { ReleasesTable, ReleaseStatus } from './schema.js';

/** A volume mounted by a release (the same shape as domain/volumes.ts ReleaseMount). */
export interface ReleaseVolume {
  volume: string;
  volume_id: string;
  path: string;
}

export type ReleaseRow = ReleasesTable;

/** Everything a release runs with, frozen when it is made, so a rollback runs exactly this again. */
export interface ReleaseConfig {
  replicas: number;
  memory_mb: number;
  cpu: number;
  port: number;
  strategy: 'rolling' | 'blue-green' | 'recreate';
  health_check: { path: string; timeout_s: number; grace_s: number };
  /** Stored env (secret values sealed), as in apps.env. */
  env: string;
  /** Volumes mounted (absent in releases made before volumes existed). */
  volumes?: ReleaseVolume[];
  /** Run once before the release takes traffic; absent or null: none. */
  release_command?: string[] | null;
  /** Cluster mode: where the replicas may run; absent or null: anywhere. */
  placement?: { constraints: string[] } | null;
}

export const releaseConfig = (r: ReleaseRow): ReleaseConfig => JSON.parse(r.config) as ReleaseConfig;

export const releaseById = (db: Db, id: string) => db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst();

export const releaseByVersion = (db: Db, appId: string, version: number) =>
  db.selectFrom('releases').selectAll().where('app_id', '=', appId).where('version', '=', version).executeTakeFirst();

export const listReleases = (db: Db, appId: string, limit = 100) =>
  db.selectFrom('releases').selectAll().where('app_id', '=', appId).orderBy('version', 'desc').limit(limit).execute();

export async function setReleaseStatus(db: Db, id: string, status: ReleaseStatus, reason: string | null = null) {
  await db.updateTable('releases').set({ status, reason, updated_at: now() }).where('id', '=', id).execute();
}

/**
 * The release that was live just before `beforeVersion` (or the latest that was live, when no
 * version is given): what a rollback goes back to, and what blue-green keeps stopped for it.
 */
export function previousLiveRelease(db: Db, appId: string, beforeVersion?: number) {
  let q = db.selectFrom('releases').selectAll().where('app_id', '=', appId).where('status', 'in', ['superseded', 'rolled-back']);
  if (beforeVersion !== undefined) q = q.where('version', '<', beforeVersion);
  return q.orderBy('version', 'desc').executeTakeFirst();
}

/** The target goes live (its reason: a note such as a root user replaced, or none); the release that was live is superseded (or rolled back from), and the app records it. */
export async function markLive(db: Db, appId: string, target: ReleaseRow, note: string | null = null) {
  const ts = now();
  await db.transaction().execute(async (tx) => {
    await tx.updateTable('releases').set({ status: 'live', reason: note, updated_at: ts }).where('id', '=', target.id).execute();
    await tx
      .updateTable('releases')
      .set({ status: target.description.startsWith('Rollback to') ? 'rolled-back' : 'superseded', updated_at: ts })
      .where('app_id', '=', appId)
      .where('id', '!=', target.id)
      .where('status', '=', 'live')
      .execute();
    await tx.updateTable('apps').set({ live_release_id: target.id, updated_at: ts }).where('id', '=', appId).execute();
  });
}

/** The target failed; the app goes back to the live release (unless a newer deploy replaced the target meanwhile). */
export async function markFailed(db: Db, appId: string, targetId: string, reason: string, liveId: string | null) {
  await db.transaction().execute(async (tx) => {
    await tx.updateTable('releases').set({ status: 'failed', reason, updated_at: now() }).where('id', '=', targetId).execute();
    await tx.updateTable('apps').set({ release_id: liveId, updated_at: now() }).where('id', '=', appId).where('release_id', '=', targetId).execute();
  });
}
