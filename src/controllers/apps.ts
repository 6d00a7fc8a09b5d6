import { hostname } from 'node:os';
import { rm } from 'node:fs/promises';
import { bareRepo } from './build-settings.js';
import type { ApiContext } from '../api/context.js';
import type { ContainerSpec } from '../runtime/types.js';
import type { AppRow } from '../store/apps.js';
import { now } from '../store/db.js';
import { releaseById, releaseConfig, setReleaseStatus, type ReleaseConfig, type ReleaseRow } from '../store/releases.js';
import * as rows from '../store/containers.js';
import type { ContainerRow } from '../store/containers.js';
import { parseEnv, plainEnv } from '../domain/env.js';
import { newId } from '../lib/ids.js';
import { Canceled, HealthError, exitedEarly, lastLogLines, probe, waitHealthy } from './health.js';
import type { RouteController } from './routes.js';

/** Raised inside a rollout when a newer deploy replaced its release: the rollout stops and the next one takes over. */
class Superseded extends Error {}

export const projectNetwork = (projectId: string) => `berth-${projectId}`;

const NODE = hostname();
const STOP_GRACE_S = 10;
/**
 * Replicas a scale-up starts at once: the usual scale in one wave, while a scale to hundreds does
 * not send hundreds of creates and health probes to the engine at the same moment.
 */
const START_CONCURRENCY = 10;

/** One replica index to converge, with its containers of the live release (older generations). */
interface Slot {
  replica: number;
  mine: ContainerRow[];
}

/** from, from + 1, ..., to - 1. */
const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, k) => from + k);

/**
 * Runs fn over items, at most `limit` at a time. After the first error no new item starts, but the
 * ones under way finish before this returns (so the caller's per-app serialization holds); then it
 * rejects with the first error and hands the others to `also`.
 */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>, also?: (err: unknown) => void): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < items.length && errors.length === 0) {
      const item = items[next++];
      await fn(item).catch((err: unknown) => errors.push(err));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  for (const err of errors.slice(1)) also?.(err);
  if (errors.length) throw errors[0];
}

/**
 * Makes the containers of each app match its desired state in the database, the way a Kubernetes
 * controller does: it reads desired state (app, target release, replicas, restart generation),
 * observes Docker, and acts until they agree. Every step writes its intent to the database before
 * acting, so a control plane killed at any moment resumes where it stopped.
 */
