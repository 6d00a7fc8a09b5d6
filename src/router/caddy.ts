import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { adminAnswers, adminRequest, unixPath } from './caddy-admin.js';
import { baseConfig, buildConfig, routesFromConfig, type CaddyConfigOptions } from './caddy-config.js';
import type { AppStats, Certificate, Route, Router } from './types.js';

/** The subset of a pino logger the router uses. */
export interface RouterLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface CaddyRouterOptions {
  /** BERTH_DATA_DIR; Caddy's files (config, autosave, certificates, log, pid) live under <dataDir>/caddy. */
  dataDir: string;
  httpPort: number;
  httpsPort: number;
  /** Admin endpoint in Caddy's syntax: "127.0.0.1:2019" or "unix//abs/path.sock" (path under 108 bytes). */
  admin: string;
  /** ROUTER_DOMAIN: apps are served at <slug>.<domain>. */
  domain?: string;
  /** Interface the public servers bind; default all interfaces. */
  listenHost?: string;
  acmeEmail?: string;
  /** Certificates from Caddy's internal CA even for public names (no ACME). */
  internalTls?: boolean;
  redirectHttps?: boolean;
  /**
   * Caddy's grace_period (duration) for servers shut down by a reload or stop; unset = Caddy's
   * default (no limit). Caddy 2.6.2 cancels this wait as soon as the background shutdown starts
   * (it logs "server shutdown: context canceled"); in-flight requests still complete.
   */
  gracePeriod?: string;
  /**
   * After a load that removed upstreams, apply() waits this long before resolving (default 2000 ms),
   * so a caller may stop the removed replicas as soon as apply() resolves. See the class comment.
   */
  drainMs?: number;
  /**
   * Set Linux's net.ipv4.tcp_migrate_req to 1 before using Caddy (default true; needs root, kernel
   * 5.14+). Without it, every reload resets a few brand-new client connections; see the class comment.
   * Only ever switches it on, never off; when it cannot, it logs a warning and Caddy runs as before.
   */
  migrateAcceptQueue?: boolean;
  /** Caddy binary (default "caddy" on PATH). */
  caddyBin?: string;
  /** How long ensureRunning waits for a started Caddy to answer (default 15 s). */
  startTimeoutMs?: number;
  logger?: RouterLogger;
}

/**
 * Berth's edge router: one Caddy process per Berth data directory, driven through its admin API.
 *
 * Caddy runs as its own detached process, so routes keep being served while the control plane is
 * down or restarting. Caddy autosaves each loaded config, and a (re)started Caddy boots from the
 * routes in that autosave, so it comes back with the last routes even before the controller
 * re-applies them.
 *
 * What a reload does to traffic (Caddy 2.6.2, verified by test/router/caddy.test.ts):
 * - POST /load returns at once (milliseconds); the old config's servers shut down gracefully in the
 *   background, so a request in flight to an upstream the new config removed completes normally
 *   (up to gracePeriod, if set). New requests go to the new upstreams only.
 * - So a replica must not be stopped the instant Caddy has the new config: a request the old config
 *   routed to it just before the reload can still be on its way, and the old config's handler no
 *   longer retries on another upstream once it is unloaded (its context is canceled), so stopping
 *   the replica then turns that request into a 502. apply() therefore waits drainMs after a load
 *   that removed upstreams: once it resolves, the caller may stop them (with a SIGTERM grace so
 *   their own long requests finish). The zero-drop test does exactly that.
 * - Each reload also replaces the listening sockets: Caddy 2.6 on Linux binds the new config's ports
 *   anew with SO_REUSEPORT while the old config's sockets are still open, then closes the old ones
 *   (strace shows a new socket/bind/listen per reload, `ss -ltne` a new socket id). Until the close,
 *   the kernel hands each new connection to either socket; the few that sit in the old socket's
 *   accept queue when it closes are reset by the kernel before Caddy ever sees them: a brand-new
 *   connection dropped with no answer (measured: about 0.4 per reload with 4 clients opening
 *   connections back to back, HTTP and HTTPS alike; grace_period, shutdown_delay, timeouts,
 *   protocols, persist and PATCHing a sub-path instead of /load all reload the same way and do not
 *   change it). Linux 5.14+ moves those queued connections to a socket still open when
 *   net.ipv4.tcp_migrate_req=1 (0 drops in 1000 reloads), so the router switches it on (option
 *   migrateAcceptQueue). It is per network namespace; where it cannot be set (not root, read-only
 *   /proc/sys in a container: `docker run --sysctl net.ipv4.tcp_migrate_req=1`), the drops remain.
 * - On HTTPS, a TLS handshake in the first milliseconds of a reload can also fail with the alert
 *   internal_error (Caddy logs "no certificate available" at debug level): the new config's servers
 *   accept before its tls app has put the certificates in its own new cache. About 1 in 100 reloads
 *   under that same load; the client sees a TLS error, not a reset, and tcp_migrate_req does not help.
 * - Each reload closes the old config's idle keep-alive client connections. A client that reuses
 *   one at that instant gets a reset before any response byte; browsers, curl and Go resend such a
 *   request on a new connection (RFC 9112 §9.3.1), Node's http.Agent does not by itself.
 * - Upgraded connections (WebSockets) and streamed responses (SSE, chunked) proxied by the old
 *   config are closed by a reload in Caddy 2.6 (caddyserver/caddy#5663); their clients reconnect.
 *   apply() skips the reload when nothing changed, so only real route changes cause this.
 */
