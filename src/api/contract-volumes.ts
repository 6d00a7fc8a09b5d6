import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';

/** Volumes: Berth-managed named engine volumes of a project, mounted into its apps by name. */

export const Volume = T.Object({
  id: T.String(),
  name: T.String(),
  project: T.Object({ id: T.String(), name: T.String() }),
  /** Recorded; the engine's local driver does not enforce a size. */
  size_mb: T.Union([T.Integer(), T.Null()]),
  /** The engine volume's name (docker volume inspect NAME). */
  engine_name: T.String(),
  /** Slugs of the apps whose config mounts it. */
  mounted_by: T.Array(T.String()),
  created_at: S.Timestamp,
});

export const volumeRoutes = {
  listVolumes: {
    method: 'GET',
    path: '/api/v1/volumes',
    summary: 'List the volumes of the projects the caller is a member of',
    tag: 'volumes',
    query: T.Object({ project: T.Optional(S.Id) }, { additionalProperties: false }),
    response: T.Object({ items: T.Array(Volume) }),
  },
  createVolume: {
    method: 'POST',
    path: '/api/v1/volumes',
    summary: 'Create a volume in a project (the engine volume is made when an app first mounts it)',
    tag: 'volumes',
    status: 201,
    body: closed({
      name: S.DnsLabel,
      project: T.Optional(S.Id),
      size_mb: T.Optional(T.Integer({ minimum: 1, maximum: 16_777_216, description: 'MB; recorded, not enforced by the local driver' })),
    }),
    response: Volume,
  },
  getVolume: {
    method: 'GET',
    path: '/api/v1/volumes/:id',
    summary: 'Get a volume by id (or by name, with ?project=)',
    tag: 'volumes',
    params: IdParam,
    query: T.Object({ project: T.Optional(S.Id) }, { additionalProperties: false }),
    response: Volume,
  },
  deleteVolume: {
    method: 'DELETE',
    path: '/api/v1/volumes/:id',
    summary: 'Delete a volume and its data; refused while an app’s config mounts it',
    tag: 'volumes',
    params: IdParam,
    query: T.Object({ project: T.Optional(S.Id) }, { additionalProperties: false }),
    response: S.Ok,
  },
} as const satisfies Record<string, RouteDef>;
