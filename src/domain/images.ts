import { registryHostOf } from './registries.js';
import type { AppImages } from '../store/images.js';

export type { AppImages };

/**
 * The images an app needs kept: those of its last `keep` releases, its live release, the release
 * it is rolling out, the rollback target (the newest release that was live before the live one),
 * releases that still have containers, and builds among its last `keep` that are not released yet.
 */
export function neededImages(a: AppImages, keep: number): Set<string> {
  const byVersion = [...a.releases].sort((x, y) => y.version - x.version);
  const need = new Set(byVersion.slice(0, keep).map((r) => r.image));
  const live = byVersion.find((r) => r.id === a.liveReleaseId);
  for (const r of byVersion) {
    if (r.id === a.liveReleaseId || r.id === a.targetReleaseId || a.releasesWithContainers.includes(r.id)) need.add(r.image);
  }
  const rollback = byVersion.find((r) => (r.status === 'superseded' || r.status === 'rolled-back') && (!live || r.version < live.version));
  if (rollback) need.add(rollback.image);
  for (const b of a.builds.slice(0, keep)) if (!b.releaseId) need.add(b.image);
  return need;
}

/** Images Berth itself brought onto the engine for an app: what it built, and what it pulled from a registry. */
export function ownedImages(a: AppImages): Set<string> {
  const owned = new Set(a.builds.map((b) => b.image));
  for (const r of a.releases) if (registryHostOf(r.image)) owned.add(r.image);
  return owned;
}

/**
 * What a collection may remove from `apps`: images they own and no app at all needs (`all`, so an
 * image two apps deploy stays while either needs it).
 */
export function collectable(apps: AppImages[], all: AppImages[], keep: number): string[] {
  const needed = new Set<string>();
  for (const a of all) for (const img of neededImages(a, keep)) needed.add(img);
  const out = new Set<string>();
  for (const a of apps) for (const img of ownedImages(a)) if (!needed.has(img)) out.add(img);
  return [...out].sort();
}

/** What one garbage collection did. */
export interface PruneResult {
  removed: { image: string; app_id: string; size: number | null }[];
  /** Bytes of removed images no other tag still holds. */
  freed_bytes: number;
  /** Owned images that no app needs but the engine would not remove (a container outside Berth uses them). */
  skipped: { image: string; reason: string }[];
}
