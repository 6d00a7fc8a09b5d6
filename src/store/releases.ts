import type { Db } from './db.js';
import { now } from './db.js';
import { FencedOut, holds, type Fence } from './leases.js';
import type { ReleasesTable, ReleaseStatus } from './schema.js';
import { newId } from '../lib/ids.js';
import { decodeProcesses } from './formation.js';
import { decodeEnv, encodeEnv, encodeHealthCheck, encodeMounts, encodeCommand, type HealthCheck, type MountColumn, type Placement, type StoredEnv } from './app-columns.js';

/** A volume mounted by a release: the app's mount, frozen. */
export type ReleaseVolume = MountColumn;

export type ReleaseRow = ReleasesTable;

/** Everything a release runs with, frozen when it is made, so a rollback runs exactly this again. */
export interface ReleaseConfig {
  replicas: number;
  memory_mb: number;
  cpu: number;
  port: number;
  strategy: 'rolling' | 'blue-green' | 'recreate';
  health_check: HealthCheck;
  /** Stored env (secret values sealed), as in apps.env (a JSON string inside the stored config). */
  env: StoredEnv;
  /** Volumes mounted (absent in releases made before volumes existed). */
  volumes?: ReleaseVolume[];
  /** Run once before the release takes traffic; absent or null: none. */
  release_command?: string[] | null;
  /** Cluster mode: where the replicas may run; absent or null: anywhere. */
  placement?: Placement | null;
  /** The Procfile's process types besides web and release, type → command (run with sh -c); absent: none. */
  processes?: Record<string, string>;
}

/** The one decoder of `releases.config` (its env is JSON text inside the JSON, as apps.env is stored). */
export function releaseConfig(r: Pick<ReleaseRow, 'config'>): ReleaseConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(r.config);
  } catch {
    throw new Error('column releases.config holds text that is not JSON');
  }
  const c = raw as Omit<ReleaseConfig, 'env'> & { env: unknown };
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new Error('column releases.config does not hold the expected shape');
  const processes = c.processes === undefined ? undefined : decodeProcesses(JSON.stringify(c.processes), 'releases.config.processes');
  return { ...c, env: typeof c.env === 'string' ? decodeEnv(c.env, 'releases.config.env') : {}, ...(processes ? { processes } : {}) };
}

const encodeConfig = (c: ReleaseConfig): string => JSON.stringify({ ...c, env: encodeEnv(c.env) });

/** What a new release writes besides its own row: the fields it supersedes on the app. */
export interface NewReleaseRow {
  appId: string;
  image: string;
  config: ReleaseConfig;
  description: string;
  buildId: string | null;
  userId: string | null;
  /** A rollback puts the snapshot's release command back in the app's config; a deploy leaves it. */
  withReleaseCommand: boolean;
}

/**
 * Release vN+1 in one transaction: a pending release is superseded, the new one inserted and made
 * the app's target with its config copied onto the app. Two at once may pick the same version: the
 * caller retries on the unique violation.
 */
export async function insertRelease(db: Db, r: NewReleaseRow): Promise<ReleaseRow> {
  const { config } = r;
  return db.transaction().execute(async (tx) => {
    const max = await tx
      .selectFrom('releases')
      .select((eb) => eb.fn.max('version').as('v'))
      .where('app_id', '=', r.appId)
      .executeTakeFirst();
    const ts = now();
    const release: ReleaseRow = {
      id: newId('rel'),
      app_id: r.appId,
      version: Number(max?.v ?? 0) + 1,
      image: r.image,
      config: encodeConfig(config),
      status: 'pending',
      reason: null,
      description: r.description,
      build_id: r.buildId,
      created_by: r.userId,
      created_at: ts,
      updated_at: ts,
    };
    await tx
      .updateTable('releases')
      .set({ status: 'superseded', reason: `replaced by v${release.version} before it went live`, updated_at: ts })
      .where('app_id', '=', r.appId)
      .where('status', '=', 'pending')
      .execute();
    await tx.insertInto('releases').values(release).execute();
    await tx
      .updateTable('apps')
      .set({
        release_id: release.id,
        image: r.image,
        stopped: 0,
        replicas: config.replicas,
        memory_mb: config.memory_mb,
        cpu: config.cpu,
        port: config.port,
        strategy: config.strategy,
        health_check: encodeHealthCheck(config.health_check),
        env: encodeEnv(config.env),
        volumes: encodeMounts(config.volumes ?? []),
        ...(r.withReleaseCommand ? { release_command: encodeCommand(config.release_command ?? null) } : {}),
        updated_at: ts,
      })
      .where('id', '=', r.appId)
      .execute();
    return release;
  });
}

/** The version of a release (0 when it is gone). */
export const releaseVersion = async (db: Db, id: string): Promise<number> =>
  Number((await db.selectFrom('releases').select('version').where('id', '=', id).executeTakeFirst())?.version ?? 0);

export const releaseById = (db: Db, id: string) => db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst();

export const releaseByVersion = (db: Db, appId: string, version: number) =>
  db.selectFrom('releases').selectAll().where('app_id', '=', appId).where('version', '=', version).executeTakeFirst();

export const listReleases = (db: Db, appId: string, limit = 100) =>
  db.selectFrom('releases').selectAll().where('app_id', '=', appId).orderBy('version', 'desc').limit(limit).execute();

/** Fenced on the lease (a deposed leader's rollout writes nothing: FencedOut). */
export async function setReleaseStatus(db: Db, id: string, status: ReleaseStatus, reason: string | null = null, fence: Fence = null) {
  const r = await db.updateTable('releases').set({ status, reason, updated_at: now() }).where('id', '=', id).where(holds(fence)).executeTakeFirst();
  if (fence && Number(r.numUpdatedRows) === 0 && (await db.selectFrom('releases').select('id').where('id', '=', id).executeTakeFirst())) throw new FencedOut(`release ${id} ${status}`);
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
export async function markLive(db: Db, appId: string, target: ReleaseRow, note: string | null = null, fence: Fence = null) {
  const ts = now();
  await db.transaction().execute(async (tx) => {
    const r = await tx.updateTable('releases').set({ status: 'live', reason: note, updated_at: ts }).where('id', '=', target.id).where(holds(fence)).executeTakeFirst();
    if (fence && Number(r.numUpdatedRows) === 0) throw new FencedOut(`release ${target.id} live`);
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
export async function markFailed(db: Db, appId: string, targetId: string, reason: string, liveId: string | null, fence: Fence = null) {
  await db.transaction().execute(async (tx) => {
    const r = await tx.updateTable('releases').set({ status: 'failed', reason, updated_at: now() }).where('id', '=', targetId).where(holds(fence)).executeTakeFirst();
    if (fence && Number(r.numUpdatedRows) === 0) throw new FencedOut(`release ${targetId} failed`);
    await tx.updateTable('apps').set({ release_id: liveId, updated_at: now() }).where('id', '=', appId).where('release_id', '=', targetId).execute();
  });
}