export class CaddyRouter implements Router {
  readonly dir: string;
  private readonly configOpts: CaddyConfigOptions;
  private starting?: Promise<void>;
  private queue: Promise<unknown> = Promise.resolve();
  private migrationChecked = false;

  constructor(readonly opts: CaddyRouterOptions) {
    this.dir = join(opts.dataDir, 'caddy');
    this.configOpts = {
      admin: opts.admin,
      storageDir: join(this.dir, 'storage'),
      httpPort: opts.httpPort,
      httpsPort: opts.httpsPort,
      listenHost: opts.listenHost,
      acmeEmail: opts.acmeEmail,
      internalTls: opts.internalTls,
      redirectHttps: opts.redirectHttps,
      gracePeriod: opts.gracePeriod,
    };
  }

  get pidFile(): string {
    return join(this.dir, 'caddy.pid');
  }

  get logFile(): string {
    return join(this.dir, 'caddy.log');
  }

  /** Root certificate of Caddy's internal CA, which signs the certificates of private hostnames. */
  get rootCaFile(): string {
    return join(this.configOpts.storageDir, 'pki', 'authorities', 'local', 'root.crt');
  }

  ensureRunning(): Promise<void> {
    this.starting ??= this.start().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  async apply(routes: Route[], challenges: string[] = [], loaded?: (removed: string[]) => void): Promise<void> {
    const removed = await this.serialized(async () => {
      const want = buildConfig(routes, this.configOpts, challenges);
      const have = await this.admin('GET', '/config/');
      if (isDeepStrictEqual(have, want)) return [];
      const res = await adminRequest(this.opts.admin, 'POST', '/load', JSON.stringify(want), 30_000);
      if (res.status !== 200) throw new Error(`caddy rejected the config (${res.status}): ${res.body.trim()}`);
      const kept = new Set(routesFromConfig(want).flatMap((r) => r.upstreams));
      const gone = routesFromConfig(have).flatMap((r) => r.upstreams).filter((u) => !kept.has(u));
      this.opts.logger?.info({ routes: routes.length, removed: gone }, 'router config applied');
      return gone;
    });
    loaded?.(removed);
    // Outside the queue: the next load need not wait for this one's drain.
    if (removed.length) await sleep(this.opts.drainMs ?? 2000);
  }

  async current(): Promise<Route[]> {
    return routesFromConfig(await this.admin('GET', '/config/'));
  }

  // Caddy is being replaced by HAProxy (issue 9); these stubs keep it compiling until then.
  async setCertificates(_certs: Certificate[]): Promise<void> {}
  async setAcmeChallenges(_answers: Record<string, string>): Promise<void> {}
  async stats(_app: string): Promise<AppStats | null> {
    return null;
  }

  /** Stops the Caddy this router started (from its pid file); for tests and uninstall. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const pid = this.livePid();
    if (pid !== undefined) {
      process.kill(pid, signal);
      const deadline = Date.now() + 10_000;
      while (isAlive(pid) && Date.now() < deadline) await sleep(50);
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      while (isAlive(pid)) await sleep(20);
    }
    rmSync(this.pidFile, { force: true });
  }

  private async start(): Promise<void> {
    if (!this.migrationChecked) {
      this.migrationChecked = true;
      if (this.opts.migrateAcceptQueue ?? true) this.enableAcceptQueueMigration();
    }
    if (await adminAnswers(this.opts.admin)) return;
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 15_000);
    const running = this.livePid();
    if (running !== undefined) {
      // Ours, but not answering yet: probably still starting (another Berth process may have started it).
      if (await this.waitForAdmin(deadline)) return;
      throw new Error(`caddy (pid ${running}) is running but its admin endpoint ${this.opts.admin} does not answer`);
    }

    mkdirSync(join(this.dir, 'storage'), { recursive: true });
    const configFile = join(this.dir, 'caddy.json');
    writeFileSync(configFile, JSON.stringify(this.bootConfig(), null, 2));
    const socket = unixPath(this.opts.admin);
    // Nothing answers on it, so a socket file left by a killed Caddy is stale and would block the bind.
    if (socket) rmSync(socket, { force: true });

    const log = openSync(this.logFile, 'a');
    // A long-lived daemon, not a command: it must outlive this process, so it is spawned here rather
    // than through lib/exec (which waits for exit). Own session (detached), no shell, argument array.
    const child = spawn(this.opts.caddyBin ?? 'caddy', ['run', '--config', configFile], {
      cwd: this.dir,
      detached: true,
      stdio: ['ignore', log, log],
      env: {
        ...process.env,
        // Autosave, certificates and CA keys per data directory, so Berth instances never share them.
        HOME: this.dir,
        XDG_CONFIG_HOME: join(this.dir, 'xdg-config'),
        XDG_DATA_HOME: join(this.dir, 'xdg-data'),
      },
    });
    closeSync(log);
    let exited: string | undefined;
    child.once('exit', (code, sig) => {
      exited = `exited with ${code ?? sig}`;
    });
    child.once('error', (err) => {
      exited = err.message;
    });
    child.unref();
    if (child.pid !== undefined) writeFileSync(this.pidFile, `${child.pid}\n`);
    this.opts.logger?.info({ pid: child.pid, admin: this.opts.admin }, 'caddy started');

    if (await this.waitForAdmin(deadline, () => exited !== undefined)) return;
    throw new Error(`caddy ${exited ?? 'did not answer in time'} on ${this.opts.admin}: ${this.logTail()}`);
  }

  /**
   * The last routes Caddy autosaved, rebuilt with the current options. Not `caddy run --resume`:
   * that would bring back the autosaved admin address and ports even after the operator changed them.
   */
  private bootConfig(): object {
    try {
      const saved: unknown = JSON.parse(readFileSync(this.autosaveFile, 'utf8'));
      return buildConfig(routesFromConfig(saved), this.configOpts);
    } catch {
      return baseConfig(this.configOpts);
    }
  }

  private get autosaveFile(): string {
    return join(this.dir, 'xdg-config', 'caddy', 'autosave.json');
  }

  /**
   * net.ipv4.tcp_migrate_req=1 in our (and so Caddy's) network namespace: when a reload closes the
   * old config's SO_REUSEPORT listener, the connections still queued on it go to the new one instead
   * of being reset. Affects only sockets in a reuseport group, which is what such a group is for.
   */
  private enableAcceptQueueMigration(): void {
    let value: string;
    try {
      value = readFileSync(TCP_MIGRATE_REQ, 'utf8').trim();
    } catch {
      this.opts.logger?.warn(
        { sysctl: TCP_MIGRATE_REQ },
        'kernel without tcp_migrate_req (before 5.14): each router reload may reset a few new connections',
      );
      return;
    }
    if (value !== '0') return;
    try {
      writeFileSync(TCP_MIGRATE_REQ, '1\n');
      this.opts.logger?.info({ sysctl: 'net.ipv4.tcp_migrate_req=1' }, 'router reloads hand queued connections to the new listener');
    } catch (err) {
      this.opts.logger?.warn(
        { sysctl: 'net.ipv4.tcp_migrate_req', error: (err as Error).message },
        'cannot set net.ipv4.tcp_migrate_req=1: each router reload may reset a few new connections (set it as root, or with docker run --sysctl)',
      );
    }
  }

  private async waitForAdmin(deadline: number, gaveUp: () => boolean = () => false): Promise<boolean> {
    while (Date.now() < deadline && !gaveUp()) {
      if (await adminAnswers(this.opts.admin, 500)) return true;
      await sleep(50);
    }
    return false;
  }

  private async admin(method: 'GET', path: string): Promise<unknown> {
    const res = await adminRequest(this.opts.admin, method, path);
    if (res.status !== 200) throw new Error(`caddy admin ${method} ${path}: ${res.status} ${res.body.trim()}`);
    return JSON.parse(res.body || 'null');
  }

  /** The pid from our pid file, if that process is alive and is a Caddy (not a recycled pid). */
  private livePid(): number | undefined {
    let pid: number;
    try {
      pid = Number(readFileSync(this.pidFile, 'utf8').trim());
    } catch {
      return undefined;
    }
    if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('caddy')) return undefined;
    } catch {
      return undefined;
    }
    return pid;
  }

  private logTail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-5).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

const TCP_MIGRATE_REQ = '/proc/sys/net/ipv4/tcp_migrate_req';

/** Alive and not a zombie (a zombie still answers kill 0 until its parent reaps it). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
