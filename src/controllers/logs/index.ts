import type { ControllerDeps } from '../deps.js';
import type { RoutedRequest } from '../../router/types.js';
import { timeKey } from '../../domain/drains.js';
import { droppedLine } from '../../domain/logs.js';
import { forgetCursors, insertLogLines, logCursors, loggedContainers, type StoredLine } from '../../store/logs.js';
import { LogUsage, pruneLogs } from './retention.js';

const PASS_MS = 2000;
/** A router line whose replica no pass has seen yet waits this long for one that has, then goes under the router. */
const UNPLACED_MS = 10_000;
const UNPLACED_MAX = 10_000;
const FLUSH_MS = 500;
/** A batch this big is written at once rather than at the next tick. */
const FLUSH_LINES = 2000;
const PRUNE_MS = 60_000;
/** A follow that ended (the replica stopped) is tried again at most this often while its row says it runs. */
const REFOLLOW_MS = 4000;
const RUNNING = new Set(['starting', 'healthy', 'running', 'unhealthy', 'draining']);
/**
 * One source's share of the buffer is 1/SHARES of it (a source: an app's replicas, or an app's router
 * lines): an app that floods drops its own lines, and the buffer keeps room for the others (found by review).
 */
const SHARES = 4;
/** The process type, container and release of the router's lines of a request no known replica answered. */
export const ROUTER_TYPE = 'router';

/** Where an app's requests went: its id, and the replica behind each address. */
interface RoutedApp {
  appId: string;
  upstreams: Map<string, { replica: number; container: string; release: number; running: boolean }>;
}

interface Meta {
  appId: string;
  container: string;
  processType: string;
  replica: number;
  release: number;
}

interface Follow {
  meta: Meta;
  abort: AbortController;
  /** The newest engine timestamp taken in (timeKey): lines at or before it are not taken again. */
  last: string;
  endedAt: number | null;
}

/**
 * The log store's collector (docs/logs.md): follows the log of every replica of every app through
 * the runtime, as the drains do, and writes the lines to the database in batches. Following only
 * reads the engine's log, so the store never slows an app: lines wait in one bounded buffer, and
 * when the database falls behind past it, lines are dropped, counted, and a line saying how many
 * is stored in their place. Each container's newest stored time is kept with the lines (its
 * cursor), so a collector started again (a restart, a new leader) reads on from there. Runs on
 * the leader only; also prunes by the retention settings every minute.
 */
export class LogCollector {
  private readonly follows = new Map<string, Follow>();
  private buffer: StoredLine[] = [];
  /** Lines in the buffer per share (shareOf). */
  private readonly held = new Map<string, number>();
  /** Per app slug, as of the last pass: where the router's lines go. */
  private routed = new Map<string, RoutedApp>();
  /** Router lines whose app or replica started after the last pass: placed by the next passes (placeWaiting). */
  private unplaced: { r: RoutedRequest; line: string; time: string; at: number }[] = [];
  /** What each app's kept lines weigh, for the retention pass (summed whole once a term). */
  private readonly usage = new LogUsage();
  private readonly cursors = new Map<string, { docker_id: string; app_id: string; last: string }>();
  /** Per share: lines dropped since the last write, and where the last one was. */
  private readonly dropping = new Map<string, { n: number; at: string; meta: Meta }>();
  private passTimer?: NodeJS.Timeout;
  private flushTimer?: NodeJS.Timeout;
  private pruneTimer?: NodeJS.Timeout;
  private pass: Promise<void> | null = null;
  private flushing: Promise<void> | null = null;
  private stopped = false;
  /** Lines dropped since start (the buffer was full). */
  dropped = 0;
  /** Lines written since start. */
  stored = 0;

  constructor(private readonly ctx: ControllerDeps) {}

  start(): void {
    this.nudge();
    this.flushTimer = setTimeout(() => void this.flushLoop(), FLUSH_MS);
    this.pruneTimer = setTimeout(() => void this.pruneLoop(), PRUNE_MS);
  }

  /** A pass soon: a replica was started (a deploy, a scale). */
  nudge(): void {
    if (this.stopped) return;
    clearTimeout(this.passTimer);
    this.passTimer = setTimeout(() => void this.runPass(), 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.passTimer);
    clearTimeout(this.flushTimer);
    clearTimeout(this.pruneTimer);
    await this.pass;
    for (const f of this.follows.values()) f.abort.abort();
    this.follows.clear();
    // Router lines still waiting for a pass are kept as they stand (under the router when no pass saw their replica).
    this.placeWaiting(Number.POSITIVE_INFINITY);
    await this.flushing;
    await this.flush();
  }

