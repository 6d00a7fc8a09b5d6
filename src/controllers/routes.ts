import type { ControllerDeps } from './deps.js';
import { routedApps } from '../store/apps.js';
import { rotationUpstreams } from '../store/containers.js';
import { unverifiedDomains, verifiedDomains } from '../store/domains.js';
import type { Challenge, Route, Router } from '../router/types.js';
import { HEALTH_PATH, normalizeRoutes } from '../router/routes.js';
import { isDeepStrictEqual } from 'node:util';

/** The route controller sits below the others (they call its sync()), so it gets only the database, the log and the configuration. */
export type RouteDeps = Pick<ControllerDeps, 'db' | 'log' | 'config'>;

/**
 * Keeps the router's configuration equal to the routes the database describes: each app's host goes
 * to the containers marked in rotation. Rollouts call sync() after changing rotation and wait for it,
 * which is what makes traffic shifts ordered (in before out, drained before stopped).
 */
export class RouteController {
  private pending: Promise<void> | null = null;
  private chain: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** Upstreams the router was last seen or made to serve; null while unknown. */
  private served: Set<string> | null = null;
  /** Bumped by every apply, so a read of the router that an apply overtook does not overwrite it. */
  private applied = 0;
  /** Upstreams a load removed, until the router's drain of them is over. */
  private readonly draining = new Map<string, Promise<void>>();

  constructor(
    private readonly ctx: RouteDeps,
    private readonly router: Router,
  ) {}

  async start(intervalMs = 5000): Promise<void> {
    await this.ensure();
    // Drift check: a restarted or hand-edited proxy gets the desired routes back within seconds.
    const tick = async () => {
      if (this.stopped) return;
      await this.ensure().catch((err) => this.ctx.log.warn({ err }, 'router reconcile failed'));
      if (!this.stopped) this.timer = setTimeout(tick, intervalMs);
    };
    this.timer = setTimeout(tick, intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.chain;
  }

  /** Reads what the router serves now (before the API listens, so its first answers are true). */
  async prime(): Promise<void> {
    await this.observe();
  }

  private async ensure(): Promise<void> {
    // No ensureRunning() first: a proxy that is down is started by apply() with the desired routes.
    const [want, have] = await Promise.all([this.desired(), this.observe()]);
    if (!have || !isDeepStrictEqual(normalizeRoutes(want), normalizeRoutes(have))) await this.sync();
  }

  /** The router's routes, also remembered as what it serves; null (and unknown) when it does not answer. */
  private async observe(): Promise<Route[] | null> {
    const gen = this.applied;
    const have = await this.router.current().catch(() => null);
    if (gen === this.applied) this.served = have ? upstreamsOf(have) : null;
    return have;
  }

  /**
   * Whether the router serves this upstream now. The database says where traffic should go; between
   * that write and the router's reload the two differ, and the API reports what the router does.
   * Unknown (the router does not answer) counts as not served.
   */
  serves(address: string, port: number): boolean {
    return this.served?.has(`${address}:${port}`) ?? false;
  }

  /**
   * Applies the desired routes; resolves once the router serves them and every upstream they leave
   * out has drained (so the caller may stop it), whichever load removed it. The next sync waits only
   * for this one's load, not its drain: one app's retiring replica must not hold back every other
   * app's route change.
   */
  sync(): Promise<void> {
    if (this.pending) return this.pending;
    let released!: () => void;
    const loadDone = new Promise<void>((r) => (released = r));
    const p = this.chain.then(async () => {
      this.pending = null;
      let drained!: () => void;
      const drainDone = new Promise<void>((r) => (drained = r));
      try {
        const want = await this.desired();
        const wanted = upstreamsOf(want);
        this.applied++;
        let loaded = false;
        const onLoaded = (removed: string[] = []) => {
          if (loaded) return;
          loaded = true;
          for (const u of removed) this.draining.set(u, drainDone);
          this.served = wanted;
          released();
        };
        try {
          await this.router.apply(want, await this.challenges(), onLoaded);
        } catch (err) {
          if (!loaded) this.served = null; // half-applied or not at all: unknown until the router is read again
          throw err;
        }
        onLoaded();
        drained();
        // An upstream an earlier load removed may still be draining; whoever asked for it to go out
        // may be waiting on this sync (its change was already in that earlier load).
        await Promise.all([...this.draining].filter(([u]) => !wanted.has(u)).map(([, d]) => d));
      } finally {
        released();
        drained();
        for (const [u, d] of this.draining) if (d === drainDone) this.draining.delete(u);
      }
    });
    this.pending = p;
    this.chain = Promise.race([loadDone, p]).catch(() => {});
    return p;
  }

  /** Tokens of domains waiting for their check: the router answers each for its own host so the check can succeed. */
  private async challenges(): Promise<Challenge[]> {
    const rows = await unverifiedDomains(this.ctx.db);
    return rows.map((d) => ({ host: d.hostname, token: d.token }));
  }

  async desired(): Promise<Route[]> {
    const db = this.ctx.db;
    const [apps, rotation, domains] = await Promise.all([
      routedApps(db),
      rotationUpstreams(db),
      verifiedDomains(db),
    ]);
    const hostsOf = new Map<string, string[]>();
    for (const d of domains) hostsOf.set(d.app_id, [...(hostsOf.get(d.app_id) ?? []), d.hostname]);
    const byApp = new Map<string, string[]>();
    for (const c of rotation) {
      const list = byApp.get(c.app_id) ?? [];
      list.push(`${c.address}:${c.port}`);
      byApp.set(c.app_id, list);
    }
    const domain = this.ctx.config.routerDomain;
    return apps.map((a) => ({
      hosts: [`${a.slug}.${domain}`, ...(hostsOf.get(a.id) ?? [])],
      app: a.slug,
      upstreams: a.stopped ? [] : (byApp.get(a.id) ?? []).sort(),
      healthPath: healthPath(a.health_check.path),
      drainTimeoutMs: (a.drain_timeout_s ?? 30) * 1000,
    }));
  }
}

/** The app's health path; one stored before paths were restricted, and unsendable, falls back to '/'. */
function healthPath(path: string | undefined): string {
  return typeof path === 'string' && HEALTH_PATH.test(path) ? path : '/';
}

function upstreamsOf(routes: Route[]): Set<string> {
  return new Set(routes.flatMap((r) => r.upstreams));
}
