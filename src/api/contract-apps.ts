import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';
import { Release, Replicas } from './contract-releases.js';

/** Apps: their desired config, and the actions on it (scale, restart, stop, start, config vars). */

export const appRoutes = {
  listApps: {
    method: 'GET',
    path: '/api/v1/apps',
    summary: 'List apps the caller can see',
    tag: 'apps',
    query: T.Composite([S.Page, T.Object({ project: T.Optional(S.Id) })], { additionalProperties: false }),
    response: S.paged(S.App),
  },
  createApp: {
    method: 'POST',
    path: '/api/v1/apps',
    summary: 'Create an app (in the caller’s default project unless one is named)',
    tag: 'apps',
    status: 201,
    body: closed({
      name: S.DnsLabel,
      slug: T.Optional(S.DnsLabel),
      project: T.Optional(S.Id),
      image: T.Optional(S.AppConfigFields.image),
      replicas: T.Optional(S.AppConfigFields.replicas),
      memory: T.Optional(S.AppConfigFields.memory),
      cpu: T.Optional(S.AppConfigFields.cpu),
      port: T.Optional(S.AppConfigFields.port),
      strategy: T.Optional(S.AppConfigFields.strategy),
      health_check: T.Optional(S.AppConfigFields.health_check),
      drain_timeout_s: T.Optional(S.AppConfigFields.drain_timeout_s),
      auto_deploy: T.Optional(T.Boolean()),
    }),
    response: S.App,
  },
  getApp: {
    method: 'GET',
    path: '/api/v1/apps/:id',
    summary: 'Get an app by id or slug',
    tag: 'apps',
    params: IdParam,
    response: S.App,
  },
  updateApp: {
    method: 'PUT',
    path: '/api/v1/apps/:id',
    summary: 'Update an app’s name or config',
    tag: 'apps',
    params: IdParam,
    body: S.AppUpdate,
    response: S.App,
  },
  deleteApp: {
    method: 'DELETE',
    path: '/api/v1/apps/:id',
    summary: 'Delete an app and everything it runs (its volumes are kept unless with_volumes)',
    tag: 'apps',
    params: IdParam,
    query: T.Object(
      { with_volumes: T.Optional(T.Boolean({ description: 'also delete the volumes it mounts that no other app mounts' })) },
      { additionalProperties: false },
    ),
    response: S.Ok,
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
} as const satisfies Record<string, RouteDef>;