  /** Writes what is buffered now (tests and the bench wait on it). */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async write(): Promise<void> {
    for (const [share, d] of this.dropping) {
      this.buffer.push(row(d.meta, d.at, 'berth', droppedLine(d.n)));
      this.dropping.delete(share);
    }
    if (!this.buffer.length) return;
    const lines = this.buffer;
    const cursors = [...this.cursors.values()];
    this.buffer = [];
    this.held.clear();
    this.cursors.clear();
    try {
      await insertLogLines(this.ctx.db, lines, cursors);
      this.stored += lines.length;
      for (const l of lines) this.usage.add(l.app_id, l.bytes);
    } catch (err) {
      this.ctx.log.warn({ err, lines: lines.length }, 'log lines not written; kept for the next write while the buffer has room');
      const room = Math.max(0, this.ctx.config.logs.bufferLines - this.buffer.length);
      const back = lines.slice(Math.max(0, lines.length - room));
      this.countDropped(lines.slice(0, lines.length - back.length));
      this.buffer = back.concat(this.buffer);
      this.held.clear();
      for (const l of this.buffer) this.held.set(shareOf(l), (this.held.get(shareOf(l)) ?? 0) + 1);
      for (const c of cursors) if (!this.cursors.has(c.docker_id)) this.cursors.set(c.docker_id, c);
    }
  }

  private countDropped(lines: StoredLine[]): void {
    for (const l of lines) {
      if (l.stream === 'berth') continue;
      this.drop({ appId: l.app_id, container: l.container, processType: l.process_type, replica: l.replica, release: l.release }, l.time);
    }
  }

  private drop(meta: Meta, at: string): void {
    this.dropped++;
    const share = shareKey(meta.appId, meta.processType);
    const d = this.dropping.get(share);
    if (d) {
      d.n++;
      d.at = at > d.at ? at : d.at;
      d.meta = meta;
    } else this.dropping.set(share, { n: 1, at, meta });
  }

  /**
   * Buffers a line unless the buffer, or this line's share of it, is full (then it is counted as
   * dropped, and its app gets the "N lines dropped" line with the next write).
   */
  private take(meta: Meta, time: string, stream: string, line: string): boolean {
    const limit = this.ctx.config.logs.bufferLines;
    const share = shareKey(meta.appId, meta.processType);
    const held = this.held.get(share) ?? 0;
    if (this.buffer.length >= limit || held >= Math.max(1, Math.floor(limit / SHARES))) {
      this.drop(meta, time);
      return false;
    }
    this.held.set(share, held + 1);
    this.buffer.push(row(meta, time, stream, line));
    if (this.buffer.length >= FLUSH_LINES) void this.flush();
    return true;
  }

  /**
   * A request the router passed to one of the apps (its access line): kept with the app's lines,
   * process type `router`, replica the slot that answered. Called in the router's reader for every
   * request: a map look-up and a push into the bounded buffer, nothing that waits.
   */
  routerRequest(r: RoutedRequest, line = routerLine(r)): void {
    if (this.stopped) return;
    const now = this.ctx.clock.now();
    const time = timeKey(new Date(now).toISOString());
    // A replica (or app) that started since the last pass: the line waits for a pass that knows it,
    // rather than be filed under the router as replica 0.
    if (!this.routed.get(r.app)?.upstreams.has(r.upstream) && this.unplaced.length < UNPLACED_MAX) {
      this.unplaced.push({ r, line, time, at: now });
      return;
    }
    this.place(r, line, time);
  }

  private place(r: RoutedRequest, line: string, time: string): void {
    const app = this.routed.get(r.app);
    if (!app) return; // no app's: HAProxy's own answer, or an app deleted since
    const to = app.upstreams.get(r.upstream);
    const meta: Meta = { appId: app.appId, container: to?.container ?? ROUTER_TYPE, processType: ROUTER_TYPE, replica: to?.replica ?? 0, release: to?.release ?? 0 };
    this.take(meta, time, 'stdout', line);
  }

  /** After a pass: the waiting router lines whose replica it saw, and those that waited long enough, are filed. */
  private placeWaiting(now: number): void {
    const waiting = this.unplaced;
    this.unplaced = [];
    for (const u of waiting) {
      if (this.routed.get(u.r.app)?.upstreams.has(u.r.upstream) || now - u.at >= UNPLACED_MS) this.place(u.r, u.line, u.time);
      else this.unplaced.push(u);
    }
  }

  private async flushLoop(): Promise<void> {
    await this.flush();
    if (!this.stopped) this.flushTimer = setTimeout(() => void this.flushLoop(), FLUSH_MS);
  }

  private async pruneLoop(): Promise<void> {
    try {
      const gone = await pruneLogs(this.ctx.db, this.ctx.config.logs, this.ctx.clock.now(), this.usage);
      if (gone) this.ctx.log.info({ lines: gone }, 'log lines pruned (retention)');
    } catch (err) {
      this.ctx.log.warn({ err }, 'log retention pass failed');
    }
    if (!this.stopped) this.pruneTimer = setTimeout(() => void this.pruneLoop(), PRUNE_MS);
  }

