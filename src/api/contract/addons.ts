import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';
import { Release } from './releases.js';
import { Keep, Schedule, backupJob, backupRoutes } from './backups.js';

/** Add-ons: managed PostgreSQL and Redis of a project, attached to its apps, with backups. */

const AddonType = T.Union([T.Literal('postgres'), T.Literal('redis')]);
const ProjectQuery = T.Object({ project: T.Optional(S.Id) }, { additionalProperties: false });

export const Addon = T.Object({
  id: T.String(),
  name: T.String(),
  type: AddonType,
  project: T.Object({ id: T.String(), name: T.String() }),
  image: T.String(),
  /** The server's major version ("17", "15"; "7" for Redis); null for an image set by hand that is none of the configured ones. */
  version: T.Union([T.String(), T.Null()]),
  /** creating (until it first answers), running, or failed with a message. */
  status: T.String(),
  message: T.Union([T.String(), T.Null()]),
  /** Host and port on the project's network (nothing outside it can reach them). */
  host: T.String(),
  port: T.Integer(),
  attachments: T.Array(T.Object({ app: T.String(), as: T.String(), var: T.String() })),
  backup_schedule: T.Union([T.String(), T.Null()]),
  backup_keep: T.Integer(),
  /** PostgreSQL: point-in-time recovery (WAL archived continuously, base backups); null for Redis. */
  pitr: T.Union([
    T.Object({
      window_days: T.Integer(),
      /** The earliest time a fork can be restored to; null until the first base backup. */
      earliest: T.Union([S.Timestamp, T.Null()]),
      latest_base_backup: T.Union([S.Timestamp, T.Null()]),
      /** The restore check of the newest base backup checked (each is restored into a throwaway container and queried); null: none yet. */
      verified: T.Union([
        T.Object({
          status: T.Union([T.Literal('ok'), T.Literal('failed')]),
          answer: T.Union([T.String(), T.Null()]),
          error: T.Union([T.String(), T.Null()]),
          duration_ms: T.Integer(),
          at: S.Timestamp,
          base_at: S.Timestamp,
        }),
        T.Null(),
      ]),
    }),
    T.Null(),
  ]),
  /** A fork made by a point-in-time restore: its source, the time asked for, the recovery point reached (null until restored). */
  fork: T.Union([T.Object({ of: T.Union([T.String(), T.Null()]), target: S.Timestamp, recovered_to: T.Union([S.Timestamp, T.Null()]) }), T.Null()]),
  /** The last in-place restore: the time asked for, the recovery point reached (null while under way). */
  rewind: T.Union([T.Object({ target: S.Timestamp, recovered_to: T.Union([S.Timestamp, T.Null()]) }), T.Null()]),
  /** The query a restore check of its backups runs (PostgreSQL); null: the default, a count of the user tables. */
  verify_query: T.Union([T.String(), T.Null()]),
  created_at: S.Timestamp,
});

const PitrDays = T.Integer({ minimum: 1, maximum: 35, description: 'PostgreSQL: days of point-in-time recovery kept (default 7)' });
const VerifyQuery = T.String({ maxLength: 2000, description: 'PostgreSQL: one read-only statement (SELECT, WITH, VALUES, TABLE, SHOW) the restore check of each backup runs; null: count the user tables' });
const RestoreTime = T.String({ minLength: 1, maxLength: 64, description: 'YYYY-MM-DD HH:MM:SS[.fff], UTC unless it ends in Z or ±HH:MM; within the add-on’s window' });

export const AddonJob = backupJob('addon');
const backups = backupRoutes('/api/v1/addons', 'addons', AddonJob, {
  backup: 'pg_dump -Fc, or a Redis RDB snapshot',
  restore: 'Restore a backup (of this add-on, or of another of the same type in the project) into the add-on',
});

