import type { Handlers } from '../register.js';
import { containersOfApp } from '../../store/containers.js';
import { appFor } from '../access.js';
import { now } from '../../store/db.js';
import type { TrafficCounters } from '../../router/types.js';

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

export const metricsHandlers = {
  async getAppMetrics({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id);
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
    return { app: app.slug, sampled_at: now(), total: traffic(stats?.total ?? ZERO), replicas };
  },
} satisfies Handlers;
