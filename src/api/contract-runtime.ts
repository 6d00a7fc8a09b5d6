import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';

/** Releases, deploys, scaling, containers, logs and events (acted on by src/controllers/apps/). */

const ReleaseStatus = T.Union(['pending', 'deploying', 'live', 'failed', 'rolled-back', 'superseded'].map((s) => T.Literal(s)));

export const Release = T.Object({
  id: T.String(),
  version: T.Integer(),
  image: T.String(),
  status: ReleaseStatus,
  reason: T.Union([T.String(), T.Null()]),
  description: T.String(),
  build_id: T.Union([T.String(), T.Null()]),
  current: T.Boolean({ description: 'this is the live release' }),
  config: T.Object({
    replicas: T.Integer(),
    memory: T.Integer(),
    cpu: T.Number(),
    port: T.Integer(),
    strategy: S.Strategy,
    health_check: S.HealthCheck,
    env: T.Record(T.String(), T.String()),
  }),
  created_at: S.Timestamp,
  updated_at: S.Timestamp,
});

export const Container = T.Object({
  id: T.String(),
  name: T.String(),
  app: T.Object({ id: T.String(), slug: T.String() }),
  release: T.Integer(),
  replica: T.Integer(),
  status: T.String({ description: 'starting, healthy, unhealthy, crashed, draining or stopped' }),
  in_rotation: T.Boolean({ description: 'the router sends it traffic' }),
  node: T.String(),
  address: T.Union([T.String(), T.Null()]),
  port: T.Integer(),
  docker_id: T.Union([T.String(), T.Null()]),
  message: T.Union([T.String(), T.Null()]),
  created_at: S.Timestamp,
  updated_at: S.Timestamp,
});

export const LogLine = T.Object({ time: T.String(), stream: T.String(), line: T.String(), container: T.Optional(T.String()) });
const LogQuery = closed({
  tail: T.Optional(T.Integer({ minimum: 1, maximum: 10000, default: 200 })),
  since: T.Optional(T.Integer({ minimum: 0, maximum: 253_402_300_799, description: 'unix seconds' })),
});

export const Event = T.Object({
  id: T.Integer(),
  project_id: T.String(),
  app_id: T.Union([T.String(), T.Null()]),
  kind: T.String(),
  message: T.String(),
  data: T.Union([T.Record(T.String(), T.Any()), T.Null()]),
  created_at: S.Timestamp,
});

const Replicas = T.Integer({ minimum: 0, maximum: 100 });

export const runtimeRoutes = {
  deployApp: {
    method: 'POST',
    path: '/api/v1/apps/:id/deploy',
    summary: 'Deploy an image or a build: makes release vN and rolls it out',
    tag: 'releases',
    status: 201,
    params: IdParam,
    body: closed({
      image_id: T.Optional(T.String({ minLength: 1, maxLength: 512, pattern: '^[^\\s]+$', description: 'an image reference present on the engine' })),
      build_id: T.Optional(T.String({ minLength: 1, maxLength: 128 })),
      replicas: T.Optional(Replicas),
    }),
    response: Release,
  },
  scaleApp: {
    method: 'POST',
    path: '/api/v1/apps/:id/scale',
    summary: 'Set the number of replicas (0 allowed)',
    tag: 'apps',
    params: IdParam,
    body: closed({ replicas: Replicas }),
    response: S.App,
  },
  restartApp: {
    method: 'POST',
    path: '/api/v1/apps/:id/restart',
    summary: 'Rolling restart: each replica is replaced by a fresh one',
    tag: 'apps',
    params: IdParam,
    response: S.App,
  },
  stopApp: {
    method: 'POST',
    path: '/api/v1/apps/:id/stop',
    summary: 'Stop all replicas; the URL answers 503',
    tag: 'apps',
    params: IdParam,
    response: S.App,
  },
  startApp: {
    method: 'POST',
    path: '/api/v1/apps/:id/start',
    summary: 'Start a stopped app again',
    tag: 'apps',
    params: IdParam,
    response: S.App,
  },
  setEnv: {
    method: 'POST',
    path: '/api/v1/apps/:id/env',
    summary: 'Set and unset config vars; makes a new release when the app is deployed',
    tag: 'apps',
    params: IdParam,
    body: closed({
      set: T.Optional(T.Record(S.EnvKey, S.EnvValue, { additionalProperties: false })),
      unset: T.Optional(T.Array(S.EnvKey, { maxItems: 256 })),
      secret: T.Optional(T.Array(S.EnvKey, { maxItems: 256, description: 'keys whose values are secret (encrypted, masked)' })),
    }),
    response: T.Object({ env: T.Record(T.String(), T.String()), secret_env: T.Array(T.String()), release: T.Union([Release, T.Null()]) }),
  },
  listReleases: {
    method: 'GET',
    path: '/api/v1/apps/:id/releases',
    summary: 'Releases, newest first',
    tag: 'releases',
    params: IdParam,
    response: T.Object({ items: T.Array(Release) }),
  },
  getRelease: {
    method: 'GET',
    path: '/api/v1/apps/:id/releases/:version',
    summary: 'One release by version number',
    tag: 'releases',
    params: closed({ id: S.Id, version: S.Counter({ minimum: 1 }) }),
    response: Release,
  },
  rollbackApp: {
    method: 'POST',
    path: '/api/v1/apps/:id/rollback',
    summary: "Make a new release from a previous one's snapshot (default: the last live one before the current)",
    tag: 'releases',
    status: 201,
    params: IdParam,
    body: T.Object({ release: T.Optional(S.Counter({ minimum: 1 })) }, { additionalProperties: false, 'x-empty-ok': true }),
    response: Release,
  },
  listContainers: {
    method: 'GET',
    path: '/api/v1/containers',
    summary: 'Containers of the apps the caller can see',
    tag: 'containers',
    query: closed({ app: T.Optional(S.Id) }),
    response: T.Object({ items: T.Array(Container) }),
  },
  getContainer: {
    method: 'GET',
    path: '/api/v1/containers/:id',
    summary: 'One container',
    tag: 'containers',
    params: IdParam,
    response: Container,
  },
  startContainer: {
    method: 'POST',
    path: '/api/v1/containers/:id/start',
    summary: 'Start one stopped container',
    tag: 'containers',
    params: IdParam,
    response: Container,
  },
  stopContainer: {
    method: 'POST',
    path: '/api/v1/containers/:id/stop',
    summary: 'Stop one container (it is not replaced until started again)',
    tag: 'containers',
    params: IdParam,
    response: Container,
  },
  containerLogs: {
    method: 'GET',
    path: '/api/v1/containers/:id/logs',
    summary: 'Container log lines (follow them over /ws/containers/{id}/logs)',
    tag: 'containers',
    params: IdParam,
    query: LogQuery,
    response: T.Object({ lines: T.Array(LogLine) }),
  },
  appLogs: {
    method: 'GET',
    path: '/api/v1/apps/:id/logs',
    summary: 'Log lines of all replicas, merged by time (follow them over /ws/apps/{id}/logs)',
    tag: 'apps',
    params: IdParam,
    query: LogQuery,
    response: T.Object({ lines: T.Array(LogLine) }),
  },
  listEvents: {
    method: 'GET',
    path: '/api/v1/events',
    summary: 'Recent events of what the caller can see (live over /ws/events)',
    tag: 'events',
    query: closed({
      app: T.Optional(S.Id),
      // Event ids are 64-bit (bigserial on PostgreSQL).
      after: T.Optional(T.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
      limit: T.Optional(T.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    }),
    response: T.Object({ items: T.Array(Event) }),
  },
} as const satisfies Record<string, RouteDef>;
