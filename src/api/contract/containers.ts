import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';

/** Containers (replicas) and their logs. */

export const Container = T.Object({
  id: T.String(),
  name: T.String(),
  app: T.Object({ id: T.String(), slug: T.String() }),
  release: T.Integer(),
  replica: T.Integer(),
  process_type: T.String({ description: 'the Procfile process type it runs: web (routed) or another (worker, ...)' }),
  status: T.String({ description: 'starting, healthy (web, passing its check), running (another process type, up), unhealthy, crashed, draining or stopped' }),
  in_rotation: T.Boolean({ description: 'the router sends it traffic' }),
  node: T.String(),
  address: T.Union([T.String(), T.Null()]),
  port: T.Integer(),
  docker_id: T.Union([T.String(), T.Null()]),
  message: T.Union([T.String(), T.Null()]),
  created_at: S.Timestamp,
  updated_at: S.Timestamp,
});

export const LogLine = T.Object({
  time: T.String(),
  stream: T.String({ description: 'stdout, stderr, or berth (a line Berth added: lines the log store had to drop)' }),
  line: T.String(),
  container: T.Optional(T.String()),
  process_type: T.Optional(T.String()),
  replica: T.Optional(T.Integer()),
  release: T.Optional(T.Integer({ description: 'the release version the replica ran' })),
});
const LogQuery = closed({
  tail: T.Optional(T.Integer({ minimum: 1, maximum: 10000, default: 200 })),
  since: T.Optional(T.Integer({ minimum: 0, maximum: 253_402_300_799, description: 'unix seconds' })),
});
const LogTime = T.String({ maxLength: 40, description: 'a time: 2h, 30m, 7d, 45s (that long ago), ISO 8601 with a zone, or unix seconds' });
/** The kept log's query (docs/api.md, "Logs"). */
const StoredLogQuery = closed({
  since: T.Optional(LogTime),
  until: T.Optional(LogTime),
  grep: T.Optional(T.String({ minLength: 1, maxLength: 200, description: 'plain text, matched case-insensitively anywhere in the line' })),
  type: T.Optional(T.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,29}$', description: 'process type (web, worker, ...), or router: the router’s line for each request (docs/logs.md)' })),
  replica: T.Optional(T.Integer({ minimum: 0, maximum: 10000 })),
  limit: T.Optional(T.Integer({ minimum: 1, maximum: 10000, description: 'lines per page (default 200)' })),
  tail: T.Optional(T.Integer({ minimum: 1, maximum: 10000, description: 'the same as limit (older clients)' })),
  before: T.Optional(T.String({ maxLength: 64, description: 'the `before` of the previous page: the page of older lines' })),
});

export const containerRoutes = {
  listContainers: {
    method: 'GET',
    path: '/api/v1/containers',
    summary: 'Containers of the apps the caller can see',
    tag: 'containers',
    access: 'viewer',
    query: closed({ app: T.Optional(S.Id) }),
    response: T.Object({ items: T.Array(Container) }),
  },
  getContainer: {
    method: 'GET',
    path: '/api/v1/containers/:id',
    summary: 'One container',
    tag: 'containers',
    access: 'viewer',
    params: IdParam,
    response: Container,
  },
  startContainer: {
    method: 'POST',
    path: '/api/v1/containers/:id/start',
    summary: 'Start one stopped container',
    tag: 'containers',
    access: 'developer',
    params: IdParam,
    response: Container,
  },
  stopContainer: {
    method: 'POST',
    path: '/api/v1/containers/:id/stop',
    summary: 'Stop one container (it is not replaced until started again)',
    tag: 'containers',
    access: 'developer',
    params: IdParam,
    response: Container,
  },
  containerLogs: {
    method: 'GET',
    path: '/api/v1/containers/:id/logs',
    summary: 'Container log lines (follow them over /ws/containers/{id}/logs)',
    tag: 'containers',
    access: 'viewer',
    params: IdParam,
    query: LogQuery,
    response: T.Object({ lines: T.Array(LogLine) }),
  },
  appLogs: {
    method: 'GET',
    path: '/api/v1/apps/:id/logs',
    summary:
      'Kept log lines of every replica, past and present, newest last: the newest `limit` matching lines, and `before` for the page of older ones (follow live over /ws/apps/{id}/logs)',
    tag: 'apps',
    access: 'viewer',
    params: IdParam,
    query: StoredLogQuery,
    response: T.Object({
      lines: T.Array(LogLine),
      before: T.Union([T.String(), T.Null()], { description: 'pass as ?before= for the older page; null when there is none' }),
    }),
  },
} as const satisfies Record<string, RouteDef>;
