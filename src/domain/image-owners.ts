import type { Db } from '../store/db.js';
import type { Images } from '../runtime/types.js';
import { projectOwnsImage, recordImageOwner } from '../store/image-owners.js';
import { registryHostOf } from './registries.js';

/**
 * Images belong to projects. A project may run an image it built, one it pulled itself (an image
 * naming a registry host is pulled with the deploying user's account at every release, so the
 * engine's copy is never handed to a project that could not pull it), one of the operator's
 * shared repositories (BERTH_SHARED_IMAGES), or one an admin deployed into it. Checked when a
 * release is asked for (the API) and again before it rolls out (the app controller).
 */
export type ImageUse =
  /** On a registry: the rollout pulls it with the release creator's account. */
  | { kind: 'pull' }
  | { kind: 'owned' | 'shared'; imageId: string }
  /** An admin's deploy of an image on the engine: the project may use it from now on. */
  | { kind: 'grant'; imageId: string }
  | { kind: 'refused'; reason: string };

/** The repository of a reference, without its tag or digest: `team/app:1` -> `team/app`. */
export function repositoryOfRef(ref: string): string {
  const noDigest = ref.split('@')[0];
  const colon = noDigest.lastIndexOf(':');
  return (colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest).toLowerCase();
}

/** True when the operator shared this repository with every project: `team/app` exactly, or `team/*`. */
export function isSharedImage(ref: string, shared: string[]): boolean {
  if (ref.includes('@') || /^(sha256:)?[0-9a-f]{6,64}$/i.test(ref)) return false; // ids and digests are never names of a shared repository
  const repo = repositoryOfRef(ref);
  return shared.some((p) => (p.endsWith('/*') ? repo.startsWith(p.slice(0, -1)) && repo.length > p.length - 1 : repo === p));
}

const notOurs = (ref: string) =>
  // The same words whether the image exists or not: another project's image names must not be probed.
  `image "${ref}" is not an image of this project: deploy a build of one of its apps (build_id), or an image from a registry (name its host: registry.example.com/team/app:1)`;

export async function imageUse(
  db: Db,
  runtime: Pick<Images, 'inspectImage'>,
  shared: string[],
  q: { projectId: string; ref: string; isAdmin: boolean },
): Promise<ImageUse> {
  if (registryHostOf(q.ref)) return { kind: 'pull' };
  const info = await runtime.inspectImage(q.ref);
  if (!info) {
    return {
      kind: 'refused',
      reason: q.isAdmin ? `image "${q.ref}" is not present on the Docker Engine (images from a registry name its host: registry.example.com/team/app:1)` : notOurs(q.ref),
    };
  }
  if (await projectOwnsImage(db, q.projectId, q.ref, info.id)) return { kind: 'owned', imageId: info.id };
  if (isSharedImage(q.ref, shared)) return { kind: 'shared', imageId: info.id };
  if (q.isAdmin) return { kind: 'grant', imageId: info.id };
  return { kind: 'refused', reason: notOurs(q.ref) };
}

/** Writes what a permitted use implies: an admin's deploy makes the image the project's. */
export async function recordUse(db: Db, use: ImageUse, q: { projectId: string; appId: string; ref: string }): Promise<void> {
  if (use.kind === 'grant') await recordImageOwner(db, { project_id: q.projectId, image: q.ref, image_id: use.imageId, app_id: q.appId, source: 'admin' });
}

/**
 * Whether a one-off command may run in a release's image: the project's own (a registry image only
 * once the project pulled it itself), for a release made before these checks existed.
 */
export async function mayRunIn(db: Db, runtime: Pick<Images, 'inspectImage'>, shared: string[], q: { projectId: string; ref: string; isAdmin: boolean }): Promise<string | null> {
  if (q.isAdmin) return null;
  if (registryHostOf(q.ref)) {
    const info = await runtime.inspectImage(q.ref);
    return info && (await projectOwnsImage(db, q.projectId, q.ref, info.id)) ? null : notOurs(q.ref);
  }
  const use = await imageUse(db, runtime, shared, q);
  return use.kind === 'refused' ? use.reason : null;
}
