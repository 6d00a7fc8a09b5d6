import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppStats, Certificate, Challenge, ResponseTimes, Route, RoutedRequest, Router } from '../types.js';
import { normalizeRoutes } from '../routes.js';
import { certsDiff, ensureDefaultCert, type DefaultCertSource } from './certs.js';
import { files, pathOf, renderConfig, renderCrtList, renderMaps, type ConfigOptions } from './config.js';
import { writeAtomic } from './files.js';
import { isReady, readMap, readServers } from './observed.js';
import { pushState } from './push.js';
import { NOT_FOUND_PAGE, unavailablePage } from './pages.js';
import { plan, type Drain } from './plan.js';
import { HaproxyProcess, isHaproxy } from './process.js';
import { MasterWatch } from './watch.js';
import { grow, initialState, type RouterState } from './state.js';
import { baseline, counters, parseStat, type StatRow } from './stats.js';
import * as v from './validate.js';
import { TimingTap } from './timing.js';

/** The subset of a pino logger the router uses. */
export interface RouterLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface HaproxyRouterOptions {
  /** BERTH_DATA_DIR; HAProxy's files live under <dataDir>/haproxy. */
  dataDir: string;
  httpPort: number;
  httpsPort: number;
  /** Interface the public listeners bind; default all interfaces. */
  listenHost?: string;
  redirectHttps?: boolean;
  /** Preallocated backends (apps served without a reload); grows by doubling, with one seamless reload. */
  poolSize?: number;
  /** Server slots per backend (replicas in rotation plus draining ones); grows like the pool. */
  slotsPerBackend?: number;
  /** How long a worker replaced by a reload may keep its connections (default 3600 s). */
  hardStopAfterS?: number;
  /** How often a drain looks at the replica's current sessions (default 100 ms). */
  drainPollMs?: number;
  /** Certificate served to a name with none of its own; default: a self-signed one made with openssl. */
  defaultCertificate?: DefaultCertSource;
  haproxyBin?: string;
  startTimeoutMs?: number;
  /**
   * Watch HAProxy once this object started it or found it running (after a control-plane restart)
   * and start it again from its files as soon as it dies (a kill -9, an OOM kill): its death is
   * noticed at once through a connection to the master CLI (watch.ts), and this is also how often
   * its pid is polled as a backstop. Unset: only ensureRunning() and apply() start it.
   */
  watchMs?: number;
  logger?: RouterLogger;
  /**
   * Cluster mode: every server slot connects from this network namespace (/var/run/netns/NAME).
   * HAProxy 2.6 enters it with setns() per connection, which needs CAP_SYS_ADMIN: the workers
   * then keep root (measured; docs/cluster.md).
   */
  serverNamespace?: string;
  /** HAProxy writes an access log line per request to its log file (an operator's debugging aid). */
  accessLog?: boolean;
}

/**
 * Berth's edge router: one HAProxy (master-worker) per Berth data directory, driven through its
 * runtime API. Every traffic change is a runtime command on a preallocated backend, its server
 * slots and a few maps; the config file and map files on disk are rewritten to match each change
 * (before it is sent), so a restart after a crash comes back with every route. Only when the pool
 * of backends or a backend's slots run out is the config grown and the master asked for a seamless
 * reload (listeners handed to the new worker; the old one keeps its connections until they end).
 *
 * A replica leaving rotation is put in `drain`: it gets no new request, its in-flight requests,
 * WebSockets and streams go on. apply() resolves once HAProxy counts no session on it any more,
 * or the app's drain timeout passed (then its remaining sessions are shut).
 */
export class HaproxyRouter implements Router {
  readonly dir: string;
  readonly proc: HaproxyProcess;
  private readonly cfg: ConfigOptions;
  private state: RouterState;
  private starting?: Promise<void>;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly watcher?: MasterWatch;
  /** What this object last wrote to each file (files are only ever written by commit()). */
  private readonly written = new Map<string, string>();
  /** The worker of the master this object last started or found (for the watch). */
  private worker?: number;
  /** Reads each request's response time from HAProxy's timing ring, once responseTimes() is first asked. */
  private tap?: TimingTap;

