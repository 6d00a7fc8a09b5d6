import type { Logger } from 'pino';
import type { Clock } from './deps.js';
import { everyBucket } from './bucket-loop.js';
import type { Db } from '../store/db.js';
import type { Containers, ContainerStats } from '../runtime/types.js';
import type { AppStats, ResponseTimes, TrafficCounters } from '../router/types.js';
import { LABEL } from '../runtime/labels.js';
import { WEB } from '../domain/containers.js';
import { containersOfApp } from '../store/containers.js';
import { newestSample, pruneSamples, rollUpSamples, sampledApps, upsertSamples, type MetricRow } from '../store/metrics.js';
import { APP_KEY, COARSE_S, FINE_S, growth, percentiles, pruneBefore, rollupWindow, slotKey, typeKey } from '../domain/metrics.js';

export interface MetricsDeps {
  db: Db;
  log: Logger;
  clock: Clock;
  replicas: Pick<Containers, 'stats' | 'listContainers'>;
  routerStats(app: string): Promise<AppStats | null>;
  /** Response times since the last call, per app slug (router/types.ts); absent: no percentiles. */
  routerTimes?(): Map<string, ResponseTimes>;
  instanceId: string;
}

/** Counters of one backend or server as last read, to turn the next reading into counts over an interval. */
interface Seen {
  requests: number;
  r: [number, number, number, number];
}

const EMPTY: Omit<MetricRow, 'app_id' | 'res' | 't' | 'replica'> = {
  span_s: 0, requests: 0, r2xx: 0, r3xx: 0, r4xx: 0, r5xx: 0, response_ms: null, p50_ms: null, p95_ms: null, p99_ms: null, sessions: null, cpu_percent: null, memory_mb: null, restarts: 0,
};

/** Engine calls at once: `docker stats` takes about a second each. */
const STATS_AT_ONCE = 8;

