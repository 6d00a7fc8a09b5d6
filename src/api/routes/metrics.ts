import type { Handlers } from '../register.js';
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
      ctx.db.selectFrom('containers').select(['id', 'address', 'port']).where('app_id', '=', app.id).execute(),
    ]);
    const byUpstream = new Map(containers.map((c) => [`${c.address}:${c.port}`, c.id]));
    return {
      app: app.slug,
      sampled_at: now(),
      total: traffic(stats?.total ?? ZERO),
      replicas: (stats?.replicas ?? []).map((r) => ({
        container: byUpstream.get(r.upstream) ?? null,
        upstream: r.upstream,
        status: r.status,
        ...traffic(r),
      })),
    };
  },
} satisfies Handlers;
