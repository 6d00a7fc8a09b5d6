import type { Handlers } from '../register.js';
import type { ApiContext } from '../context.js';
import { containersOfApp } from '../../store/containers.js';
import { appFor } from '../access.js';
import { now } from '../../store/db.js';
import type { TrafficCounters } from '../../router/types.js';
import { badRequest } from '../errors.js';
import { bucketsOf, releaseTimes, typesSampled } from '../../store/metrics.js';
import { COARSE_KEEP_S, defaultStep, keysFor, resolutionFor, toSeries } from '../../domain/metrics.js';
import { appProcesses } from '../../domain/processes.js';
import { WEB } from '../../domain/containers.js';
import type { AppRow } from '../../store/apps.js';
import { prometheusText } from './prometheus.js';

const ZERO: TrafficCounters = {
  reqRate: 0,
  requestsTotal: 0,
  responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, other: 0 },
  currentSessions: 0,
  queueTimeMs: 0,
  connectTimeMs: 0,
  responseTimeMs: 0,
  totalTimeMs: 0,
};

function traffic(c: TrafficCounters) {
  return {
    requests_per_s: c.reqRate,
    requests_total: c.requestsTotal,
    responses: c.responses,
    current_sessions: c.currentSessions,
    avg_ms: { queue: c.queueTimeMs, connect: c.connectTimeMs, response: c.responseTimeMs, total: c.totalTimeMs },
  };
}

/** A query time: Unix seconds or an ISO 8601 time. */
function instant(v: string | undefined, field: string, dflt: number): number {
  if (v === undefined) return dflt;
  const ms = /^\d{1,12}(\.\d+)?$/.test(v) ? Number(v) * 1000 : Date.parse(v);
  if (!Number.isFinite(ms)) throw badRequest(`${field} must be an ISO 8601 time or Unix seconds`, field);
  return Math.floor(ms / 1000);
}

const MAX_POINTS = 2000;

/** The stored buckets of [from, to) at `step` of the app, a process type or a replica, and the releases made then. */
async function history(ctx: ApiContext, app: Pick<AppRow, 'id' | 'release_id'>, q: { from?: string; to?: string; step?: number; type?: string; replica?: number }) {
  const appId = app.id;
  const nowS = Math.floor(Date.now() / 1000);
  const to = instant(q.to, 'to', nowS);
  const from = instant(q.from, 'from', to - 3600);
  if (from >= to) throw badRequest('from must be before to', 'from');
  if (to > nowS + 86_400) throw badRequest('to is more than a day from now', 'to');
  if (to - from > COARSE_KEEP_S + 86_400) throw badRequest('the range is at most 15 days (history is kept 14)', 'from');
  if (q.step !== undefined && q.step % 10 !== 0) throw badRequest('step must be a multiple of 10 seconds', 'step');
  const asked = q.step ?? defaultStep(to - from);
  const res = resolutionFor(nowS, from, asked);
  // Buckets are made of whole stored buckets: a step finer than the stored resolution is rounded up to it.
  const step = Math.ceil(asked / res) * res;
  if ((to - from) / step > MAX_POINTS) throw badRequest(`at most ${MAX_POINTS} points: make step at least ${Math.ceil((to - from) / MAX_POINTS / 10) * 10}`, 'step');
  const start = Math.floor(from / step) * step;
  const sampled = await typesSampled(ctx.db, appId, res, start, to);
  const types = [WEB, ...[...new Set([...Object.keys(await appProcesses(ctx.db, app)), ...sampled])].filter((x) => x !== WEB).sort()];
  if (q.type !== undefined && !types.includes(q.type)) throw badRequest(`the app has no process type ${q.type} (it has ${types.join(', ')})`, 'type');
  const keys = keysFor(q.type, q.replica);
  const rows = await bucketsOf(ctx.db, appId, res, start, to, step, keys.select);
  const iso = (s: number) => new Date(s * 1000).toISOString();
  const deploys = await releaseTimes(ctx.db, appId, iso(start), iso(to));
  return {
    from: iso(start),
    to: iso(to),
    step,
    resolution: res,
    ...toSeries(rows, start, to, step, res, keys.total),
    type: q.type ?? (q.replica !== undefined ? WEB : null),
    process_types: types,
    deploys: deploys.map((d) => ({ version: d.version, at: d.created_at, status: d.status })),
  };
}

export const metricsHandlers = {
  async getPrometheusMetrics({ user }, ctx) {
    return prometheusText(ctx.db, user.id, Math.floor(Date.now() / 1000));
  },
  async getAppMetrics({ user, params, query }, ctx) {
    const app = await appFor(ctx, user, params.id);
    const hist = await history(ctx, app, query);
    const [stats, containers] = await Promise.all([
      ctx.routerStats(app.slug),
      containersOfApp(ctx.db, app.id),
    ]);
    const byUpstream = new Map(containers.map((c) => [`${c.address}:${c.port}`, c]));
    const replicas = await Promise.all(
      (stats?.replicas ?? []).map(async (r) => {
        const c = byUpstream.get(r.upstream);
        // One engine sample per replica, in parallel; a container gone meanwhile just has no figures.
        const use = c?.docker_id ? await ctx.runtime.stats(c.docker_id).catch(() => null) : null;
        return {
          container: c?.id ?? null,
          name: c?.name ?? null,
          cpu_percent: use?.cpuPercent ?? null,
          memory_mb: use?.memoryMb ?? null,
          upstream: r.upstream,
          status: r.status,
          ...traffic(r),
        };
      }),
    );
    return { app: app.slug, sampled_at: now(), history: hist, total: traffic(stats?.total ?? ZERO), replicas };
  },
} satisfies Handlers;
