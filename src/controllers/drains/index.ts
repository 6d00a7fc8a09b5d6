import type { ControllerDeps } from '../deps.js';
import type { RoutedRequest } from '../../router/types.js';
import { buildById } from '../../store/builds.js';
import { timeKey, type DrainLine } from '../../domain/drains.js';
import { allDrains, drainedContainers, recordDrainStatus, type DrainRow } from '../../store/drains.js';
import { DrainSender } from './sender.js';
import { HttpsTransport, SyslogTransport } from './transports.js';

const PASS_MS = 2000;
/** A follow that ended (the replica stopped) is tried again at most this often while its row says it runs. */
const REFOLLOW_MS = 4000;
const RUNNING = new Set(['starting', 'healthy', 'running', 'unhealthy', 'draining']);

interface Follow {
  appId: string;
  abort: AbortController;
  /** The newest engine timestamp sent on (as timeKey): a follow started again skips what it already sent. */
  last: string;
  endedAt: number | null;
}

/**
 * Log drains: desired state is the `log_drains` rows; this runner keeps one sender per drain and
 * follows the log of every replica of a drained app through the runtime (as the logs WebSocket
 * does), handing each line to that app's senders. Following only reads the engine's log: a slow
 * or absent receiver never blocks an app (its lines wait in the sender's bounded buffer, then are
 * dropped and counted). Replicas are picked up by a pass every 2 s and when the API nudges; a
 * replica's lines are sent from its start, or from the runner's start for replicas that were
 * already running (lines logged while the control plane was down are not sent).
 */
export class DrainController {
  private readonly senders = new Map<string, { appId: string; slug: string; sender: DrainSender }>();
  private readonly follows = new Map<string, Follow>();
  private timer?: NodeJS.Timeout;
  private pass: Promise<void> | null = null;
  private stopped = false;
  private readonly startedAt: number;
  /** Per app id: the web replica behind each address the router names (for router lines). */
  private upstreams = new Map<string, Map<string, number>>();
  /** The app and number of builds whose lines came lately (a build writes many batches). */
  private readonly builds = new Map<string, Promise<{ appId: string; number: number } | null>>();
  private unsubscribe?: () => void;

  constructor(private readonly ctx: ControllerDeps) {
    this.startedAt = ctx.clock.now();
  }

  start(): void {
    this.unsubscribe = this.ctx.buildLogs.onWritten((id, lines) => void this.buildLines(id, lines));
    this.nudge();
  }

  /** A request the router passed to an app: sent to the app's drains as a `router` line. */
  routerRequest(r: RoutedRequest, line: string): void {
    if (this.stopped) return;
    let replica: number | undefined;
    for (const s of this.senders.values()) {
      if (s.slug !== r.app) continue;
      replica ??= this.upstreams.get(s.appId)?.get(r.upstream) ?? 0;
      s.sender.push({ time: new Date(this.ctx.clock.now()).toISOString(), app: s.slug, process_type: 'router', replica, stream: 'stdout', line, source: 'router' });
    }
  }

  /** A build's lines, once stored: sent to its app's drains as `build` lines, replica the build's number. */
  private async buildLines(buildId: string, lines: { line: string; created_at: string }[]): Promise<void> {
    if (this.stopped || !this.senders.size) return;
    let b = this.builds.get(buildId);
    if (!b) {
      b = buildById(this.ctx.db, buildId).then(
        (row) => (row ? { appId: row.app_id, number: row.number } : null),
        () => null,
      );
      // A few builds run at once: the oldest looked-up one is forgotten first.
      if (this.builds.size >= 64) this.builds.delete(this.builds.keys().next().value!);
      this.builds.set(buildId, b);
    }
    const build = await b;
    if (!build) return;
    for (const s of this.senders.values()) {
      if (s.appId !== build.appId) continue;
      for (const l of lines) s.sender.push({ time: l.created_at, app: s.slug, process_type: 'build', replica: build.number, stream: 'stdout', line: l.line, source: 'build' });
    }
  }

  /** A pass soon (an API change of drains). */
  nudge(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.runPass(), 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    await this.pass;
    for (const f of this.follows.values()) f.abort.abort();
    this.follows.clear();
    await this.writeStatus();
    for (const s of this.senders.values()) s.sender.stop();
    this.senders.clear();
  }

  private runPass(): Promise<void> {
    this.pass ??= this.once()
      .catch((err) => this.ctx.log.warn({ err }, 'log drain pass failed'))
      .finally(() => {
        this.pass = null;
        if (!this.stopped) this.timer = setTimeout(() => void this.runPass(), PASS_MS);
      });
    return this.pass;
  }

  private async once(): Promise<void> {
    const drains = await allDrains(this.ctx.db);
    this.syncSenders(drains);
    await this.writeStatus();
    await this.syncFollows(drains);
  }

