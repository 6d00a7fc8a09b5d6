import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, type RouteDef } from './route-def.js';

/** Traffic counters from the edge router's own statistics (HAProxy), for the app or one replica. */
export const Traffic = T.Object({
  /** Requests per second over the router's last second. */
  requests_per_s: T.Number(),
  /** Requests since the app (or replica) took its place in the router. */
  requests_total: T.Integer(),
  responses: T.Object({
    '1xx': T.Integer(),
    '2xx': T.Integer(),
    '3xx': T.Integer(),
    '4xx': T.Integer(),
    '5xx': T.Integer(),
    other: T.Integer(),
  }),
  /** Requests, WebSockets and streams open right now. */
  current_sessions: T.Integer(),
  /** Averages over the last 1,024 requests, in milliseconds. */
  avg_ms: T.Object({ queue: T.Number(), connect: T.Number(), response: T.Number(), total: T.Number() }),
});

export const AppMetrics = T.Object({
  app: T.String(),
  sampled_at: S.Timestamp,
  total: Traffic,
  replicas: T.Array(
    T.Composite([
      T.Object({
        /** The container behind this upstream, when Berth knows it: its id and name. */
        container: T.Union([T.String(), T.Null()]),
        name: T.Union([T.String(), T.Null()]),
        /** From the container engine's stats (one sample): share of one core, 100 = one core busy. Null when unknown. */
        cpu_percent: T.Union([T.Number(), T.Null()]),
        /** Memory in use, page cache left out, as `docker stats` shows it. Null when unknown. */
        memory_mb: T.Union([T.Number(), T.Null()]),
        upstream: T.String(),
        /** The router's view: UP, DOWN (failing health checks), DRAIN (leaving rotation), MAINT. */
        status: T.String(),
      }),
      Traffic,
    ]),
  ),
});

export const metricsRoutes = {
  getAppMetrics: {
    method: 'GET',
    path: '/api/v1/apps/:id/metrics',
    summary: "An app's traffic as the edge router counts it (request rate, responses by class, open sessions, response times) and each replica's CPU and memory",
    tag: 'apps',
    access: 'viewer',
    params: IdParam,
    response: AppMetrics,
  },
} as const satisfies Record<string, RouteDef>;
