import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';

const Limit = (description: string) => T.Integer({ minimum: 1, maximum: 1_000_000, description });
const QuotaFields = {
  projects: Limit('projects the user may own'),
  apps_per_project: Limit('apps in each project the user owns'),
  replicas: Limit('replicas per app'),
  memory_mb: Limit('memory per replica, MB'),
  cron_min_interval_s: Limit('shortest interval between two firings of a scheduled command, seconds'),
};
export const Quota = T.Object({
  ...QuotaFields,
  /** Which limits an admin set for this user; the others are the defaults (BERTH_QUOTA_*). */
  overridden: T.Array(T.String()),
});
const nullable = <S extends ReturnType<typeof Limit>>(s: S) => T.Optional(T.Union([s, T.Null()]));

/** Users (administrators only). */
export const userRoutes = {
  listUsers: {
    method: 'GET',
    path: '/api/v1/users',
    summary: 'List users (admin)',
    tag: 'users',
    access: 'admin',
    response: T.Object({ items: T.Array(S.User) }),
  },
  createUser: {
    method: 'POST',
    path: '/api/v1/users',
    summary: 'Create a user (admin)',
    tag: 'users',
    access: 'admin',
    status: 201,
    body: closed({ username: S.Username, password: S.Password, is_admin: T.Optional(T.Boolean()) }),
    response: S.User,
  },
  updateUser: {
    method: 'PUT',
    path: '/api/v1/users/:id',
    summary: 'Disable, enable or promote a user; reset a password (admin)',
    tag: 'users',
    access: 'admin',
    params: IdParam,
    body: closed({ disabled: T.Optional(T.Boolean()), is_admin: T.Optional(T.Boolean()), password: T.Optional(S.Password) }),
    response: S.User,
  },
  getUserQuota: {
    method: 'GET',
    path: '/api/v1/users/:id/quota',
    summary: 'A user’s quota: the defaults, with the admin’s overrides (admin)',
    tag: 'users',
    access: 'admin',
    params: IdParam,
    response: Quota,
  },
  setUserQuota: {
    method: 'PUT',
    path: '/api/v1/users/:id/quota',
    summary: 'Override limits of a user’s quota; null puts one back to the default (admin)',
    tag: 'users',
    access: 'admin',
    params: IdParam,
    body: closed({
      projects: nullable(QuotaFields.projects),
      apps_per_project: nullable(QuotaFields.apps_per_project),
      replicas: nullable(QuotaFields.replicas),
      memory_mb: nullable(QuotaFields.memory_mb),
      cron_min_interval_s: nullable(QuotaFields.cron_min_interval_s),
    }),
    response: Quota,
  },
  deleteUser: {
    method: 'DELETE',
    path: '/api/v1/users/:id',
    summary: 'Delete a user (admin)',
    tag: 'users',
    access: 'admin',
    params: IdParam,
    response: S.Ok,
  },
} as const satisfies Record<string, RouteDef>;
