import type { Db } from './db.js';
import { now } from './db.js';
import type { ReleasesTable, ReleaseStatus } from './schema.js';

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
