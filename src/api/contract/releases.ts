import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';

/** Releases: deploys make them, rollbacks make them from older ones (rolled out by src/controllers/apps/). */

/** A replica count a deploy or a scale may set. */
export const Replicas = T.Integer({ minimum: 0, maximum: 100 });

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

export const releaseRoutes = {
  deployApp: {
    method: 'POST',
    path: '/api/v1/apps/:id/deploy',
    summary: 'Deploy an image or a build: makes release vN and rolls it out',
    tag: 'releases',
    access: 'developer',
    status: 201,
    params: IdParam,
    body: closed({
      image_id: T.Optional(T.String({ minLength: 1, maxLength: 512, pattern: '^[^\\s]+$', description: 'an image reference present on the engine' })),
      build_id: T.Optional(T.String({ minLength: 1, maxLength: 128 })),
      replicas: T.Optional(Replicas),
    }),
    response: Release,
  },
  listReleases: {
    method: 'GET',
    path: '/api/v1/apps/:id/releases',
    summary: 'Releases, newest first',
    tag: 'releases',
    access: 'viewer',
    params: IdParam,
    response: T.Object({ items: T.Array(Release) }),
  },
  getRelease: {
    method: 'GET',
    path: '/api/v1/apps/:id/releases/:version',
    summary: 'One release by version number',
    tag: 'releases',
    access: 'viewer',
    params: closed({ id: S.Id, version: S.Counter({ minimum: 1 }) }),
    response: Release,
  },
  rollbackApp: {
    method: 'POST',
    path: '/api/v1/apps/:id/rollback',
    summary: "Make a new release from a previous one's snapshot (default: the last live one before the current)",
    tag: 'releases',
    access: 'developer',
    status: 201,
    params: IdParam,
    body: T.Object({ release: T.Optional(S.Counter({ minimum: 1 })) }, { additionalProperties: false, 'x-empty-ok': true }),
    response: Release,
  },
} as const satisfies Record<string, RouteDef>;