export class AppController {
  private readonly work = new Map<string, { again: boolean; done: Promise<void> }>();
  private readonly abort = new AbortController();
  private readonly alsoFailed = (err: unknown) => this.ctx.log.warn({ err }, 'another replica step failed at the same time');
  /** Last exit code per engine container, from die events (a restarted container no longer shows it). */
  private readonly exits = new Map<string, number | null>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly ctx: ApiContext,
    private readonly routes: RouteController,
  ) {}

  async start(intervalMs = 10_000): Promise<void> {
    void this.watchEngine();
    const tick = () => {
      if (this.abort.signal.aborted) return;
      void this.reconcileAll()
        .catch((err) => this.ctx.log.error({ err }, 'reconcile failed'))
        .finally(() => {
          if (!this.abort.signal.aborted) this.timer = setTimeout(tick, intervalMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.timer);
    await Promise.allSettled([...this.work.values()].map((w) => w.done));
  }

  nudge(appId?: string): void {
    if (!appId) {
      void this.reconcileAll().catch((err) => this.ctx.log.error({ err }, 'reconcile failed'));
      return;
    }
    this.schedule(appId);
  }

  /** Resolves when the app has been reconciled at least once after this call. */
  schedule(appId: string): Promise<void> {
    const cur = this.work.get(appId);
    if (cur) {
      cur.again = true;
      return cur.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        do {
          entry.again = false;
          if (this.abort.signal.aborted) return;
          try {
            await this.reconcile(appId);
          } catch (err) {
            this.ctx.log.error({ err, appId }, 'app reconcile failed');
          }
        } while (entry.again);
      } finally {
        this.work.delete(appId);
      }
    })();
    this.work.set(appId, entry);
    return entry.done;
  }

  async reconcileAll(): Promise<void> {
    const apps = await this.ctx.db.selectFrom('apps').select(['id', 'release_id']).execute();
    const known = new Set(apps.map((a) => a.id));
    const rowApps = await this.ctx.db.selectFrom('containers').select('app_id').distinct().execute();
    const engine = await this.ctx.runtime.listContainers({ 'berth.instance': this.ctx.instanceId });
    const running = new Set([...rowApps.map((r) => r.app_id), ...engine.map((c) => c.labels['berth.app'])].filter(Boolean));
    // Apps never deployed and with nothing on the engine have nothing to converge: skipping them keeps
    // an install with many idle apps cheap. Deleted apps still holding containers are cleaned up.
    const todo = new Set([...apps.filter((a) => a.release_id || running.has(a.id)).map((a) => a.id), ...[...running].filter((id) => !known.has(id))]);
    await Promise.all([...todo].map((id) => this.schedule(id)));
  }

  /** Follows engine events, so a crash or an exit is acted on at once rather than at the next tick. */
  private async watchEngine(): Promise<void> {
    let missed = false;
    while (!this.abort.signal.aborted) {
      try {
        if (missed) {
          // Events sent while the stream was down are lost (an engine restart starts every
          // container at once): look at everything as soon as the engine answers again.
          await this.ctx.runtime.ping();
          missed = false;
          this.reconcileAll().catch((err) => this.ctx.log.error({ err }, 'reconcile failed'));
        }
        for await (const ev of this.ctx.runtime.events({ 'berth.instance': this.ctx.instanceId }, this.abort.signal)) {
          const appId = ev.labels['berth.app'];
          if (!appId) continue;
          if (ev.action === 'die') this.exits.set(ev.containerId, ev.exitCode);
          if (ev.action === 'destroy') this.exits.delete(ev.containerId);
          if (ev.action === 'die') await this.onDie(appId, ev.containerId, ev.exitCode).catch((err) => this.ctx.log.warn({ err }, 'crash handling failed'));
          if (['die', 'oom', 'start', 'destroy'].includes(ev.action)) this.schedule(appId);
        }
      } catch (err) {
        if (!this.abort.signal.aborted) this.ctx.log.warn({ err }, 'engine event stream broke; reconnecting');
      }
      // The stream only ends when the engine went away (a stopping engine closes it cleanly).
      missed = true;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  /**
   * A replica that was serving died on its own: out of rotation at once (before the next reconcile)
   * and reported with its exit code. Docker restarts it with backoff; observe() brings it back.
   */
  private async onDie(appId: string, dockerId: string, exitCode: number | null): Promise<void> {
    const row = await this.ctx.db.selectFrom('containers').selectAll().where('docker_id', '=', dockerId).executeTakeFirst();
    if (!row || (row.status !== 'healthy' && row.status !== 'starting')) return;
    const app = await this.ctx.db.selectFrom('apps').selectAll().where('id', '=', appId).executeTakeFirst();
    await this.markCrashed(app, row, exitCode, { log: await lastLogLines(this.ctx.runtime, dockerId, 20) });
  }

  /** Out of rotation at once, and reported; whoever noticed first (an engine event or observe()) does it. */
  private async markCrashed(app: AppRow | undefined, row: ContainerRow, exitCode: number | null, data: Record<string, unknown>): Promise<void> {
    await rows.updateContainer(this.ctx.db, row.id, { status: 'crashed', in_rotation: 0, message: `exited with code ${exitCode ?? '?'}` });
    if (row.in_rotation) await this.routes.sync();
    if (!app) return;
    await this.event(app, 'container.crashed', `${row.name} exited with code ${exitCode ?? '?'}; Docker restarts it with backoff`, {
      container: row.id,
      exit_code: exitCode,
      ...data,
    });
  }

  // ---------------------------------------------------------------------------------------------

  private async reconcile(appId: string): Promise<void> {
    const app = await this.ctx.db.selectFrom('apps').selectAll().where('id', '=', appId).executeTakeFirst();
    if (!app) return this.removeApp(appId);
    if (!app.release_id && !(await this.ctx.db.selectFrom('containers').select('id').where('app_id', '=', appId).executeTakeFirst())) {
      // Never deployed: only the route (a 503 page) to keep in step. Not awaited: the sync also waits
      // for other apps' drains, and this app's first deploy should not queue behind them.
      void this.routes.sync().catch((err) => this.ctx.log.warn({ err }, 'router update failed'));
      return;
    }
    await this.observe(app);
    if (app.stopped) return this.stopAll(app);
    if (!app.release_id) return;
    const target = await releaseById(this.ctx.db, app.release_id);
    if (!target) return;
    if (target.status === 'pending' || target.status === 'deploying') return this.rollout(app, target);
    if (app.live_release_id) {
      const live = await releaseById(this.ctx.db, app.live_release_id);
      if (live) await this.converge(app, live);
    }
  }

  /** Brings container rows up to date with what the engine says, and adopts or removes strays. */
  private async observe(app: AppRow): Promise<void> {
    const db = this.ctx.db;
    const engine = await this.ctx.runtime.listContainers({ 'berth.instance': this.ctx.instanceId, 'berth.app': app.id });
    const list = await rows.containersOfApp(db, app.id);
    const byName = new Map(engine.map((c) => [c.name.replace(/^\//, ''), c]));
    for (const row of list) {
      const c = byName.get(row.name);
      byName.delete(row.name);
      if (!c) {
        // Written before it was created and never made, or removed behind our back: forget it.
        if (row.in_rotation) await this.takeOut(row);
        await rows.deleteContainer(db, row.id);
        continue;
      }
      if (!row.docker_id) await rows.updateContainer(db, row.id, { docker_id: c.id });
      const address = c.addresses[projectNetwork(app.project_id)] ?? null;
      if (address !== row.address) await rows.updateContainer(db, row.id, { address });
      if (row.status === 'stopped' || row.status === 'draining') continue;
      // Made but never started: the control plane stopped between the two engine calls. No crash:
      // the rollout or converge that made it finds it by name, starts it and checks its health. (One
      // the engine tried and failed to start carries the engine's error, and is a crash.)
      if (c.state === 'created' && !c.startError) {
        if (row.status === 'crashed') await rows.updateContainer(db, row.id, { status: 'starting', message: null });
        continue;
      }
      const down = c.state !== 'running';
      if (down && row.status !== 'crashed') await this.markCrashed(app, row, c.exitCode, { restarts: c.restartCount });
      if (c.state === 'exited' && row.release_id === app.live_release_id) {
        // Docker restarts what dies on its own, but not what was stopped or killed behind Berth's
        // back (`docker kill` counts as a manual stop): nothing would bring this replica back.
        await this.ctx.runtime.startContainer(c.id);
      } else if (!down && (row.status === 'crashed' || row.status === 'starting') && row.release_id === app.live_release_id) {
        // Back up after a crash (Docker restarted it) or started by hand: into rotation once it answers.
        if (address && (await probe(this.healthUrl(address, row.port, app)))) {
          await rows.updateContainer(db, row.id, { status: 'healthy', in_rotation: 1, message: null });
          await this.routes.sync();
          await this.event(app, 'container.healthy', `${row.name} is healthy again`, { container: row.id });
        }
      }
    }
    // Engine containers of ours with no row: half-made before a crash, or left by a deleted row.
    for (const c of byName.values()) await this.ctx.runtime.removeContainer(c.id);
  }

  private healthUrl(address: string, port: number, app: { health_check: string }): string {
    const path = (JSON.parse(app.health_check) as { path: string }).path;
    return `http://${address}:${port}${path}`;
  }

  private async removeApp(appId: string): Promise<void> {
    const list = await rows.containersOfApp(this.ctx.db, appId);
    if (list.some((r) => r.in_rotation)) {
      await this.ctx.db.updateTable('containers').set({ in_rotation: 0 }).where('app_id', '=', appId).execute();
    }
    // The app's route disappears with it; in-flight requests drain before its containers stop.
    await this.routes.sync();
    const engine = await this.ctx.runtime.listContainers({ 'berth.instance': this.ctx.instanceId, 'berth.app': appId });
    await Promise.all(engine.map(async (c) => {
      await this.ctx.runtime.stopContainer(c.id, STOP_GRACE_S);
      await this.ctx.runtime.removeContainer(c.id);
    }));
    await this.ctx.db.deleteFrom('containers').where('app_id', '=', appId).execute();
    // The app's git remote goes with it.
    await rm(bareRepo(this.ctx.config.dataDir, appId), { recursive: true, force: true });
  }

  private async stopAll(app: AppRow): Promise<void> {
    const list = await rows.containersOfApp(this.ctx.db, app.id);
    if (list.length === 0) return this.routes.sync();
    await this.ctx.db.updateTable('containers').set({ in_rotation: 0, status: 'draining' }).where('app_id', '=', app.id).execute();
    await this.routes.sync();
    await Promise.all(list.map((r) => this.destroy(r)));
    await this.event(app, 'app.stopped', `${app.slug} stopped; its URL answers 503`);
  }

  // ---------------------------------------------------------------------------------------------
  // Rollouts

  private async rollout(app: AppRow, target: ReleaseRow): Promise<void> {
    const cfg = releaseConfig(target);
    if (target.status === 'pending') {
      await setReleaseStatus(this.ctx.db, target.id, 'deploying');
      await this.event(app, 'release.deploying', `v${target.version} is rolling out (${cfg.strategy})`, { release: target.version });
    }
    await this.ctx.runtime.ensureNetwork(projectNetwork(app.project_id), { 'berth.instance': this.ctx.instanceId, 'berth.project': app.project_id });
    try {
      // Leftovers of an earlier, abandoned rollout take no traffic; clear them first.
      for (const r of await rows.containersOfApp(this.ctx.db, app.id)) {
        if (r.release_id !== target.id && r.release_id !== app.live_release_id) await this.retire(r);
      }
      if (cfg.strategy === 'blue-green') await this.blueGreen(app, target, cfg);
      else if (cfg.strategy === 'recreate') await this.recreate(app, target, cfg);
      else await this.rolling(app, target, cfg);
      await this.goLive(app, target);
    } catch (err) {
      if (err instanceof Superseded) {
        await setReleaseStatus(this.ctx.db, target.id, 'superseded', 'a newer deploy replaced it before it went live');
        return;
      }
      if (!(err instanceof HealthError)) throw err;
      await this.fail(app, target, err);
    }
  }

  private async goLive(app: AppRow, target: ReleaseRow): Promise<void> {
    const ts = now();
    await this.ctx.db.transaction().execute(async (tx) => {
      await tx.updateTable('releases').set({ status: 'live', reason: null, updated_at: ts }).where('id', '=', target.id).execute();
      await tx
        .updateTable('releases')
        .set({ status: target.description.startsWith('Rollback to') ? 'rolled-back' : 'superseded', updated_at: ts })
        .where('app_id', '=', app.id)
        .where('id', '!=', target.id)
        .where('status', '=', 'live')
        .execute();
      await tx.updateTable('apps').set({ live_release_id: target.id, updated_at: ts }).where('id', '=', app.id).execute();
    });
    await this.event(app, 'release.live', `v${target.version} is live`, { release: target.version });
    // Remove what the new release replaced (blue-green keeps the previous set stopped, for a fast rollback).
    await this.converge({ ...app, live_release_id: target.id }, target);
  }

  private async fail(app: AppRow, target: ReleaseRow, err: HealthError): Promise<void> {
    const tail = err.logTail.length ? `\n--- last log lines ---\n${err.logTail.join('\n')}` : '';
    const reason = `${err.message}${tail}`;
    await this.ctx.db.transaction().execute(async (tx) => {
      await tx.updateTable('releases').set({ status: 'failed', reason, updated_at: now() }).where('id', '=', target.id).execute();
      // The app goes back to the release that was serving; its replicas were never touched, or are restored first.
      await tx
        .updateTable('apps')
        .set({ release_id: app.live_release_id, updated_at: now() })
        .where('id', '=', app.id)
        .where('release_id', '=', target.id)
        .execute();
    });
    await this.event(app, 'release.failed', `v${target.version} failed and was rolled back: ${err.message}`, { release: target.version, reason });
    const fresh = await this.ctx.db.selectFrom('apps').selectAll().where('id', '=', app.id).executeTakeFirst();
    const live = fresh?.live_release_id ? await releaseById(this.ctx.db, fresh.live_release_id) : undefined;
    if (fresh && live) await this.converge(fresh, live);
    else for (const r of await rows.containersOfApp(this.ctx.db, app.id)) await this.retire(r);
  }

  /** One new replica in, healthy, then one old one out: never fewer healthy replicas than before. */
  private async rolling(app: AppRow, target: ReleaseRow, cfg: ReleaseConfig): Promise<void> {
    // Replicas beyond what serves now replace nothing (a first deploy, or more replicas than before):
    // they start together, each taking traffic once it passes. The others go one in, one out.
    const serving = (await rows.containersOfApp(this.ctx.db, app.id)).filter((r) => r.in_rotation && r.release_id !== target.id).length;
    const replacing = Math.min(serving, cfg.replicas);
    await eachLimited(
      range(replacing, cfg.replicas),
      START_CONCURRENCY,
      async (i) => {
        await this.checkTarget(app, target);
        await this.swap(await this.ensureReplica(app, target, cfg, i, app.restart_seq, false), []);
      },
      this.alsoFailed,
    );
    for (let i = 0; i < replacing; i++) {
      await this.checkTarget(app, target);
      const fresh = await this.ensureReplica(app, target, cfg, i, app.restart_seq, false);
      const old = (await rows.containersOfApp(this.ctx.db, app.id)).find((r) => r.in_rotation && r.release_id !== target.id);
      await this.swap(fresh, old ? [old] : []);
    }
    for (const r of await rows.containersOfApp(this.ctx.db, app.id)) {
      if (r.release_id !== target.id || r.replica >= cfg.replicas) await this.retire(r);
    }
  }

  /** The whole new set starts and passes its checks, then traffic moves in one router update. */
  private async blueGreen(app: AppRow, target: ReleaseRow, cfg: ReleaseConfig): Promise<void> {
    await this.startSet(app, target, cfg);
    await this.switchTo(app, target);
    // The old set is kept, stopped, so rolling back to it is fast.
    for (const r of await rows.containersOfApp(this.ctx.db, app.id)) {
      if (r.release_id !== target.id && r.status !== 'stopped') {
        // Marked first, so its exit is not taken for a crash.
        await rows.updateContainer(this.ctx.db, r.id, { status: 'stopped', message: 'standby for rollback' });
        if (r.docker_id) await this.ctx.runtime.stopContainer(r.docker_id, STOP_GRACE_S);
      }
    }
  }

  /** Old replicas stop before new ones start: for apps that cannot run two copies (a single-writer volume). */
  private async recreate(app: AppRow, target: ReleaseRow, cfg: ReleaseConfig): Promise<void> {
    // The old set leaves and stops together, then the new set starts together: the downtime recreate
    // promises is one stop and one start, not one per replica.
    const old = (await rows.containersOfApp(this.ctx.db, app.id)).filter((r) => r.release_id !== target.id);
    await eachLimited(old, START_CONCURRENCY, (r) => this.retire(r), this.alsoFailed);
    try {
      await this.startSet(app, target, cfg);
    } catch (err) {
      // The last good release comes back next (fail() converges it): first the new set goes, so two
      // copies never run side by side, which is what recreate exists to prevent.
      if (err instanceof HealthError) {
        for (const r of await rows.containersOfApp(this.ctx.db, app.id)) if (r.release_id === target.id) await this.retire(r);
      }
      throw err;
    }
    await this.switchTo(app, target);
  }

  /** Every replica of the release, started together and healthy, none taking traffic yet. */
  private async startSet(app: AppRow, target: ReleaseRow, cfg: ReleaseConfig): Promise<void> {
    await eachLimited(range(0, cfg.replicas), START_CONCURRENCY, async (i) => void (await this.ensureReplica(app, target, cfg, i, app.restart_seq, false)), this.alsoFailed);
  }

  /** All traffic to the release's set, away from every other, in one router update. */
  private async switchTo(app: AppRow, target: ReleaseRow): Promise<void> {
    await this.checkTarget(app, target);
    await this.ctx.db.transaction().execute(async (tx) => {
      await tx.updateTable('containers').set({ in_rotation: 0 }).where('app_id', '=', app.id).where('release_id', '!=', target.id).execute();
      await tx.updateTable('containers').set({ in_rotation: 1 }).where('app_id', '=', app.id).where('release_id', '=', target.id).execute();
    });
    await this.routes.sync();
  }

  private async checkTarget(app: AppRow, target: ReleaseRow): Promise<void> {
    const cur = await this.ctx.db.selectFrom('apps').select(['release_id', 'stopped']).where('id', '=', app.id).executeTakeFirst();
    if (!cur || cur.release_id !== target.id || cur.stopped) throw new Superseded();
  }

  // ---------------------------------------------------------------------------------------------
  // Steady state

  /** Live release running with the desired replica count and generation; everything else retired. */
  private async converge(app: AppRow, live: ReleaseRow): Promise<void> {
    const cfg = { ...releaseConfig(live), replicas: app.replicas };
    await this.ctx.runtime.ensureNetwork(projectNetwork(app.project_id), { 'berth.instance': this.ctx.instanceId, 'berth.project': app.project_id });
    let list = await rows.containersOfApp(this.ctx.db, app.id);
    const added: Slot[] = [];
    const replaced: Slot[] = [];
    for (let i = 0; i < cfg.replicas; i++) {
      const mine = list.filter((r) => r.release_id === live.id && r.replica === i);
      // A replica stopped by hand stays stopped; a crashed one is restarted by Docker and rejoins in observe().
      if (mine.some((r) => r.status === 'stopped' || r.status === 'crashed')) continue;
      const current = mine.find((r) => r.gen === app.restart_seq);
      if (current?.in_rotation && current.status === 'healthy') {
        for (const r of mine) if (r !== current) await this.retire(r);
        continue;
      }
      (mine.some((r) => r.in_rotation) ? replaced : added).push({ replica: i, mine });
    }
    // Nothing serves in these replicas' places (a scale-up, or a replica that vanished): they start
    // together, as one would run them by hand. Each still takes traffic only once its own check passes.
    await eachLimited(added, START_CONCURRENCY, (slot) => this.convergeReplica(app, live, cfg, slot), this.alsoFailed);
    // A restart replaces serving replicas one at a time, so at most one extra runs while it does.
    for (const slot of replaced) await this.convergeReplica(app, live, cfg, slot);
    list = await rows.containersOfApp(this.ctx.db, app.id);
    const standby = await this.standbyRelease(app, live);
    for (const r of list) {
      const extra = r.release_id === live.id && r.replica >= cfg.replicas;
      const foreign = r.release_id !== live.id && !(r.release_id === standby && r.status === 'stopped');
      if (extra || foreign) await this.retire(r);
    }
    await this.routes.sync();
  }

  /** Replica `slot.replica` of the live release running at the current generation, then in rotation as its older ones leave. */
  private async convergeReplica(app: AppRow, live: ReleaseRow, cfg: ReleaseConfig, slot: Slot): Promise<void> {
    let fresh: ContainerRow;
    try {
      fresh = await this.ensureReplica(app, live, cfg, slot.replica, app.restart_seq, false);
    } catch (err) {
      if (!(err instanceof HealthError)) throw err;
      await this.event(app, 'container.unhealthy', `replica ${slot.replica} of v${live.version} did not become healthy: ${err.message}`, {
        replica: slot.replica,
        log: err.logTail,
      });
      return;
    }
    // Restart: the new generation comes in as the old one leaves.
    await this.swap(fresh, slot.mine.filter((r) => r.gen !== app.restart_seq));
  }

  /** The release blue-green keeps stopped for a fast rollback: the one live just before the current. */
  private async standbyRelease(app: AppRow, live: ReleaseRow): Promise<string | undefined> {
    if (releaseConfig(live).strategy !== 'blue-green') return undefined;
    const prev = await this.ctx.db
      .selectFrom('releases')
      .select('id')
      .where('app_id', '=', app.id)
      .where('version', '<', live.version)
      .where('status', 'in', ['superseded', 'rolled-back'])
      .orderBy('version', 'desc')
      .executeTakeFirst();
    return prev?.id;
  }

  // ---------------------------------------------------------------------------------------------
  // One container

  /**
   * Makes sure replica i of the release runs, healthy, and (unless told otherwise) takes traffic.
   * Idempotent: an existing healthy container is kept; a half-made one is finished or replaced.
   */
  private async ensureReplica(app: AppRow, release: ReleaseRow, cfg: ReleaseConfig, replica: number, gen: number, rotate = true): Promise<ContainerRow> {
    const db = this.ctx.db;
    const name = `${app.slug}-${app.id.slice(4, 10)}-v${release.version}-r${replica}-g${gen}`;
    let row = (await rows.containersOfApp(db, app.id)).find((r) => r.name === name);
    if (row && (row.status === 'crashed' || row.status === 'unhealthy' || row.status === 'stopped' || row.status === 'draining')) {
      await this.destroy(row);
      row = undefined;
    }
    if (!row) {
      row = {
        id: newId('ctr'),
        app_id: app.id,
        release_id: release.id,
        replica,
        gen,
        name,
        docker_id: null,
        node: NODE,
        address: null,
        port: cfg.port,
        status: 'starting',
        in_rotation: 0,
        message: null,
        created_at: now(),
        updated_at: now(),
      };
      // Intent first: a crash between here and the engine call leaves a row that observe() resolves.
      await rows.insertContainer(db, row);
      const dockerId = await this.ctx.runtime.createContainer(this.spec(app, release, cfg, row));
      row.docker_id = dockerId;
      await rows.updateContainer(db, row.id, { docker_id: dockerId });
      await this.startReplica(row);
      await this.event(app, 'container.started', `${name} started`, { container: row.id, release: release.version, replica });
    } else if (row.docker_id) {
      await this.startReplica(row);
    }
    const info = await this.ctx.runtime.inspectContainer(row.docker_id!);
    const address = info?.addresses[projectNetwork(app.project_id)];
    if (!address) {
      // Gone already (its command could not run: init reports that as an exit): say so, with its log.
      const exited = info && info.state !== 'running' && info.state !== 'created';
      const err = exited
        ? await exitedEarly(this.ctx.runtime, row.docker_id!, info.exitCode ?? this.exits.get(row.docker_id!))
        : new HealthError('the container has no address on its project network', []);
      await this.discardUnhealthy(row, err.message);
      throw err;
    }
    await rows.updateContainer(db, row.id, { address });
    if (row.status !== 'healthy') {
      try {
        await waitHealthy(this.ctx.runtime, row.docker_id!, `http://${address}:${cfg.port}${cfg.health_check.path}`, {
          timeoutMs: cfg.health_check.timeout_s * 1000,
          graceMs: cfg.health_check.grace_s * 1000,
          signal: this.abort.signal,
          lastExitCode: () => this.exits.get(row!.docker_id!),
        });
      } catch (err) {
        // Stopping is no verdict: the row stays 'starting' and the next start picks the replica up.
        if (err instanceof Canceled) throw err;
        await this.discardUnhealthy(row, (err as Error).message);
        throw err;
      }
      await rows.updateContainer(db, row.id, { status: 'healthy', message: null });
      await this.event(app, 'container.healthy', `${name} is healthy`, { container: row.id });
    }
    if (rotate && !row.in_rotation) {
      await rows.updateContainer(db, row.id, { in_rotation: 1 });
      await this.routes.sync();
    }
    return (await rows.containerById(db, row.id))!;
  }

  /**
   * Starts the replica's container. An engine that refuses (a missing entrypoint, a bad command) is
   * the release's fault, like a failed health check: the replica goes and the release fails with
   * the engine's words. An engine that does not answer is not: that error propagates and the next
   * reconcile tries again.
   */
  private async startReplica(row: ContainerRow): Promise<void> {
    try {
      await this.ctx.runtime.startContainer(row.docker_id!);
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === undefined || status < 400) throw err;
      const message = `the container did not start: ${(err as Error).message}`;
      await this.discardUnhealthy(row, message);
      throw new HealthError(message, []);
    }
  }

  private async discardUnhealthy(row: ContainerRow, message: string): Promise<void> {
    await rows.updateContainer(this.ctx.db, row.id, { status: 'unhealthy', message });
    await this.destroy({ ...row, status: 'unhealthy' });
  }

  /**
   * A healthy new replica takes traffic and the old ones leave in the same router update (one
   * reload instead of two: each reload is a moment the proxy recycles connections), then the old
   * ones drain and stop. The app never has fewer healthy replicas in rotation than before.
   */
  private async swap(fresh: ContainerRow, old: ContainerRow[]): Promise<void> {
    if (fresh.in_rotation && old.length === 0) return;
    await this.ctx.db.transaction().execute(async (tx) => {
      await tx.updateTable('containers').set({ in_rotation: 1, updated_at: now() }).where('id', '=', fresh.id).execute();
      for (const o of old) {
        await tx.updateTable('containers').set({ in_rotation: 0, status: 'draining', updated_at: now() }).where('id', '=', o.id).execute();
      }
    });
    await this.routes.sync();
    for (const o of old) await this.destroy(o);
  }

  /** Out of rotation, drained (the router update waits for in-flight requests), stopped, removed. */
  private async retire(row: ContainerRow): Promise<void> {
    if (row.in_rotation) await this.takeOut(row);
    await this.destroy(row);
  }

  private async takeOut(row: ContainerRow): Promise<void> {
    await rows.updateContainer(this.ctx.db, row.id, { in_rotation: 0, status: 'draining' });
    await this.routes.sync();
  }

  private async destroy(row: ContainerRow): Promise<void> {
    if (row.docker_id) {
      await this.ctx.runtime.stopContainer(row.docker_id, STOP_GRACE_S);
      await this.ctx.runtime.removeContainer(row.docker_id);
    }
    await rows.deleteContainer(this.ctx.db, row.id);
  }

  private spec(app: AppRow, release: ReleaseRow, cfg: ReleaseConfig, row: ContainerRow): ContainerSpec {
    return {
      name: row.name,
      image: release.image,
      env: {
        ...plainEnv(this.ctx.secrets, parseEnv(cfg.env)),
        PORT: String(cfg.port),
        BERTH_APP: app.slug,
        BERTH_RELEASE: `v${release.version}`,
      },
      labels: {
        'berth.instance': this.ctx.instanceId,
        'berth.project': app.project_id,
        'berth.app': app.id,
        'berth.release': release.id,
        'berth.version': String(release.version),
        'berth.replica': String(row.replica),
        'berth.gen': String(row.gen),
        'berth.container': row.id,
      },
      network: projectNetwork(app.project_id),
      // Apps in a project reach each other by app name through Docker's DNS.
      aliases: [app.name],
      memoryMb: cfg.memory_mb,
      cpu: cfg.cpu,
    };
  }

  private async event(app: AppRow, kind: string, message: string, data?: Record<string, unknown>) {
    await this.ctx.events.record({ project_id: app.project_id, app_id: app.id, kind, message, data });
  }
}
