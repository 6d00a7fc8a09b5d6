import type { AppNudge, ControllerDeps } from '../deps.js';
import { appById, appTargets } from '../../store/apps.js';
import { appIdsWithContainers, hasContainers } from '../../store/containers.js';
import { releaseById, releaseConfig } from '../../store/releases.js';
import { volumeBeingRestored } from '../../domain/volumes.js';
import { LABEL } from '../../runtime/labels.js';
import { HealthError } from '../health.js';
import { event, type AppKit } from './kit.js';
import { WorkQueue, type Backoff } from './queue.js';
import { watchEngine } from './watch.js';
import { observe } from './observe.js';
import { rollout } from './rollout.js';
import { converge } from './converge.js';
import { removeApp, stopAll } from './lifecycle.js';

/**
 * What an app's users may read of a failure: the engine's words, or the app's own (its image out
 * of reach, a replica refused). Anything else (the router, the database) may name other tenants'
 * hosts or data, so it is named only by its kind; the server log has it whole.
 */
function tellable(err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).slice(0, 300);
  if (err instanceof HealthError) return message;
  if (typeof (err as { statusCode?: unknown })?.statusCode === 'number' || /docker engine/i.test(message)) return `the Docker Engine: ${message}`;
  return 'an error inside Berth (the server log has it)';
}

/** Failures in a row (about 3 s with the default backoff: 1 s, then 2 s) before an app's users are told. */
const STUCK_AFTER = 3;

/**
 * Makes the containers of each app match its desired state in the database, the way a Kubernetes
 * controller does: it reads desired state (app, target release, replicas, restart generation),
 * observes the engine, and acts until they agree. Every step writes its intent to the database
 * before acting, so a control plane killed at any moment resumes where it stopped.
 *
 * The steps live beside this file, one job each: queue.ts (per-app serialization, retry with
 * backoff), watch.ts (engine events), observe.ts (rows vs engine), rollout.ts and one file per
 * strategy, converge.ts (the live release's steady state), replicas.ts (one replica's life),
 * lifecycle.ts (stop, delete), spec.ts (the engine container).
 */
export class AppController implements AppNudge {
  private readonly abort = new AbortController();
  private readonly kit: AppKit;
  private readonly queue: WorkQueue;
  private timer?: NodeJS.Timeout;
  /** Apps whose reconcile keeps failing, with the reasons already told to their users in this spell. */
  private readonly stuck = new Map<string, Set<string>>();

  constructor(deps: ControllerDeps, opts: { backoff?: Backoff } = {}) {
    this.kit = {
      ...deps,
      signal: this.abort.signal,
      exits: new Map(),
      alsoFailed: (err) => deps.log.warn({ err }, 'another replica step failed at the same time'),
    };
    this.queue = new WorkQueue(
      (appId) => this.reconcileReporting(appId),
      (err, appId, retryInMs) => deps.log.error({ err, appId, retryInMs }, 'app reconcile failed'),
      opts.backoff,
    );
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

  /**
   * A reconcile that keeps failing (STUCK_AFTER times in a row) is told to the app's users as an
   * event with the reason, once per reason, and its end too: otherwise a deploy that cannot start
   * (an engine refusing, an image the anchor needs missing) would say `deploying` and nothing else.
   */
  private async reconcileReporting(appId: string): Promise<void> {
    try {
      await this.reconcile(appId);
    } catch (err) {
      const reason = tellable(err);
      const failures = this.queue.failuresOf(appId) + 1;
      const told = this.stuck.get(appId) ?? new Set<string>();
      if (failures >= STUCK_AFTER && !told.has(reason)) {
        this.stuck.set(appId, told.add(reason));
        await this.tell(appId, 'app.stuck', (name) => `Berth cannot bring ${name} to its desired state (${failures} tries in a row): ${reason}; it keeps trying`);
      }
      throw err;
    }
    if (this.stuck.delete(appId)) await this.tell(appId, 'app.recovered', (name) => `Berth acts on ${name} again`);
  }

  private async tell(appId: string, kind: string, message: (name: string) => string): Promise<void> {
    try {
      const app = await appById(this.kit.db, appId);
      if (app) await event(this.kit, app, kind, message(app.name));
    } catch (err) {
      this.kit.log.warn({ err, appId }, 'event not recorded');
    }
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
