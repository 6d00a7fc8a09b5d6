import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { closed, IdParam, type RouteDef } from './route-def.js';

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

const Values = T.Array(T.Union([T.Number(), T.Null()]), { description: 'One value per bucket of `t`; null where nothing was sampled' });

/** One line of a chart: the whole app, one process type's total, or one replica slot, bucket by bucket. */
export const MetricSeries = T.Object({
  /** The process type (`web`, `worker`, ...) the line is about; null for the whole app (every type). */
  type: T.Union([T.String(), T.Null()]),
  /** The replica's index within its type (0, 1, ...; old and new containers of a rollout share it); null for a total. */
  replica: T.Union([T.Integer(), T.Null()]),
  /** Requests per second (web only: the other types take no traffic): requests counted in the bucket over the seconds it covers (a rate, not a counter). */
  requests_per_s: Values,
  /** Responses per second by class. */
  responses_per_s: T.Object({ '2xx': Values, '3xx': Values, '4xx': Values, '5xx': Values }),
  /** Responses counted in the bucket by class (so a chart or alert can say "3 errors"). */
  responses: T.Object({ '2xx': Values, '3xx': Values, '4xx': Values, '5xx': Values }),
  /**
   * HAProxy's average response time in ms (its `rtime`: the mean of the last 1,024 requests, as read
   * each 10 s while requests came), averaged over the bucket. Not a percentile: HAProxy's statistics
   * carry none.
   */
  response_ms_avg: Values,
  /**
   * Response-time percentiles in ms (nearest rank over the bucket's requests, each request's total
   * time in the router, from HAProxy's per-request log; a sample of up to 4,096 per 10 s). A bucket
   * wider than the stored resolution shows the highest of the buckets it covers.
   */
  response_ms_p50: Values,
  response_ms_p95: Values,
  response_ms_p99: Values,
  /** Open connections (requests in flight, WebSockets, streams), averaged over the bucket. */
  open_connections: Values,
  /** CPU, 100 = one core busy, averaged over the bucket. */
  cpu_percent: Values,
  /** Memory in use (page cache left out), averaged over the bucket. */
  memory_mb: Values,
  /** Times the engine restarted a crashed container in the bucket. */
  restarts: Values,
});

export const MetricsHistory = T.Object({
  from: S.Timestamp,
  to: S.Timestamp,
  /** Bucket width in seconds. */
  step: T.Integer(),
  /** The stored resolution the buckets were made from: 10 (the last hour) or 60 (14 days). */
  resolution: T.Integer(),
  /** Each bucket's start, Unix seconds. */
  t: T.Array(T.Integer()),
  series: T.Array(MetricSeries),
  /** The process type asked for (`type`, or web when only `replica` was); null: the whole app and its web replicas. */
  type: T.Union([T.String(), T.Null()]),
  /** The app's process types (its release's, and any with history in the range), web first: what `type` may be. */
  process_types: T.Array(T.String()),
  /** Releases made in the range, for deploy markers. */
  deploys: T.Array(T.Object({ version: T.Integer(), at: S.Timestamp, status: T.String() })),
});

export const AppMetrics = T.Object({
  app: T.String(),
  sampled_at: S.Timestamp,
  /** Sampled every 10 s by the control plane and kept (10 s buckets for an hour, 1 min for 14 days). */
  history: MetricsHistory,
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
    summary: "An app's traffic as the edge router counts it now (responses by class, open sessions, response times) and each replica's CPU and memory, with its sampled history (`from`, `to`, `step`)",
    tag: 'apps',
    access: 'viewer',
    params: IdParam,
    query: closed({
      from: T.Optional(T.String({ maxLength: 40, description: 'Start of the history: an ISO 8601 time or Unix seconds (default: an hour before `to`)' })),
      to: T.Optional(T.String({ maxLength: 40, description: 'End of the history (default: now)' })),
      step: T.Optional(T.Integer({ minimum: 10, maximum: 86_400, description: 'Bucket width in seconds, a multiple of 10 (default: about 300 points)' })),
      type: T.Optional(
        T.String({
          minLength: 1,
          maxLength: 30,
          pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,29}$',
          description: "A process type of the app (web, worker, ...): the history of that type's total and of each of its replicas (default: the whole app and its web replicas)",
        }),
      ),
      replica: T.Optional(T.Integer({ minimum: 0, maximum: 9999, description: 'One replica of `type` (default web): the history of that replica alone' })),
    }),
    response: AppMetrics,
  },
  getPrometheusMetrics: {
    method: 'GET',
    path: '/api/v1/metrics',
    summary: "The latest 10 s sample of every app the caller can see, in Prometheus' text format (scrape with a bearer token)",
    tag: 'apps',
    access: 'user',
    response: T.String({ description: 'Prometheus text exposition format 0.0.4' }),
    produces: 'text/plain; version=0.0.4; charset=utf-8',
  },
} as const satisfies Record<string, RouteDef>;