  /** One drain that cannot start (its sealed URL does not open) is logged; the others go on. */
  private syncSenders(drains: (DrainRow & { slug: string })[]): void {
    const want = new Map(drains.map((d) => [d.id, d]));
    for (const [id, s] of this.senders) {
      const d = want.get(id);
      // A changed slug relabels lines; a removed drain stops (its buffered lines go with it).
      if (!d || d.slug !== s.slug) {
        s.sender.stop();
        this.senders.delete(id);
      }
    }
    const c = this.ctx.config.drains;
    for (const d of drains) {
      if (this.senders.has(d.id)) continue;
      let url: string;
      try {
        url = this.ctx.secrets.open(d.url_sealed);
      } catch (err) {
        this.ctx.log.warn({ err, drain: d.id }, 'log drain URL does not open; the drain is not started');
        continue;
      }
      const o = { url, ca: d.ca_pem, egress: this.ctx.config.egressAllow };
      const transport = d.kind === 'syslog' ? new SyslogTransport(o) : new HttpsTransport(o);
      const sender = new DrainSender(transport, {
        bufferLines: c.bufferLines,
        bufferBytes: c.bufferBytes,
        batchLines: 500,
        batchWaitMs: d.kind === 'https' ? 1000 : 0,
        retryBaseMs: c.retryBaseMs,
        retryMaxMs: c.retryMaxMs,
        clock: this.ctx.clock,
      }, { last_success_at: d.last_success_at, last_error: d.last_error, last_error_at: d.last_error_at, sent: d.sent, dropped: d.dropped });
      sender.start();
      this.senders.set(d.id, { appId: d.app_id, slug: d.slug, sender });
    }
  }

  private async syncFollows(drains: (DrainRow & { slug: string })[]): Promise<void> {
    const firstDrain = new Map<string, number>();
    for (const d of drains) firstDrain.set(d.app_id, Math.min(firstDrain.get(d.app_id) ?? Infinity, Date.parse(d.created_at)));
    const rows = await drainedContainers(this.ctx.db);
    const upstreams = new Map<string, Map<string, number>>();
    for (const r of rows) {
      if (r.process_type !== 'web' || !r.address || !RUNNING.has(r.status)) continue;
      if (!upstreams.has(r.app_id)) upstreams.set(r.app_id, new Map());
      upstreams.get(r.app_id)!.set(`${r.address}:${r.port}`, r.replica);
    }
    this.upstreams = upstreams;
    const seen = new Set<string>();
    const now = this.ctx.clock.now();
    for (const r of rows) {
      const id = r.docker_id!;
      seen.add(id);
      const f = this.follows.get(id);
      if (f && (f.endedAt === null || !RUNNING.has(r.status) || now - f.endedAt < REFOLLOW_MS)) continue;
      const from = f ? f.last : timeKey(new Date(Math.max(Date.parse(r.created_at), firstDrain.get(r.app_id) ?? 0, this.startedAt)).toISOString());
      this.follow(id, { appId: r.app_id, abort: new AbortController(), last: from, endedAt: null }, r.process_type, r.replica);
    }
    for (const [id, f] of this.follows) {
      if (seen.has(id)) continue;
      f.abort.abort();
      this.follows.delete(id);
    }
  }

  private follow(dockerId: string, f: Follow, processType: string, replica: number): void {
    this.follows.set(dockerId, f);
    void (async () => {
      try {
        const since = Math.floor(Date.parse(f.last) / 1000);
        for await (const l of this.ctx.replicas.logs(dockerId, { follow: true, since, signal: f.abort.signal })) {
          const key = l.time ? timeKey(l.time) : '';
          if (key && key <= f.last) continue;
          if (key) f.last = key;
          const line: Omit<DrainLine, 'app'> = { time: l.time || new Date(this.ctx.clock.now()).toISOString(), process_type: processType, replica, stream: l.stream, line: l.line };
          for (const s of this.senders.values()) if (s.appId === f.appId) s.sender.push({ ...line, app: s.slug });
        }
      } catch (err) {
        if (!f.abort.signal.aborted) this.ctx.log.debug({ err, dockerId }, 'log drain follow ended');
      } finally {
        f.endedAt = this.ctx.clock.now();
      }
    })();
  }

  /**
   * Writes the senders' changed status: the API reads it from the database. A drain whose write
   * fails is logged and tried again next pass; it must not keep the others' status, or the pass's
   * following of new replicas, from happening.
   */
  private async writeStatus(): Promise<void> {
    for (const [id, s] of this.senders) {
      if (!s.sender.dirty) continue;
      s.sender.dirty = false;
      try {
        await recordDrainStatus(this.ctx.db, id, { ...s.sender.status });
      } catch (err) {
        s.sender.dirty = true;
        this.ctx.log.warn({ err, drain: id }, 'log drain status not written');
      }
    }
  }
}
