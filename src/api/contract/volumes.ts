import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';
import { Keep, Schedule, backupJob, backupRoutes } from './backups.js';

/** Volumes: Berth-managed named engine volumes of a project, mounted into its apps by name. */

export const Volume = T.Object({
  id: T.String(),
  name: T.String(),
  project: T.Object({ id: T.String(), name: T.String() }),
  /** Recorded, NOT a hard limit: the engine's local driver cannot enforce a size on this kind of disk (docs/stateful.md). */
  size_mb: T.Union([T.Integer(), T.Null()]),
  /**
   * Bytes its files use on disk, measured (du) when the volume is read by id; null in a list, and
   * while no app has mounted it yet (there is no engine volume).
   */
  used_bytes: T.Union([T.Integer(), T.Null()]),
  backup_schedule: T.Union([T.String(), T.Null()]),
  backup_keep: T.Integer(),
  /** The engine volume's name (docker volume inspect NAME). */
  engine_name: T.String(),
  /** Slugs of the apps whose config mounts it. */
  mounted_by: T.Array(T.String()),
  created_at: S.Timestamp,
});

export const VolumeJob = backupJob('volume');
const backups = backupRoutes('/api/v1/volumes', 'volumes', VolumeJob, {
  backup: 'a tar snapshot of its files, with owners and modes',
  restore: 'Restore a backup of a volume of the project into this one (its files are replaced); refused while an app that mounts it runs',
});
const ProjectQuery = T.Object({ project: T.Optional(S.Id) }, { additionalProperties: false });

export const volumeRoutes = {
  listVolumes: {
    method: 'GET',
    path: '/api/v1/volumes',
    summary: 'List the volumes of the projects the caller is a member of',
    tag: 'volumes',
    access: 'viewer',
    query: ProjectQuery,
    response: T.Object({ items: T.Array(Volume) }),
  },
  createVolume: {
    method: 'POST',
    path: '/api/v1/volumes',
    summary: 'Create a volume in a project (the engine volume is made when an app first mounts it)',
    tag: 'volumes',
    access: 'developer',
    status: 201,
    body: closed({
      name: S.DnsLabel,
      project: T.Optional(S.Id),
      size_mb: T.Optional(T.Integer({ minimum: 1, maximum: 16_777_216, description: 'MB; recorded, not enforced by the local driver' })),
      backup_schedule: T.Optional(Schedule),
      backup_keep: T.Optional(Keep),
    }),
    response: Volume,
  },
  getVolume: {
    method: 'GET',
    path: '/api/v1/volumes/:id',
    summary: 'Get a volume by id (or by name, with ?project=)',
    tag: 'volumes',
    access: 'viewer',
    params: IdParam,
    query: ProjectQuery,
    response: Volume,
  },
  updateVolume: {
    method: 'PUT',
    path: '/api/v1/volumes/:id',
    summary: 'Change a volume’s backup schedule or retention',
    tag: 'volumes',
    access: 'developer',
    params: IdParam,
    query: ProjectQuery,
    body: closed({ backup_schedule: T.Optional(T.Union([Schedule, T.Null()])), backup_keep: T.Optional(Keep) }),
    response: Volume,
  },
  deleteVolume: {
    method: 'DELETE',
    path: '/api/v1/volumes/:id',
    summary: 'Delete a volume, its data and its backups; refused while an app’s config mounts it',
    tag: 'volumes',
    access: 'developer',
    params: IdParam,
    query: ProjectQuery,
    response: S.Ok,
  },
  createVolumeBackup: backups.create,
  listVolumeBackups: backups.list,
  restoreVolume: backups.restore,
  getVolumeJob: backups.getJob,
} as const satisfies Record<string, RouteDef>;
