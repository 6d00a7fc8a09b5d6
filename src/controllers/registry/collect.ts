import type { Db } from '../../store/db.js';
import { appImages } from '../../store/images.js';
import { neededImages } from '../../domain/images.js';
import type { RegistryApi } from '../../registry/api.js';
import { putPrivate, readOrNull } from '../../registry/files.js';
import { appOfRepository, repositoryOf, tagOf, unreferencedManifests } from '../../registry/gc.js';
import type { RegistryCollectResult, ReleaseImage } from '../../registry/types.js';
import type { RegistryServer } from './server.js';

/** The releases whose image image garbage collection keeps (src/domain/images.ts); a deleted app has none. */
export async function keptReleases(db: Db, keep: number): Promise<ReleaseImage[]> {
  return (await appImages(db)).flatMap((a) => {
    const needed = neededImages(a, keep);
    return a.releases.filter((r) => needed.has(r.image)).map((r) => ({ app_id: a.appId, version: r.version, image: r.image }));
  });
}

/**
 * One collection of a running registry: deletes the manifests no kept release needs, then (marked
 * in gcPending first, so a stop or crash finishes it on the next start) frees their blobs.
 * `published` forgets everything: tags go with their manifests.
 */
export async function collectOnce(server: RegistryServer, kept: ReleaseImage[], published: Set<string>): Promise<RegistryCollectResult> {
  const result: RegistryCollectResult = { deleted: [], collected: false };
  const s = server.state!;
  const keptTags = new Map<string, Set<string>>();
  for (const r of kept) keptTags.set(repositoryOf(r.app_id), (keptTags.get(repositoryOf(r.app_id)) ?? new Set()).add(tagOf(r.version)));
  const doomed = unreferencedManifests(await stored(s.api), keptTags);
  if (doomed.length) await putPrivate(server.files.gcPending, `${new Date().toISOString()}\n`);
  // Tags go with their manifests: ask the registry again before trusting what was pushed.
  published.clear();
  for (const { repo, digest } of doomed) {
    await s.api.deleteManifest(repo, digest);
    result.deleted.push(`${repo}@${digest}`);
  }
  if ((await readOrNull(server.files.gcPending)) === null) return result;
  await server.garbageCollect();
  result.collected = true;
  return result;
}

/** repository → tag → digest of Berth's repositories in the registry. */
async function stored(api: RegistryApi): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>();
  for (const repo of await api.repositories()) {
    if (!appOfRepository(repo)) continue;
    const tags = new Map<string, string>();
    for (const tag of await api.tags(repo)) {
      const digest = await api.digest(repo, tag);
      if (digest) tags.set(tag, digest);
    }
    out.set(repo, tags);
  }
  return out;
}