  constructor(readonly opts: HaproxyRouterOptions) {
    this.dir = join(opts.dataDir, 'haproxy');
    this.proc = new HaproxyProcess(this.dir, opts.haproxyBin);
    this.cfg = {
      dir: this.dir,
      httpPort: opts.httpPort,
      httpsPort: opts.httpsPort,
      listenHost: opts.listenHost,
      redirectHttps: opts.redirectHttps,
      hardStopAfterS: opts.hardStopAfterS ?? 3600,
      user: opts.serverNamespace ? undefined : workerUser(),
      serverNamespace: opts.serverNamespace,
      accessLog: opts.accessLog,
    };
    this.state = this.loadState();
    if (opts.watchMs) this.watcher = new MasterWatch(this.proc, opts.watchMs, () => this.restart());
    // Found running (started by a control plane that has since exited): watched from now on, as
    // closely as one started here, though nothing else may touch it for a while (the route
    // controller only reads it when the routes already match).
    if (this.watcher && this.proc.livePid() !== undefined) {
      this.watcher.start();
      void this.proc.workerPid().then(
        (pid) => (this.worker ??= pid),
        () => undefined,
      );
    }
  }

  get logFile(): string {
    return pathOf(this.dir, 'log');
  }

  ensureRunning(): Promise<void> {
    this.starting ??= this.serialized(() => this.start()).finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  async apply(routes: Route[], challenges: Challenge[] = [], loaded?: (removed: string[]) => void): Promise<void> {
    // Everything is checked before anything is sent: bad input changes nothing.
    const want = routes.map((r, i) => v.route(r, i)).filter((r) => r.hosts.length > 0);
    // Map keys "<host>/<token>": the frontend looks the request's own host up with the token.
    const tokens = [...new Set(challenges.map((c, i) => `${v.hostname(c.host, `challenges[${i}].host`).toLowerCase()}/${v.token(c.token, `challenges[${i}].token`)}`))].sort();
    const drains = await this.serialized(async () => {
      const prev = this.state;
      let next = structuredClone(this.state);
      let result = plan(next, want, tokens);
      if (result.grow) {
        next = structuredClone(this.state);
        grow(next, result.grow.pool, result.grow.slots);
        result = plan(next, want, tokens);
        if (result.grow) throw new Error('router pool could not grow enough');
        this.commit(next);
        if (this.proc.livePid() !== undefined) await this.reloadSeamlessly(next);
      } else {
        this.commit(next);
      }
      // Not running (first start, crash): it boots from the files just written, with these routes.
      if (this.proc.livePid() === undefined) await this.start();
      await this.push();
      await this.markBaselines(prev);
      return result.drains;
    });
    loaded?.(drains.map((d) => d.upstream));
    // Outside the queue: the next change need not wait for this one's drain.
    await Promise.all(drains.map((d) => this.drain(d)));
  }

  async current(): Promise<Route[]> {
    const api = this.proc.admin;
    const [hosts, apps, health, servers] = await Promise.all([
      readMap(api, pathOf(this.dir, 'hosts')),
      readMap(api, pathOf(this.dir, 'apps')),
      readMap(api, pathOf(this.dir, 'health')),
      readServers(api),
    ]);
    // Indexed by backend: with 1,000 apps a scan per app would cost seconds.
    const group = <T>(pairs: Iterable<[string, T]>) => {
      const out = new Map<string, T[]>();
      for (const [be, v] of pairs) out.set(be, [...(out.get(be) ?? []), v]);
      return out;
    };
    const hostsOf = group([...hosts].map(([h, be]): [string, string] => [be, h]));
    const upstreamsOf = group(
      [...servers].filter(([, sv]) => isReady(sv) && sv.port > 1).map(([id, sv]): [string, string] => [id.split('/')[0], `${sv.addr}:${sv.port}`]),
    );
    const drainOf = new Map(this.state.backends.map((b) => [b.name, b.drainMs]));
    const routes: Route[] = [];
    for (const [be, app] of apps) {
      const own = hostsOf.get(be) ?? [];
      if (own.length === 0) continue;
      routes.push({ app, hosts: own, upstreams: upstreamsOf.get(be) ?? [], healthPath: health.get(be) ?? '/', drainTimeoutMs: drainOf.get(be) ?? 30_000 });
    }
    return normalizeRoutes(routes);
  }

  async setCertificates(certs: Certificate[]): Promise<void> {
    const valid = certs.map((c, i) => v.certificate(c, i));
    await this.serialized(async () => {
      const next = structuredClone(this.state);
      const steps = certsDiff(next, valid, this.dir);
      // Files first (a restart serves them), then the runtime.
      this.commit(next, steps.files);
      for (const s of steps.commands) await this.proc.admin.ok(s.command, s.ok, s.payload);
      for (const f of steps.obsolete) {
        rmSync(f, { force: true });
        this.written.delete(f);
      }
    });
  }

  async setAcmeChallenges(answers: Record<string, string>): Promise<void> {
    const valid = Object.entries(answers).map(([t, a], i) => [v.token(t, `answers[${i}].token`), v.keyAuthorization(a, `answers[${i}].value`)]);
    await this.serialized(async () => {
      const next = structuredClone(this.state);
      next.acme = Object.fromEntries(valid.sort(([a], [b]) => (a < b ? -1 : 1)));
      this.commit(next);
      await this.push();
    });
  }

  async stats(app: string): Promise<AppStats | null> {
    v.slug(app, 'app');
    const be = this.state.backends.find((b) => b.app === app && b.hosts.length > 0);
    if (!be) return null;
    const rows = parseStat(await this.proc.admin.send(`show stat ${be.name} 6 -1`));
    const total = rows.find((r) => r.svname === 'BACKEND');
    if (!total) return null;
    const replicas = be.slots.flatMap((s, i) => {
      const row = s ? rows.find((r) => r.svname === `s${i + 1}`) : undefined;
      const status = s?.state === 'drain' ? 'DRAIN' : row?.status ?? '';
      return s && row ? [{ upstream: s.upstream, status, ...counters(row, be.base?.[`s${i + 1}`]) }] : [];
    });
    return { app, total: counters(total, be.base?.BACKEND), replicas };
  }

  /**
   * HAProxy's counters belong to a backend and its server slots, which the pool hands from app to
   * app and from replica to replica: remember where they stood when the current owner took them.
   */
  private async markBaselines(prev: RouterState): Promise<void> {
    const next = structuredClone(this.state);
    let changed = false;
    for (const b of next.backends) {
      const was = prev.backends.find((x) => x.name === b.name);
      const fresh: string[] = [];
      if (b.app !== null && was?.app !== b.app) fresh.push('BACKEND');
      b.slots.forEach((s, i) => {
        if (s && (was?.app !== b.app || was?.slots[i]?.upstream !== s.upstream)) fresh.push(`s${i + 1}`);
      });
      if (fresh.length === 0) continue;
      const rows = parseStat(await this.proc.admin.send(`show stat ${b.name} 6 -1`));
      b.base = { ...(was?.app === b.app ? b.base : {}) };
      for (const sv of fresh) b.base[sv] = baseline(rows.find((r) => r.svname === sv));
      changed = true;
    }
    if (changed) this.commit(next);
  }

  /**
   * A seamless reload (a new worker re-reads the config and opens its namespaces again; the old one
   * keeps its connections): for when the server namespace was bound anew. Nothing when not running.
   */
  reload(): Promise<void> {
    return this.serialized(async () => {
      if (this.proc.livePid() === undefined) return;
      await this.proc.reload();
      this.worker = await this.proc.workerPid();
    // The timing reader holds the old worker's ring (and keeps that worker alive): read the new one.
    this.tap?.reconnect();
      await this.push();
    });
  }

  /** The one reader of the timing ring, started by its first user (the metrics pass or the log store). */
  private timingTap(): { tap: TimingTap; fresh: boolean } {
    if (this.tap) return { tap: this.tap, fresh: false };
    this.tap = new TimingTap(pathOf(this.dir, 'admin'), (msg) => this.opts.logger?.warn({ dir: this.dir }, msg));
    this.tap.start();
    return { tap: this.tap, fresh: true };
  }

  onRequest(listener: ((r: RoutedRequest) => void) | null): void {
    if (!listener) {
      // The leader's term ended: nobody takes the times any more, and an instance that no longer
      // leads must not keep a window filling for every backend. The next term reads afresh.
      this.tap?.stop();
      this.tap = undefined;
      return;
    }
    const { tap } = this.timingTap();
    tap.onLine((a) => {
      // A retired backend's requests are a deleted app's: no app's lines now.
      const be = this.state.backends.find((b) => b.name === a.backend);
      const app = be && !be.retired ? be.app : null;
      if (!app) return;
      listener({ app, upstream: a.upstream, client: a.client, request: a.request, status: a.status, bytes: a.bytes, connectMs: a.tc, serviceMs: a.tr, totalMs: a.ta });
    });
  }

  responseTimes(): Map<string, ResponseTimes> {
    const out = new Map<string, ResponseTimes>();
    const { tap, fresh } = this.timingTap();
    if (fresh) return out;
    for (const [name, t] of tap.take()) {
      // A backend handed to another app within the window would credit its last requests to the new one:
      // pool changes are rare, and the replicas below are named by the address each request reached.
      const be = this.state.backends.find((b) => b.name === name);
      if (be?.app && !be.retired) out.set(be.app, { all: t.all, replicas: t.upstreams });
    }
    return out;
  }

  /** Stops the HAProxy of this data directory (and the watch); for tests and uninstall. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.tap?.stop();
    this.watcher?.stop();
    return this.proc.stop(signal);
  }

  /** Stops watching and leaves HAProxy serving, as an exiting control plane does. */
  close(): void {
    this.tap?.stop();
    this.watcher?.stop();
  }

  /** The watch found the master dead: start it again from the files (rejects when that failed). */
  private async restart(): Promise<void> {
    const t0 = Date.now();
    this.opts.logger?.warn({ dir: this.dir }, 'haproxy is gone; starting it again from its config file');
    // Its worker outlives a killed master by about a second, still accepting, then exits and
    // resets what it holds: a soft stop closes its listeners now, so new connections go to the new one.
    if (this.worker !== undefined && isHaproxy(this.worker, pathOf(this.dir, 'config'))) process.kill(this.worker, 'SIGUSR1');
    try {
      await this.serialized(() => this.start());
      this.opts.logger?.info({ ms: Date.now() - t0 }, 'haproxy back with every route');
    } catch (err) {
      this.opts.logger?.warn({ err: (err as Error).message }, 'haproxy restart failed; retrying');
      throw err;
    }
  }

  private async start(): Promise<void> {
    mkdirSync(join(this.dir, files.certs), { recursive: true, mode: 0o700 });
    if (this.proc.livePid() === undefined) {
      await ensureDefaultCert(pathOf(this.dir, 'defaultCert'), this.opts.defaultCertificate);
      this.commit(this.state);
    }
    const { pid, started } = await this.proc.start(this.opts.startTimeoutMs ?? 15_000);
    if (started) this.opts.logger?.info({ pid, dir: this.dir, apps: this.state.backends.filter((b) => b.app).length }, 'haproxy started');
    this.worker = await this.proc.workerPid();
    // The timing reader holds the old worker's ring (and keeps that worker alive): read the new one.
    this.tap?.reconnect();
    this.watcher?.start();
    // A control plane killed between writing a change and sending it left the runtime behind: catch up.
    await this.push();
  }

  /** Writes state.json, the config, maps, pages and crt-list (each atomically), then adopts `next`. */
  private commit(next: RouterState, extra: Record<string, string> = {}): void {
    const maps = renderMaps(next);
    // Only what changed is written (a replica joining touches state.json and the config, not the maps).
    const write = (path: string, text: string, mode?: number) => {
      if (this.written.get(path) === text) return;
      writeAtomic(path, text, mode);
      this.written.set(path, text);
    };
    for (const [name, text] of Object.entries(extra)) write(name, text);
    write(pathOf(this.dir, 'notFound'), NOT_FOUND_PAGE, 0o644);
    write(pathOf(this.dir, 'unavailable'), unavailablePage(pathOf(this.dir, 'apps')), 0o644);
    for (const n of ['hosts', 'apps', 'health', 'verify', 'acme'] as const) write(pathOf(this.dir, n), maps[n]);
    write(pathOf(this.dir, 'crtList'), renderCrtList(this.dir, next));
    write(pathOf(this.dir, 'config'), renderConfig(next, this.cfg));
    write(pathOf(this.dir, 'state'), JSON.stringify(next, null, 1));
    this.state = next;
  }

  private loadState(): RouterState {
    const fallback = initialState(this.opts.poolSize ?? 16, this.opts.slotsPerBackend ?? 8);
    try {
      const saved = JSON.parse(readFileSync(pathOf(this.dir, 'state'), 'utf8')) as RouterState;
      grow(saved, fallback.backends.length, fallback.slotsPerBackend);
      return saved;
    } catch {
      return fallback;
    }
  }

  private async reloadSeamlessly(next: RouterState): Promise<void> {
    const t0 = Date.now();
    await this.proc.reload();
    this.worker = await this.proc.workerPid();
    // The timing reader holds the old worker's ring (and keeps that worker alive): read the new one.
    this.tap?.reconnect();
    this.opts.logger?.info(
      { backends: next.backends.length, slots: next.slotsPerBackend, ms: Date.now() - t0 },
      'router pool grown (seamless reload)',
    );
  }

  /** Makes the running HAProxy equal to this.state (see push.ts). */
  private push(): Promise<void> {
    return pushState(this.proc.admin, this.dir, this.state);
  }

  /** Waits until HAProxy counts no session on the slot, finds it down, or the drain timeout passed; then frees it. */
  private async drain(d: Drain): Promise<void> {
    const deadline = Date.now() + d.ms;
    const id = `${d.backend}/s${d.slot + 1}`;
    while (Date.now() < deadline) {
      const rows = parseStat(await this.proc.admin.send(`show stat ${d.backend} 4 -1`).catch(() => ''));
      const row = rows.find((r) => r.svname === `s${d.slot + 1}`);
      // A replica HAProxy's checks cannot even connect to (its node died, it crashed) will never
      // finish its sessions: waiting out the drain timeout would only hold the caller (the app's
      // recovery). One that is down but connects (slow or failing health answers) keeps its drain.
      if (!row || Number(row.scur) === 0 || unreachable(row)) break;
      await sleep(this.opts.drainPollMs ?? 100);
    }
    await this.serialized(async () => {
      const next = structuredClone(this.state);
      const b = next.backends.find((x) => x.name === d.backend);
      const slot = b?.slots[d.slot];
      // Put back in rotation (or reused) meanwhile: not ours to free any more.
      if (!b || slot?.upstream !== d.upstream || slot.state !== 'drain') return;
      b.slots[d.slot] = null;
      if (b.retired && b.slots.every((x) => x === null)) Object.assign(b, { app: null, retired: false, hosts: [] });
      this.commit(next);
      await this.push();
      this.opts.logger?.info({ server: id, upstream: d.upstream }, 'router drained a replica');
    });
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}


/**
 * As root, the workers (which parse every request) run as Debian's `haproxy` user; the listening
 * sockets, the runtime API socket and the files are opened by the master before that.
 */
function workerUser(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    return /^haproxy:/m.test(readFileSync('/etc/passwd', 'utf8')) && /^haproxy:/m.test(readFileSync('/etc/group', 'utf8')) ? 'haproxy' : undefined;
  } catch {
    return undefined;
  }
}

/** Down because its checks cannot connect at all: refused, timed out, or a socket error. */
function unreachable(row: StatRow): boolean {
  return (row.status ?? '').startsWith('DOWN') && /^(L4TOUT|L4CON|SOCKERR)$/.test(row.check_status ?? '');
}
