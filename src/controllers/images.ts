import type { ControllerDeps } from './deps.js';
import { appImages } from '../store/images.js';
import { collectable, type PruneResult } from '../domain/images.js';
import { LABEL } from '../runtime/labels.js';

/**
 * Image garbage collection: removes the images Berth built or pulled that no release needs any more
 * (src/domain/images.ts says which are needed). Runs every `imageGcIntervalMs`, and on demand.
 */
export class ImageController {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private running: Promise<PruneResult> | null = null;

  constructor(private readonly ctx: ControllerDeps) {}

  start(): void {
    const tick = async () => {
      if (this.stopped) return;
      await this.prune().catch((err) => this.ctx.log.warn({ err }, 'image garbage collection failed'));
      if (!this.stopped) this.timer = setTimeout(tick, this.ctx.config.build.imageGcIntervalMs);
    };
    this.timer = setTimeout(tick, this.ctx.config.build.imageGcIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Collects now, for these apps (all when undefined); one collection at a time. */
  async prune(appIds?: string[]): Promise<PruneResult> {
    while (this.running) await this.running.catch(() => {});
    this.running = this.collect(appIds);
    try {
      return await this.running;
    } finally {
      this.running = null;
    }
  }

  /** Images this installation built for apps that no longer exist (a deleted app, a closed preview). */
  private async removeOrphans(appIds: string[], result: PruneResult): Promise<void> {
    const live = new Set(appIds);
    for (const img of await this.ctx.images.listImages({ [LABEL.instance]: this.ctx.instanceId })) {
      const app = img.labels[LABEL.app];
      if (!app || live.has(app)) continue;
      for (const tag of img.tags) {
        try {
          await this.ctx.images.removeImage(tag);
          result.removed.push({ image: tag, app_id: app, size: img.size });
        } catch (err) {
          result.skipped.push({ image: tag, reason: err instanceof Error ? err.message : String(err) });
        }
      }
      if (img.tags.length && !(await this.ctx.images.inspectImage(img.id))) result.freed_bytes += img.size;
    }
  }

  private async collect(appIds?: string[]): Promise<PruneResult> {
    const all = await appImages(this.ctx.db);
    const apps = appIds ? all.filter((a) => appIds.includes(a.appId)) : all;
    const result: PruneResult = { removed: [], freed_bytes: 0, skipped: [] };
    for (const image of collectable(apps, all, this.ctx.config.build.keepReleaseImages)) {
      const info = await this.ctx.images.inspectImage(image);
      if (!info) continue;
      const owner = apps.find((a) => a.builds.some((b) => b.image === image) || a.releases.some((r) => r.image === image))!;
      try {
        await this.ctx.images.removeImage(image);
      } catch (err) {
        result.skipped.push({ image, reason: err instanceof Error ? err.message : String(err) });
        continue;
      }
      result.removed.push({ image, app_id: owner.appId, size: info.size ?? null });
      // Untagging frees the layers only when no other tag holds the same image.
      if (!(await this.ctx.images.inspectImage(info.id))) result.freed_bytes += info.size ?? 0;
      await this.ctx.events
        .record({ project_id: owner.projectId, app_id: owner.appId, kind: 'image.removed', message: `image ${image} removed (no release needs it)` })
        .catch(() => {});
    }
    if (!appIds) await this.removeOrphans(all.map((a) => a.appId), result);
    if (result.removed.length) this.ctx.log.info({ removed: result.removed.length, freed: result.freed_bytes }, 'image garbage collection');
    return result;
  }
}