export const addonRoutes = {
  listAddons: {
    method: 'GET',
    path: '/api/v1/addons',
    summary: 'List the add-ons of the projects the caller is a member of',
    tag: 'addons',
    access: 'viewer',
    query: ProjectQuery,
    response: T.Object({ items: T.Array(Addon) }),
  },
  createAddon: {
    method: 'POST',
    path: '/api/v1/addons',
    summary: 'Create a PostgreSQL or Redis add-on in a project (it starts in the background)',
    tag: 'addons',
    access: 'developer',
    status: 201,
    body: closed({
      type: AddonType,
      name: T.Optional(S.DnsLabel),
      project: T.Optional(S.Id),
      /** The major version (PostgreSQL: "17", the default, or "15"; Redis: "7"). */
      version: T.Optional(T.String({ pattern: '^[0-9]{1,3}$' })),
      backup_schedule: T.Optional(Schedule),
      backup_keep: T.Optional(Keep),
      pitr_days: T.Optional(PitrDays),
    }),
    response: Addon,
  },
  getAddon: {
    method: 'GET',
    path: '/api/v1/addons/:id',
    summary: 'Get an add-on by id (or by name, with ?project=)',
    tag: 'addons',
    access: 'viewer',
    params: IdParam,
    query: ProjectQuery,
    response: Addon,
  },
  getAddonUrl: {
    method: 'GET',
    path: '/api/v1/addons/:id/url',
    summary: 'The add-on’s connection URL with its credentials (what an attached app gets as <AS>_URL); developers only',
    tag: 'addons',
    access: 'developer',
    params: IdParam,
    query: ProjectQuery,
    response: T.Object({ url: T.String({ description: 'reachable from the project’s network only' }), var: T.String({ description: 'DATABASE_URL or REDIS_URL: the name an attachment gives it by default' }) }),
  },
  updateAddon: {
    method: 'PUT',
    path: '/api/v1/addons/:id',
    summary: 'Change an add-on’s backup schedule or retention, its point-in-time recovery window, or the query its restore checks run',
    tag: 'addons',
    access: 'developer',
    params: IdParam,
    query: ProjectQuery,
    body: closed({
      backup_schedule: T.Optional(T.Union([Schedule, T.Null()])),
      backup_keep: T.Optional(Keep),
      pitr_days: T.Optional(PitrDays),
      verify_query: T.Optional(T.Union([VerifyQuery, T.Null()])),
    }),
    response: Addon,
  },
  deleteAddon: {
    method: 'DELETE',
    path: '/api/v1/addons/:id',
    summary: 'Delete an add-on, its data and its backups; refused while an app is attached',
    tag: 'addons',
    access: 'developer',
    params: IdParam,
    query: ProjectQuery,
    response: S.Ok,
  },
  attachAddon: {
    method: 'POST',
    path: '/api/v1/addons/:id/attach',
    summary: 'Attach to an app of the same project: sets <AS>_URL as a secret config var (a new release)',
    tag: 'addons',
    access: 'developer',
    params: IdParam,
    query: ProjectQuery,
    body: closed({ app: S.Id, as: T.Optional(T.String({ pattern: '^[A-Z][A-Z0-9_]{0,62}$', description: 'config var prefix (DATABASE gives DATABASE_URL)' })) }),
    response: T.Object({ addon: Addon, release: T.Union([Release, T.Null()]) }),
  },
  detachAddon: {
    method: 'POST',
    path: '/api/v1/addons/:id/detach',
    summary: 'Detach from an app: removes its <AS>_URL (a new release)',
    tag: 'addons',
    access: 'developer',
    params: IdParam,
    query: ProjectQuery,
    body: closed({ app: S.Id }),
    response: T.Object({ addon: Addon, release: T.Union([Release, T.Null()]) }),
  },
  forkAddon: {
    method: 'POST',
    path: '/api/v1/addons/:id/fork',
    summary: 'Restore a PostgreSQL add-on to a point in time into a new add-on (a fork), from its archive; the recovery point is reported on the fork',
    tag: 'addons',
    access: 'developer',
    status: 201,
    params: IdParam,
    query: ProjectQuery,
    body: closed({
      to: RestoreTime,
      name: T.Optional(S.DnsLabel),
    }),
    response: Addon,
  },
  rewindAddon: {
    method: 'POST',
    path: '/api/v1/addons/:id/rewind',
    summary: 'Restore a PostgreSQL add-on in place to a point in time (its data since then is lost; type its name in confirm); the recovery point is reported on it',
    tag: 'addons',
    access: 'developer',
    status: 201,
    params: IdParam,
    query: ProjectQuery,
    body: closed({
      to: RestoreTime,
      confirm: T.String({ maxLength: 64, description: 'the add-on’s name, typed' }),
    }),
    response: Addon,
  },
  createBackup: backups.create,
  listBackups: backups.list,
  restoreBackup: backups.restore,
  getAddonJob: backups.getJob,
  verifyAddonBackup: {
    method: 'POST',
    path: '/api/v1/addons/:id/backups/:job/verify',
    summary: 'Check a backup again: restore it into a throwaway container and run the add-on’s query (the result comes on the backup’s verified)',
    tag: 'addons',
    access: 'developer',
    status: 202,
    params: closed({ id: S.Id, job: S.Id }),
    response: AddonJob,
  },
} as const satisfies Record<string, RouteDef>;