async function mapLimit<T, R>(items: T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Samples every app, process type and replica slot each 10 s (keys: domain/metrics.ts) (request counts from the router's counters, open
 * connections, average response time, CPU and memory from the engine, restarts), rolls complete
 * minutes up, and prunes what is past its keep. History lives in the store, so it outlives a restart;
 * the counters' last readings do not, so the first pass after a start only takes readings.
 */
export class MetricsController {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;
  private seen = new Map<string, Seen>();
  private restartsSeen = new Map<string, number>();
  private lastAt: number | null = null;
  private lastBucket = -1;
  private rolledTo: number | null = null;

  constructor(private readonly d: MetricsDeps) {}

  start(): void {
    // Just after the next 10 s boundary, so each pass fills its own bucket.
    this.loop = everyBucket(this.d.clock, this.stopping.signal, 200, () => this.pass(), (err) => this.d.log.warn({ err }, 'metrics sampling failed'));
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  /** One sample of everything, then the rollup and pruning they call for. Exposed for tests. */
  async pass(): Promise<void> {
    const nowMs = this.d.clock.now();
    const bucket = Math.floor(nowMs / 1000 / FINE_S) * FINE_S;
    if (bucket === this.lastBucket) return;
    this.lastBucket = bucket;
    await this.sample(nowMs, bucket);
    await this.rollup(Math.floor(nowMs / 1000));
  }

  private async sample(nowMs: number, bucket: number): Promise<void> {
    const first = this.lastAt === null;
    const span = first ? 0 : (nowMs - this.lastAt!) / 1000;
    this.lastAt = nowMs;
    const engine = await this.d.replicas.listContainers({ [LABEL.instance]: this.d.instanceId }).catch(() => []);
    const restartCount = new Map(engine.map((c) => [c.id, c.restartCount]));
    const seen = new Map<string, Seen>();
    const counted = (key: string, c: TrafficCounters) => {
      const now: Seen = { requests: c.requestsTotal, r: [c.responses['2xx'], c.responses['3xx'], c.responses['4xx'], c.responses['5xx']] };
      seen.set(key, now);
      // A counter first seen after the first pass started from zero since then (a new app or replica).
      const before = first ? now : this.seen.get(key) ?? { requests: 0, r: [0, 0, 0, 0] };
      return {
        requests: growth(now.requests, before.requests),
        r2xx: growth(now.r[0], before.r[0]),
        r3xx: growth(now.r[1], before.r[1]),
        r4xx: growth(now.r[2], before.r[2]),
        r5xx: growth(now.r[3], before.r[3]),
      };
    };
    const restartsNow = new Map<string, number>();
    const rows: MetricRow[] = [];
    // The times of the requests answered since the last pass (the first call starts the collection).
    const times = this.d.routerTimes?.() ?? new Map<string, ResponseTimes>();
    const apps = await sampledApps(this.d.db);
    await mapLimit(apps, 4, async (app) => {
      const [stats, containers] = await Promise.all([this.d.routerStats(app.slug).catch(() => null), containersOfApp(this.d.db, app.id)]);
      const running = containers.filter((c) => c.docker_id && c.status !== 'stopped');
      const use = await mapLimit(running, STATS_AT_ONCE, (c) => this.d.replicas.stats(c.docker_id!).catch((): ContainerStats | null => null));
      const row = (replica: string): MetricRow => ({ app_id: app.id, res: FINE_S, t: bucket, replica, ...EMPTY, span_s: span });
      const total = row(APP_KEY);
      // Every process type's replica slots (web's '0', '1', ...; a worker's 'worker/0', ...), then each type's total.
      const slots = new Map<string, MetricRow>();
      const slot = (type: string, i: number) => {
        const key = slotKey(type, i);
        return slots.get(key) ?? slots.set(key, row(key)).get(key)!;
      };
      const types = new Map<string, Set<MetricRow>>();
      running.forEach((c, i) => {
        const s = slot(c.process_type, c.replica);
        (types.get(c.process_type) ?? types.set(c.process_type, new Set()).get(c.process_type)!).add(s);
        const u = use[i];
        if (u) {
          s.cpu_percent = (s.cpu_percent ?? 0) + u.cpuPercent;
          s.memory_mb = (s.memory_mb ?? 0) + u.memoryMb;
        }
        const count = restartCount.get(c.docker_id!);
        if (count !== undefined) {
          restartsNow.set(c.docker_id!, count);
          const before = this.restartsSeen.get(c.docker_id!);
          s.restarts += first || before === undefined ? 0 : growth(count, before);
        }
      });
      // The web replica slot behind each address the router names (its counters and its timed requests).
      const byUpstream = new Map(containers.filter((c) => c.process_type === WEB).map((c) => [`${c.address}:${c.port}`, c.replica]));
      if (stats) {
        Object.assign(total, counted(app.id, stats.total), { sessions: stats.total.currentSessions });
        if (total.requests > 0) total.response_ms = stats.total.responseTimeMs;
        for (const r of stats.replicas) {
          const i = byUpstream.get(r.upstream);
          const n = counted(`${app.id}/${r.upstream}`, r);
          if (i === undefined) continue;
          const s = slot(WEB, i);
          s.requests += n.requests;
          s.r2xx += n.r2xx;
          s.r3xx += n.r3xx;
          s.r4xx += n.r4xx;
          s.r5xx += n.r5xx;
          s.sessions = (s.sessions ?? 0) + r.currentSessions;
          if (n.requests > 0) s.response_ms = r.responseTimeMs;
        }
      }
      const seenTimes = times.get(app.slug);
      if (seenTimes) {
        Object.assign(total, percentiles(seenTimes.all));
        for (const [upstream, ts] of seenTimes.replicas) {
          const i = byUpstream.get(upstream);
          if (i !== undefined) Object.assign(slot(WEB, i), percentiles(ts));
        }
      }
      const sumUse = (into: MetricRow, from: Iterable<MetricRow>) => {
        for (const s of from) {
          into.restarts += s.restarts;
          if (s.cpu_percent !== null) into.cpu_percent = (into.cpu_percent ?? 0) + s.cpu_percent;
          if (s.memory_mb !== null) into.memory_mb = (into.memory_mb ?? 0) + s.memory_mb;
        }
        return into;
      };
      sumUse(total, slots.values());
      const typeRows: MetricRow[] = [];
      for (const [type, of] of types) {
        // Only web takes traffic: its total carries the app's requests, connections and latency.
        if (type !== WEB) typeRows.push(sumUse(row(typeKey(type)), of));
        else if (types.size > 1) typeRows.push(sumUse({ ...total, replica: typeKey(WEB), cpu_percent: null, memory_mb: null, restarts: 0 }, of));
      }
      rows.push(total, ...typeRows, ...slots.values());
    });
    this.seen = seen;
    this.restartsSeen = restartsNow;
    // The first pass after a start only takes readings: its bucket may already hold what the last
    // run counted in the same 10 s, which a row of zeros would overwrite.
    if (first) return;
    // An app deleted meanwhile has no row to reference: keep the others.
    await upsertSamples(this.d.db, rows).catch(async () => {
      for (const r of rows) await upsertSamples(this.d.db, [r]).catch(() => {});
    });
  }

  /** Rolls complete minutes up (again, for the last one: idempotent) and prunes, once a minute. */
  private async rollup(nowS: number): Promise<void> {
    // After a start (or a lease won again), carry on from the newest minute an earlier run rolled up
    // (it is redone, in case that run stopped mid-minute) instead of rewriting the whole last hour.
    if (this.rolledTo === null) {
      const newest = await newestSample(this.d.db, COARSE_S);
      if (newest !== null) this.rolledTo = newest + COARSE_S;
    }
    const w = rollupWindow(nowS, this.rolledTo);
    if (w.to === this.rolledTo) return;
    await rollUpSamples(this.d.db, FINE_S, COARSE_S, w.from, w.to);
    this.rolledTo = w.to;
    const before = pruneBefore(nowS);
    await pruneSamples(this.d.db, FINE_S, before.fine);
    await pruneSamples(this.d.db, COARSE_S, before.coarse);
  }
}
