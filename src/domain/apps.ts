import type { Db } from '../store/db.js';
import * as apps from '../store/apps.js';
import type { AppPatch, AppRow } from '../store/apps.js';
import type { MountColumn } from '../store/app-columns.js';
import { deleteVolume, volumeInProject, appsWithVolumes } from '../store/volumes.js';
import type { ReleaseRow } from '../store/releases.js';
import type { SecretBox } from '../lib/crypto.js';
import type { Events } from './events.js';
import { createRelease } from './releases.js';
import { mergeEnv, type StoredEnv } from './env.js';

/**
 * The rules of an app's config, apart from the HTTP layer: what a change may combine, and what it
 * sets off (a release). Pure where they can be, so they are tested without a server.
 */

/** A change the rules refuse: the field at fault and why (the API answers 400 naming it). */
export class AppRuleError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Why a volume's node cannot meet a placement constraint, or null (cluster mode; null: one node, no check). */
export type UnmetBy = ((constraint: string) => string | null) | null;

/**
 * Checks a change against the app it changes. Two releases' replicas writing one volume at once is
 * how data gets corrupted, so an app with volumes rolls out with `recreate`; in cluster mode its
 * replicas are pinned to the volumes' node, so its placement must admit that node.
 */
export function checkAppChange(app: Pick<AppRow, 'volumes' | 'strategy' | 'placement'>, patch: AppPatch, unmet: UnmetBy): void {
  const mounts = patch.volumes ?? app.volumes;
  if (mounts.length && (patch.strategy ?? app.strategy) !== 'recreate') {
    throw new AppRuleError(
      'strategy',
      'an app with volumes rolls out with strategy "recreate" (old replicas stop before new ones start): set strategy to recreate',
    );
  }
  if (!unmet) return;
  const placementGiven = 'placement' in patch;
  const constraints = placementGiven ? (patch.placement?.constraints ?? []) : (app.placement?.constraints ?? []);
  constraints.forEach((c, i) => {
    const why = unmet(c);
    if (why) throw new AppRuleError(placementGiven ? `placement.constraints.${i}` : 'volumes', why);
  });
}

const sameMounts = (a: readonly MountColumn[], b: readonly MountColumn[]) =>
  a.length === b.length && a.every((m, i) => m.volume === b[i]!.volume && m.volume_id === b[i]!.volume_id && m.path === b[i]!.path);

/**
 * Mounts change what the replicas run with: like config vars, they make a release, when the app is
 * deployed. Returns that release's description, or null when the change needs none.
 */
export function mountRelease(app: Pick<AppRow, 'volumes' | 'release_id' | 'image'>, patch: AppPatch): string | null {
  if (patch.volumes === undefined || sameMounts(patch.volumes, app.volumes) || !app.release_id || !app.image) return null;
  return patch.volumes.length ? `Volumes: ${patch.volumes.map((m) => `${m.volume}:${m.path}`).join(', ')}` : 'Volumes: none';
}

/** Writes a checked change, makes the release it needs, and records it (nothing when the patch is empty). */
export async function applyAppChange(db: Db, events: Events, app: AppRow, patch: AppPatch, user: { id: string; username: string }): Promise<boolean> {
  if (!Object.keys(patch).length) return false;
  await apps.updateApp(db, app.id, patch);
  const description = mountRelease(app, patch);
  if (description) {
    const fresh = (await apps.appById(db, app.id))!;
    await createRelease(db, events, fresh, { image: app.image!, description, userId: user.id });
  }
  await events.record({ project_id: app.project_id, app_id: app.id, kind: 'app.updated', message: `${user.username} changed ${Object.keys(patch).join(', ')} of ${app.slug}` });
  return true;
}

/**
 * Sets (null: unsets) config vars and marks some secret. Like mounts, they change what the replicas
 * run with: a deployed app gets a release for them (the caller nudges the controller then).
 */
export async function changeEnv(
  db: Db,
  events: Events,
  box: SecretBox,
  app: AppRow,
  change: { set: Record<string, string | null>; secret: string[]; description: string; userId: string },
): Promise<{ env: StoredEnv; release: ReleaseRow | null }> {
  const env = mergeEnv(box, app.env, change.set, change.secret);
  await apps.updateApp(db, app.id, { env });
  if (!app.release_id || !app.image) return { env, release: null };
  const release = await createRelease(db, events, { ...app, env }, { image: app.image, description: change.description, userId: change.userId });
  return { env, release };
}

/** The names of the volumes some of these apps mount. */
export const mountedVolumes = (apps: readonly { volumes: readonly MountColumn[] }[]): Set<string> => new Set(apps.flatMap((a) => a.volumes.map((m) => m.volume)));

/** Deletes the app; with `withVolumes`, the volumes it mounted that no other app mounts (their engine volumes go once its containers are gone). */
export async function deleteApp(db: Db, app: AppRow, withVolumes: boolean): Promise<void> {
  await apps.deleteApp(db, app.id);
  if (!withVolumes) return;
  const inUse = mountedVolumes(await appsWithVolumes(db, app.project_id));
  for (const m of app.volumes) {
    const v = await volumeInProject(db, app.project_id, m.volume_id);
    if (v && !inUse.has(v.name)) await deleteVolume(db, v.id);
  }
}