  private runPass(): Promise<void> {
    this.pass ??= this.once()
      .catch((err) => this.ctx.log.warn({ err }, 'log collector pass failed'))
      .finally(() => {
        this.pass = null;
        if (!this.stopped) this.passTimer = setTimeout(() => void this.runPass(), PASS_MS);
      });
    return this.pass;
  }

  private async once(): Promise<void> {
    const rows = await loggedContainers(this.ctx.db);
    const now = this.ctx.clock.now();
    this.routed = routedApps(rows);
    this.placeWaiting(now);
    const fresh = rows.filter((r) => !this.follows.has(r.docker_id!));
    const stored = await logCursors(this.ctx.db, fresh.map((r) => r.docker_id!));
    const seen = new Set<string>();
    for (const r of rows) {
      const id = r.docker_id!;
      seen.add(id);
      const f = this.follows.get(id);
      if (f && (f.endedAt === null || !RUNNING.has(r.status) || now - f.endedAt < REFOLLOW_MS)) continue;
      if (this.stopped) return;
      const meta: Meta = { appId: r.app_id, container: r.name, processType: r.process_type, replica: r.replica, release: r.version };
      // A container seen for the first time is read from its cursor, or from its start.
      const last = f ? f.last : (stored.get(id) ?? '');
      const since = last ? Math.floor(Date.parse(last) / 1000) : Math.floor(Date.parse(r.created_at) / 1000) - 1;
      this.follow(id, { meta, abort: new AbortController(), last, endedAt: null }, since);
    }
    // A container whose row is gone has been removed: its follow has ended or ends with its log.
    for (const [id, f] of this.follows) if (!seen.has(id) && f.endedAt !== null) this.follows.delete(id);
    await forgetCursors(this.ctx.db, [...seen]);
  }

  private follow(dockerId: string, f: Follow, since: number): void {
    this.follows.set(dockerId, f);
    // Only what was stored before this follow began is skipped (the engine re-sends from a whole
    // second): within one follow, stdout and stderr lines may come slightly out of time order, and
    // skipping on the moving cursor dropped them (found by review).
    const resumeFrom = f.last;
    void (async () => {
      try {
        for await (const l of this.ctx.replicas.logs(dockerId, { follow: true, since: Math.max(0, since), signal: f.abort.signal })) {
          const key = timeKey(l.time || new Date(this.ctx.clock.now()).toISOString());
          if (resumeFrom && key <= resumeFrom) continue;
          if (key > f.last) f.last = key;
          if (this.take(f.meta, key, l.stream, l.line)) this.cursors.set(dockerId, { docker_id: dockerId, app_id: f.meta.appId, last: f.last });
        }
      } catch (err) {
        if (!f.abort.signal.aborted) this.ctx.log.debug({ err, dockerId }, 'log store follow ended');
      } finally {
        f.endedAt = this.ctx.clock.now();
      }
    })();
  }
}

const shareKey = (appId: string, processType: string) => (processType === ROUTER_TYPE ? `${appId}/${ROUTER_TYPE}` : appId);
const shareOf = (l: StoredLine) => shareKey(l.app_id, l.process_type);

function row(m: Meta, time: string, stream: string, raw: string): StoredLine {
  // PostgreSQL's text cannot hold a NUL byte (the whole batch would fail): U+FFFD stands for it, on both stores alike.
  const line = raw.includes('\0') ? raw.replaceAll('\0', '\uFFFD') : raw;
  return { app_id: m.appId, time, stream, process_type: m.processType, replica: m.replica, release: m.release, container: m.container, line, bytes: Buffer.byteLength(line) };
}

/** A router line: the request, its status, size and times, and who asked (docs/logs.md, "Router lines"). */
export const routerLine = (r: RoutedRequest) =>
  `${r.request} status=${r.status} bytes=${r.bytes} connect=${r.connectMs}ms service=${r.serviceMs}ms total=${r.totalMs}ms client=${r.client}`;

/** Per app slug: the app and the replica behind each address, a running container before a stopped one at the same address. */
function routedApps(rows: Awaited<ReturnType<typeof loggedContainers>>): Map<string, RoutedApp> {
  const out = new Map<string, RoutedApp>();
  for (const r of rows) {
    let app = out.get(r.slug);
    if (!app) out.set(r.slug, (app = { appId: r.app_id, upstreams: new Map() }));
    if (!r.address || r.port == null || r.process_type !== 'web') continue;
    // As the metrics pass names them (controllers/metrics.ts): the router's %si:%sp.
    const key = `${r.address}:${r.port}`;
    const running = RUNNING.has(r.status);
    if (app.upstreams.get(key)?.running && !running) continue;
    app.upstreams.set(key, { replica: r.replica, container: r.name, release: r.version, running });
  }
  return out;
}
