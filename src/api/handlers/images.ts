import type { Handlers } from '../register.js';
import type { ApiContext, AuthUser } from '../context.js';
import type { RouteOutput } from '../contract/index.js';
import { appFor } from '../access.js';
import { listApps, type AppView } from '../../store/apps.js';
import { appImages, succeededBuilds } from '../../store/images.js';
import { neededImages } from '../../domain/images.js';
import { registryHostOf } from '../../domain/registries.js';

type Image = RouteOutput<'listImages'>['items'][number];

/** One app, or every app the caller can see (with `need`, only those they may change). */
async function appsOf(ctx: ApiContext, user: AuthUser, app: string | undefined, need: 'viewer' | 'developer'): Promise<AppView[]> {
  if (app) return [await appFor(ctx, user, app, need)];
  const { items } = await listApps(ctx.db, user.id, { limit: 100_000, offset: 0 });
  return need === 'viewer' ? items : items.filter((a) => a.role !== 'viewer');
}

export const imageHandlers = {
  async listImages({ user, query }, ctx) {
    const apps = await appsOf(ctx, user, query.app, 'viewer');
    const ids = apps.map((a) => a.id);
    const [state, builds] = await Promise.all([appImages(ctx.db, ids), succeededBuilds(ctx.db, ids)]);
    const keep = ctx.config.build.keepReleaseImages;
    const items: Image[] = [];
    for (const a of state) {
      const slug = apps.find((x) => x.id === a.appId)!.slug;
      const needed = neededImages(a, keep);
      const refs = new Set([...builds.filter((b) => b.app_id === a.appId).map((b) => b.image), ...a.releases.map((r) => r.image)]);
      for (const image of refs) {
        const build = builds.find((b) => b.app_id === a.appId && b.image === image);
        const info = await ctx.runtime.inspectImage(image);
        const uses = a.releases.filter((r) => r.image === image);
        items.push({
          image,
          app: { id: a.appId, slug },
          source: build ? 'build' : registryHostOf(image) ? 'registry' : 'engine',
          build: build ? { id: build.id, number: build.number, commit_sha: build.commit_sha } : null,
          present: !!info,
          size: info?.size ?? null,
          created: info?.created ?? null,
          releases: uses.map((r) => r.version).sort((x, y) => x - y),
          live: uses.some((r) => r.id === a.liveReleaseId),
          kept: needed.has(image),
        });
      }
    }
    items.sort((x, y) => x.app.slug.localeCompare(y.app.slug) || Math.max(0, ...y.releases) - Math.max(0, ...x.releases) || y.image.localeCompare(x.image));
    return { items, keep_releases: keep };
  },

  async pruneImages({ user, body }, ctx) {
    const apps = await appsOf(ctx, user, body?.app, 'developer');
    const res = await ctx.pruneImages(apps.map((a) => a.id));
    return {
      removed: res.removed.map((r) => ({ image: r.image, app: apps.find((a) => a.id === r.app_id)?.slug ?? r.app_id, size: r.size })),
      freed_bytes: res.freed_bytes,
      skipped: res.skipped,
    };
  },
} satisfies Handlers;
