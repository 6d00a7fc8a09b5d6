import type { AppNudge, ControllerDeps } from '../deps.js';
import { appById, appTargets } from '../../store/apps.js';
import { appIdsWithContainers, hasContainers } from '../../store/containers.js';
import { releaseById, releaseConfig } from '../../store/releases.js';
import { volumeBeingRestored } from '../../domain/volumes.js';
import { LABEL } from '../../runtime/labels.js';
import type { AppKit } from './kit.js';
import { WorkQueue, type Backoff } from './queue.js';
import { watchEngine } from './watch.js';
import { observe } from './observe.js';
import { rollout } from './rollout.js';
import { converge } from './converge.js';
import { removeApp, stopAll } from './lifecycle.js';
import { StuckApps } from './stuck.js';

/**
 * Makes the containers of each app match its desired state in the database, the way a Kubernetes
 * controller does: it reads desired state (app, target release, replicas, restart generation),
 * observes the engine, and acts until they agree. Every step writes its intent to the database
 * before acting, so a control plane killed at any moment resumes where it stopped.
 *
 * The steps live beside this file, one job each: queue.ts (per-app serialization, retry with
 * backoff), watch.ts (engine events), observe.ts (rows vs engine), rollout.ts and one file per
 * strategy, converge.ts (the live release's steady state), replicas.ts (one replica's life),
 * lifecycle.ts (stop, delete), stuck.ts (telling users of an app it cannot converge); the engine
 * container of a release is domain/release-spec.ts.
 */
export class AppController implements AppNudge {
  private readonly abort = new AbortController();
  private readonly kit: AppKit;
  private readonly queue: WorkQueue;
  private timer?: NodeJS.Timeout;
  private readonly stuck: StuckApps;

  constructor(deps: ControllerDeps, opts: { backoff?: Backoff } = {}) {
    this.kit = {
      ...deps,
      signal: this.abort.signal,
      exits: new Map(),
      ooms: new Set(),
      alsoFailed: (err) => deps.log.warn({ err }, 'another replica step failed at the same time'),
      lookAgain: (appId, ms) => this.queue.later(appId, ms),
    };
    this.queue = new WorkQueue(
      (appId) => this.reconcileReporting(appId),
      (err, appId, retryInMs) => deps.log.error({ err, appId, retryInMs }, 'app reconcile failed'),
      opts.backoff,
    );
    this.stuck = new StuckApps(this.kit);
  }

  /** Watches the engine and reconciles every app now and every intervalMs. */
  async start(intervalMs = 10_000): Promise<void> {
    void watchEngine(this.kit, (appId) => void this.schedule(appId), () => this.nudge());
    const tick = () => {
      if (this.abort.signal.aborted) return;
      void this.reconcileAll()
        .catch((err) => this.kit.log.error({ err }, 'reconcile failed'))
        .finally(() => {
          if (!this.abort.signal.aborted) this.timer = setTimeout(tick, intervalMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.timer);
    await this.queue.stop();
  }

  nudge(appId?: string): void {
    if (!appId) {
      void this.reconcileAll().catch((err) => this.kit.log.error({ err }, 'reconcile failed'));
      return;
    }
    void this.schedule(appId);
  }

  /** Resolves when the app has been reconciled at least once after this call. */
  schedule(appId: string): Promise<void> {
    return this.queue.schedule(appId);
  }

  async reconcileAll(): Promise<void> {
    const k = this.kit;
    const apps = await appTargets(k.db);
    const known = new Set(apps.map((a) => a.id));
    const rowApps = await appIdsWithContainers(k.db);
    const engine = await k.replicas.listContainers({ [LABEL.instance]: k.instanceId });
    const running = new Set([...rowApps, ...engine.map((c) => c.labels[LABEL.app])].filter(Boolean));
    // Apps never deployed and with nothing on the engine have nothing to converge: skipping them keeps
    // an install with many idle apps cheap. Deleted apps still holding containers are cleaned up.
    const todo = new Set([...apps.filter((a) => a.release_id || running.has(a.id)).map((a) => a.id), ...[...running].filter((id) => !known.has(id))]);
    await Promise.all([...todo].map((id) => this.schedule(id)));
  }

  /** A reconcile whose failures and recovery the app's users are told of (stuck.ts). */
  private async reconcileReporting(appId: string): Promise<void> {
    try {
      await this.reconcile(appId);
    } catch (err) {
      await this.stuck.failed(appId, err, this.queue.failuresOf(appId) + 1);
      throw err;
    }
    await this.stuck.succeeded(appId);
  }

  private async reconcile(appId: string): Promise<void> {
    const k = this.kit;
    const app = await appById(k.db, appId);
    if (!app) return removeApp(k, appId);
    if (!app.release_id && !(await hasContainers(k.db, appId))) {
      // Never deployed: only the route (a 503 page) to keep in step. Not awaited: the sync also waits
      // for other apps' drains, and this app's first deploy should not queue behind them.
      void k.routes.sync().catch((err) => k.log.warn({ err }, 'router update failed'));
      return;
    }
    await observe(k, app);
    if (app.stopped) return stopAll(k, app);
    if (!app.release_id) return;
    const target = await releaseById(k.db, app.release_id);
    if (!target) return;
    // Started while a volume of its was being restored: its replicas wait for the restore (the volume controller nudges).
    if (await volumeBeingRestored(k.db, releaseConfig(target).volumes)) return;
    if (target.status === 'pending' || target.status === 'deploying') return rollout(k, app, target);
    if (app.live_release_id) {
      const live = await releaseById(k.db, app.live_release_id);
      if (live) await converge(k, app, live);
    }
  }
}
