import type { Db } from './db.js';

/** What image garbage collection looks at, per app. */
export interface AppImages {
  appId: string;
  projectId: string;
  liveReleaseId: string | null;
  /** The release the app is rolling out to (may equal the live one). */
  targetReleaseId: string | null;
  releases: { id: string; version: number; image: string; status: string }[];
  /** Succeeded builds, newest first. */
  builds: { id: string; image: string; releaseId: string | null }[];
  /** Releases that still have containers (a blue-green standby set, replicas draining). */
  releasesWithContainers: string[];
}

/** What image garbage collection and the image list need of these apps (all apps when `appIds` is undefined). */
export async function appImages(db: Db, appIds?: string[]): Promise<AppImages[]> {
  if (appIds && appIds.length === 0) return [];
  // Any of Kysely's select builders: their where() overloads admit no narrower common type.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const only = <Q extends { where: (...a: any[]) => Q }>(q: Q, col: string): Q => (appIds ? q.where(col, 'in', appIds) : q);
  const [apps, releases, builds, containers] = await Promise.all([
    only(db.selectFrom('apps').select(['id', 'project_id', 'live_release_id', 'release_id']), 'id').execute(),
    only(db.selectFrom('releases').select(['id', 'app_id', 'version', 'image', 'status']), 'app_id').execute(),
    only(db.selectFrom('builds').select(['id', 'app_id', 'image', 'release_id', 'number']).where('status', '=', 'succeeded'), 'app_id').orderBy('number', 'desc').execute(),
    only(db.selectFrom('containers').select(['app_id', 'release_id']).distinct(), 'app_id').execute(),
  ]);
  return apps.map((a) => ({
    appId: a.id,
    projectId: a.project_id,
    liveReleaseId: a.live_release_id,
    targetReleaseId: a.release_id,
    releases: releases.filter((r) => r.app_id === a.id),
    builds: builds.filter((b) => b.app_id === a.id).map((b) => ({ id: b.id, image: b.image, releaseId: b.release_id })),
    releasesWithContainers: containers.filter((c) => c.app_id === a.id).map((c) => c.release_id),
  }));
}

/** Succeeded builds of these apps (for the image list's sources). */
export const succeededBuilds = (db: Db, appIds: string[]) =>
  appIds.length === 0
    ? Promise.resolve([])
    : db
        .selectFrom('builds')
        .select(['id', 'app_id', 'number', 'image', 'commit_sha', 'source', 'finished_at'])
        .where('app_id', 'in', appIds)
        .where('status', '=', 'succeeded')
        .execute();
