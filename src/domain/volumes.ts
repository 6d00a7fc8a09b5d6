import type { Db } from '../store/db.js';
import type { MountColumn } from '../store/app-columns.js';
import { appsWithVolumes, volumeInProject } from '../store/volumes.js';
import { restoreUnderWay } from '../store/backups.js';
import { projectAppStates } from '../store/apps.js';
import { LABEL } from '../runtime/labels.js';
import type { VolumeMount } from '../runtime/types.js';

/** A mount as the app's config says it: a project volume by name, at an absolute path. */
export interface AppMount {
  volume: string;
  path: string;
}

/** A mount frozen in a release: the volume's id too, so a rollback mounts the very same volume (the store's one mount type). */
export type ReleaseMount = MountColumn;

/** A mount a caller may not make: the field at fault and why. */
export class MountError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** The engine volume of a Berth volume: by id, so a volume deleted and made again under its name starts empty. */
export const engineVolume = (volumeId: string) => `berth-${volumeId.replace('_', '-')}`;

// Mounting over these would hide the system the app runs on.
const SYSTEM = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/run', '/sbin', '/sys', '/usr', '/var/run', '/var/lib/dpkg'];

/** Why a mount path may not be used, or null. */
export function mountPathProblem(path: string): string | null {
  if (!path.startsWith('/')) return `mount path "${path}" must be absolute (start with /)`;
  if (path.split('/').some((seg, i) => i > 0 && (seg === '' || seg === '.' || seg === '..'))) {
    return `mount path "${path}" must be a plain absolute path (no empty, . or .. segments, no trailing /)`;
  }
  if (path === '/' || path === '/var' || SYSTEM.some((s) => path === s || path.startsWith(`${s}/`))) {
    return `mount path "${path}" is a system directory; mount under a directory of your own (/data, /srv/...)`;
  }
  return null;
}

/**
 * Checks an app's mounts against its project: each path absolute, not a system directory, not
 * used twice; each volume one of the project's own. Returns them frozen with the volumes' ids.
 */
export async function resolveMounts(db: Db, projectId: string, mounts: AppMount[]): Promise<ReleaseMount[]> {
  const out: ReleaseMount[] = [];
  const seen = new Set<string>();
  for (const [i, m] of mounts.entries()) {
    const problem = mountPathProblem(m.path);
    if (problem) throw new MountError(`volumes[${i}].path`, problem);
    if (seen.has(m.path)) throw new MountError(`volumes[${i}].path`, `mount path "${m.path}" is used twice`);
    seen.add(m.path);
    const v = await volumeInProject(db, projectId, m.volume);
    if (!v) throw new MountError(`volumes[${i}].volume`, `the app's project has no volume "${m.volume}" (a volume is mounted only by apps of its own project)`);
    out.push({ volume: v.name, path: m.path, volume_id: v.id });
  }
  return out;
}

/** Apps (slugs) of the project whose config mounts the volume. */
export async function appsMounting(db: Db, projectId: string, volumeName: string): Promise<string[]> {
  const apps = await appsWithVolumes(db, projectId);
  return apps.filter((a) => a.volumes.some((m) => m.volume === volumeName)).map((a) => a.slug);
}

/** Slugs of the deployed, not stopped apps whose config mounts the volume (a restore is refused while any of them runs). */
export async function runningAppsMountingVolume(db: Db, projectId: string, volumeName: string): Promise<string[]> {
  const mounting = new Set(await appsMounting(db, projectId, volumeName));
  const rows = await projectAppStates(db, projectId);
  return rows.filter((a) => mounting.has(a.slug) && !a.stopped && a.release_id).map((a) => a.slug);
}

/** The engine mounts of a release's volumes, with the labels the volumes get when first made. */
export function engineMounts(instanceId: string, projectId: string, mounts: ReleaseMount[] | undefined): VolumeMount[] {
  return (mounts ?? []).map((m) => ({
    volume: engineVolume(m.volume_id),
    path: m.path,
    labels: { [LABEL.instance]: instanceId, [LABEL.project]: projectId, [LABEL.volume]: m.volume_id },
  }));
}

/**
 * The name of a volume the release mounts that is being restored (queued or running), or null. A
 * restore replaces the volume's files: no replica of the release starts until it is done.
 */
export async function volumeBeingRestored(db: Db, mounts: ReleaseMount[] | undefined): Promise<string | null> {
  for (const m of mounts ?? []) if (await restoreUnderWay(db, { kind: 'volume', id: m.volume_id })) return m.volume;
  return null;
}
