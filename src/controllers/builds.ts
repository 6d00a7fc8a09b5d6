import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { AppNudge, ControllerDeps } from './deps.js';
import { buildDir, type BuildSettings } from '../config.js';
import { now } from '../store/db.js';
import { appendLogs, buildById, failInterrupted, isFinished, lastLogSeq, queuedIds, stalePending, transition } from '../store/builds.js';
import { runBuild } from './build-runner.js';
import { allProjectIds } from '../store/projects.js';
import type { ImageBuilder } from '../imagebuild/types.js';

export const INTERRUPTED = 'interrupted by a control-plane restart';

/**
 * The build queue's worker pool: at most config.buildConcurrency builds run at once, taken from
 * the database oldest first, so the queue survives restarts. Cancels reach a running build
 * through its AbortController (the handler marks the row; a nudge or the next tick aborts).
 */
export class BuildController {
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private readonly settings: BuildSettings;
  private timer: NodeJS.Timeout | null = null;
  private collectTimer: NodeJS.Timeout | null = null;
  private collecting: Promise<void> | null = null;
  private ticking: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  /**
   * False until start() has failed the builds a dead process left running. The API listens before
   * the controllers start, so an upload can nudge earlier: claiming its build then would let that
   * sweep take it for a dead process's build and fail it.
   */
  private recovered = false;

  constructor(
    private readonly ctx: ControllerDeps,
    private readonly apps: AppNudge,
    private readonly builder: ImageBuilder,
  ) {
    this.settings = ctx.config.build;
  }

  async start(): Promise<void> {
    // This process is the only worker: anything still "running" belongs to a process that died.
    for (const b of await failInterrupted(this.ctx.db, INTERRUPTED)) {
      this.ctx.log.warn({ build: b.id }, 'build was interrupted by a restart; marked failed');
      // A killed process wrote no last line: the log itself should say why it stops there.
      await appendLogs(this.ctx.db, b.id, [{ seq: (await lastLogSeq(this.ctx.db, b.id)) + 1, line: `-----> Build ${INTERRUPTED}` }]);
      this.ctx.buildLogs.notify(b.id);
    }
    await this.sweepDirs();
    // Ending a dead process's orphaned builds waits on the engine: start-up does not.
    void this.builder.sweep().catch((err) => this.ctx.log.warn({ err }, 'sweeping the namespaces of interrupted builds failed'));
    this.recovered = true;
    this.timer = setInterval(() => this.nudge(), 2000);
    this.timer.unref();
    this.nudge();
    // Deleted projects' download caches go, the others are kept within their limit: at start and with the image GC.
    void this.collectCaches();
    this.collectTimer = setInterval(() => void this.collectCaches(), this.settings.imageGcIntervalMs);
    this.collectTimer.unref();
  }

  /**
   * Removes deleted projects' download caches and keeps the others within their limit (the
   * builder's). Also nudged by a project's deletion. One collection at a time.
   */
  collectCaches(): Promise<void> {
    this.collecting ??= (async () => {
      const readAt = Date.now();
      await this.builder.collect(await allProjectIds(this.ctx.db), readAt);
    })()
      .catch((err) => this.ctx.log.warn({ err }, 'collecting build caches failed'))
      .finally(() => (this.collecting = null));
    return this.collecting;
  }

  nudge(): void {
    if (this.stopped || !this.recovered) return; // start() nudges once it has recovered
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch((err) => this.ctx.log.error({ err }, 'build queue tick failed'))
      .finally(() => {
        this.ticking = null;
        if (this.again) {
          this.again = false;
          this.nudge();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.collectTimer) clearInterval(this.collectTimer);
    await this.ticking;
    for (const r of this.running.values()) r.abort.abort('shutdown');
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private async tick(): Promise<void> {
    // Cancels first, so a freed slot is reused in the same tick.
    for (const [id, r] of this.running) {
      const b = await buildById(this.ctx.db, id);
      if (!b || b.status === 'canceled') r.abort.abort('cancel');
    }
    await this.expirePending();
    while (!this.stopped && this.running.size < this.ctx.config.buildConcurrency) {
      const id = await this.claim();
      if (!id) break;
      this.launch(id);
    }
  }

  /** Takes the oldest queued build; false if another claim (a cancel) got there first. */
  private async claim(): Promise<string | null> {
    for (const id of await queuedIds(this.ctx.db)) {
      if (this.running.has(id)) continue;
      // Fenced: a deposed leader claims nothing.
      if (await transition(this.ctx.db, id, ['queued'], { status: 'running', started_at: now(), message: null }, this.ctx.fence)) return id;
    }
    return null;
  }

  private launch(id: string): void {
    const abort = new AbortController();
    const done = (async () => {
      const b = await buildById(this.ctx.db, id);
      if (!b) return;
      this.ctx.buildLogs.notify(id);
      await runBuild(this.ctx, this.apps, this.builder, b, abort.signal);
    })()
      .catch((err) => this.ctx.log.error({ err, build: id }, 'build crashed'))
      .finally(() => {
        this.running.delete(id);
        this.nudge();
      });
    this.running.set(id, { abort, done });
  }

  private async expirePending(): Promise<void> {
    const before = new Date(Date.now() - this.settings.pendingTtlMs).toISOString();
    for (const b of await stalePending(this.ctx.db, before)) {
      const msg = `no source was uploaded within ${Math.round(this.settings.pendingTtlMs / 1000)} s`;
      if (await transition(this.ctx.db, b.id, ['pending'], { status: 'failed', message: msg, finished_at: now() })) {
        await fs.rm(buildDir(this.ctx.config.dataDir, b.id), { recursive: true, force: true });
        this.ctx.buildLogs.notify(b.id);
      }
    }
  }

  /** Working directories of finished (or deleted) builds are leftovers of a crash. */
  private async sweepDirs(): Promise<void> {
    const root = join(this.ctx.config.dataDir, 'builds');
    const names = await fs.readdir(root).catch(() => [] as string[]);
    for (const id of names) {
      const b = await buildById(this.ctx.db, id);
      if (!b || isFinished(b.status)) await fs.rm(join(root, id), { recursive: true, force: true });
    }
  }
}
