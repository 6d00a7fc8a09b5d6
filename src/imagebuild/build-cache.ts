import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { run } from '../lib/exec.js';

/**
 * Builds' download caches (`RUN --mount=type=cache`), one directory per project.
 *
 * buildah keeps a cache mount's files under `$TMPDIR/buildah-cache/<id or target>`, and without
 * TMPDIR under `/var/tmp/buildah-cache`: one directory for every build on the host, where one
 * project's build could read another's private packages or plant a poisoned tarball for it. Each
 * build runs buildah with TMPDIR set to its project's directory here, so its cache mounts (and
 * buildah's other temporary files) are there and nowhere else; an id cannot climb out of it because
 * the Dockerfile check admits plain names only (dockerfile-check.ts, cacheMountRefusal).
 *
 * A directory is removed when its project is gone and dropped whole when it outgrows the limit
 * (the next build downloads everything once more), never while a build of the project uses it.
 */
/** An instance's or a project's id, as a directory name: nothing that could climb out. */
const NAME = /^[A-Za-z0-9_-]+$/;

/** An instance's project caches: `$BERTH_BUILD_STORE/caches/<instance id>/<project id>`. */
export function buildCachesDir(storeDir: string, instanceId: string): string {
  if (!NAME.test(instanceId)) throw new Error(`invalid instance id ${JSON.stringify(instanceId)}`);
  return join(storeDir, 'caches', instanceId);
}

export class BuildCaches {
  private readonly inUse = new Map<string, number>();
  private readonly removing = new Map<string, Promise<void>>();

  constructor(
    /** buildCachesDir(): this instance's projects only, since collect() removes every other directory in it. */
    readonly root: string,
    private readonly maxBytes: number,
  ) {}

  dir(projectId: string): string {
    if (!NAME.test(projectId)) throw new Error(`invalid project id ${JSON.stringify(projectId)}`);
    return join(this.root, projectId);
  }

  /** Runs fn with the project's cache directory (buildah's TMPDIR); no collection removes it meanwhile. */
  async use<T>(projectId: string, fn: (tmpdir: string) => Promise<T>): Promise<T> {
    const dir = this.dir(projectId);
    for (let r = this.removing.get(projectId); r; r = this.removing.get(projectId)) await r;
    this.inUse.set(projectId, (this.inUse.get(projectId) ?? 0) + 1);
    try {
      // Root's only: the files are the project's downloads, and buildah's temporary copies of its images.
      await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      return await fn(dir);
    } finally {
      const left = (this.inUse.get(projectId) ?? 1) - 1;
      if (left) this.inUse.set(projectId, left);
      else this.inUse.delete(projectId);
    }
  }

  /** Bytes on disk of the project's caches (0 when it has none). */
  async usage(projectId: string, signal?: AbortSignal): Promise<number> {
    const dir = this.dir(projectId);
    if (!(await fs.stat(dir).catch(() => null))) return 0;
    const du = await run('du', ['-s', '-x', '-B1', dir], { timeoutMs: 120_000, signal });
    const bytes = Number(/^(\d+)/.exec(du.stdout)?.[1]);
    if (du.code !== 0 && !Number.isFinite(bytes)) throw new Error(`du ${dir} failed: ${du.stderr.trim().slice(0, 200)}`);
    return bytes;
  }

  /** Drops the project's caches when over the limit; false when they are in use or within it. */
  async trim(projectId: string, signal?: AbortSignal): Promise<boolean> {
    if (this.inUse.has(projectId) || (await this.usage(projectId, signal)) <= this.maxBytes) return false;
    return this.remove(projectId);
  }

  /**
   * Removes the caches of every project not in `live`, and trims the others'. `liveAt` is when
   * `live` was read: a directory changed since (a project made after the read) is left for next time.
   */
  async collect(live: string[], liveAt: number, signal?: AbortSignal): Promise<{ removed: string[]; trimmed: string[] }> {
    const keep = new Set(live);
    const removed: string[] = [];
    const trimmed: string[] = [];
    for (const name of await fs.readdir(this.root).catch(() => [] as string[])) {
      if (!NAME.test(name)) continue;
      if (!keep.has(name)) {
        const changed = (await fs.stat(join(this.root, name)).catch(() => null))?.mtimeMs ?? Infinity;
        if (changed < liveAt && (await this.remove(name))) removed.push(name);
      } else if (await this.trim(name, signal)) {
        trimmed.push(name);
      }
    }
    return { removed, trimmed };
  }

  /** Removes the directory unless a build uses it; builds that start meanwhile wait for the removal. */
  private async remove(projectId: string): Promise<boolean> {
    if (this.inUse.has(projectId) || this.removing.has(projectId)) return false;
    const job = fs.rm(this.dir(projectId), { recursive: true, force: true }).finally(() => this.removing.delete(projectId));
    this.removing.set(projectId, job);
    await job;
    return true;
  }
}
