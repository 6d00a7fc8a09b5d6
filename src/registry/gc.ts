/** Where a release's image lives in the registry: one repository per app, one tag per release version. */
export const repositoryOf = (appId: string) => `berth/${appId.toLowerCase()}`;
export const tagOf = (version: number) => `v${version}`;
/** The app of one of Berth's repositories (null for anything else someone pushed there). */
export const appOfRepository = (repo: string) => (/^berth\/([a-z0-9_]+)$/.exec(repo)?.[1] ?? null);

/**
 * The manifests to delete: those no kept tag points to. A digest is deleted by digest, and
 * Distribution then drops every tag pointing to it, so a digest that a kept tag shares with an old
 * one (an env change makes a release with the same image) stays.
 * `stored`: repository → tag → digest as the registry has them; `kept`: repository → kept tags.
 */
export function unreferencedManifests(stored: Map<string, Map<string, string>>, kept: Map<string, Set<string>>): { repo: string; digest: string }[] {
  const out: { repo: string; digest: string }[] = [];
  for (const [repo, tags] of stored) {
    const keep = kept.get(repo) ?? new Set<string>();
    const needed = new Set([...tags].filter(([tag]) => keep.has(tag)).map(([, digest]) => digest));
    for (const digest of new Set(tags.values())) if (!needed.has(digest)) out.push({ repo, digest });
  }
  return out.sort((a, b) => a.repo.localeCompare(b.repo) || a.digest.localeCompare(b.digest));
}
