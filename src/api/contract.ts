import { type Static, type TSchema, Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';
import { runtimeRoutes } from './contract-runtime.js';
import { buildRoutes } from './contract-builds.js';
import { domainRoutes } from './contract-domains.js';
import { routerRoutes } from './contract-router.js';
import { metricsRoutes } from './contract-metrics.js';

export type { RouteDef } from './route-def.js';

/**
 * Every route of the REST API, declared once. The server validates requests and serializes
 * responses with these schemas, the OpenAPI document is generated from them, and the client
 * library (and so the CLI) takes its types from them: one source of truth.
 * Core routes are here; the runtime's and the builder's live beside this file.
 */
const coreRoutes = {
  login: {
    method: 'POST',
    path: '/api/v1/auth/login',
    summary: 'Exchange a username and password for an API token',
    tag: 'auth',
    auth: false,
    body: closed({ username: T.String({ minLength: 1, maxLength: 64 }), password: T.String({ minLength: 1, maxLength: 256 }) }),
    response: T.Object({ token: T.String(), user: S.User }),
  },
  whoami: {
    method: 'GET',
    path: '/api/v1/auth/whoami',
    summary: 'The user the token belongs to',
    tag: 'auth',
    response: S.User,
  },
  changePassword: {
    method: 'POST',
    path: '/api/v1/auth/password',
    summary: "Change the caller's own password",
    tag: 'auth',
    body: closed({ current_password: T.String({ minLength: 1, maxLength: 256 }), new_password: S.Password }),
    response: S.Ok,
  },

  listTokens: {
    method: 'GET',
    path: '/api/v1/tokens',
    summary: "List the caller's API tokens",
    tag: 'tokens',
    response: T.Object({ items: T.Array(S.Token) }),
  },
  createToken: {
    method: 'POST',
    path: '/api/v1/tokens',
    summary: 'Create an API token; its value is shown once',
    tag: 'tokens',
    status: 201,
    body: closed({
      name: T.String({ minLength: 1, maxLength: 100 }),
      expires_in_days: T.Optional(T.Integer({ minimum: 1, maximum: 3650 })),
    }),
    response: T.Composite([S.Token, T.Object({ token: T.String() })]),
  },
  revokeToken: {
    method: 'DELETE',
    path: '/api/v1/tokens/:id',
    summary: 'Revoke one of the caller’s tokens',
    tag: 'tokens',
    params: IdParam,
    response: S.Ok,
  },

  listUsers: {
    method: 'GET',
    path: '/api/v1/users',
    summary: 'List users (admin)',
    tag: 'users',
    response: T.Object({ items: T.Array(S.User) }),
  },
  createUser: {
    method: 'POST',
    path: '/api/v1/users',
    summary: 'Create a user (admin)',
    tag: 'users',
    status: 201,
    body: closed({ username: S.Username, password: S.Password, is_admin: T.Optional(T.Boolean()) }),
    response: S.User,
  },
  updateUser: {
    method: 'PUT',
    path: '/api/v1/users/:id',
    summary: 'Disable, enable or promote a user; reset a password (admin)',
    tag: 'users',
    params: IdParam,
    body: closed({ disabled: T.Optional(T.Boolean()), is_admin: T.Optional(T.Boolean()), password: T.Optional(S.Password) }),
    response: S.User,
  },
  deleteUser: {
    method: 'DELETE',
    path: '/api/v1/users/:id',
    summary: 'Delete a user (admin)',
    tag: 'users',
    params: IdParam,
    response: S.Ok,
  },

  listProjects: {
    method: 'GET',
    path: '/api/v1/projects',
    summary: 'List the projects the caller is a member of',
    tag: 'projects',
    query: S.Page,
    response: S.paged(S.Project),
  },
  createProject: {
    method: 'POST',
    path: '/api/v1/projects',
    summary: 'Create a project; the caller becomes its owner',
    tag: 'projects',
    status: 201,
    body: closed({ name: S.DnsLabel }),
    response: S.Project,
  },
  getProject: {
    method: 'GET',
    path: '/api/v1/projects/:id',
    summary: 'Get a project by id or name',
    tag: 'projects',
    params: IdParam,
    response: S.Project,
  },
  updateProject: {
    method: 'PUT',
    path: '/api/v1/projects/:id',
    summary: 'Rename a project (owner)',
    tag: 'projects',
    params: IdParam,
    body: closed({ name: T.Optional(S.DnsLabel) }),
    response: S.Project,
  },
  deleteProject: {
    method: 'DELETE',
    path: '/api/v1/projects/:id',
    summary: 'Delete an empty project (owner)',
    tag: 'projects',
    params: IdParam,
    response: S.Ok,
  },
  listMembers: {
    method: 'GET',
    path: '/api/v1/projects/:id/members',
    summary: 'List project members',
    tag: 'projects',
    params: IdParam,
    response: T.Object({ items: T.Array(S.Member) }),
  },
  addMember: {
    method: 'POST',
    path: '/api/v1/projects/:id/members',
    summary: 'Add a member or change a member’s role (owner)',
    tag: 'projects',
    params: IdParam,
    body: closed({ username: S.Username, role: S.Role }),
    response: S.Member,
  },
  removeMember: {
    method: 'DELETE',
    path: '/api/v1/projects/:id/members/:user',
    summary: 'Remove a member (owner)',
    tag: 'projects',
    params: closed({ id: S.Id, user: T.String({ minLength: 1, maxLength: 128 }) }),
    response: S.Ok,
  },

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
    summary: 'Delete an app and everything it runs',
    tag: 'apps',
    params: IdParam,
    response: S.Ok,
  },
} as const satisfies Record<string, RouteDef>;

export const routes = { ...coreRoutes, ...runtimeRoutes, ...buildRoutes, ...domainRoutes, ...routerRoutes, ...metricsRoutes };

export type Routes = typeof routes;
export type RouteName = keyof Routes;

type StaticOr<R, K extends string, Else> = R extends { [P in K]: infer X extends TSchema } ? Static<X> : Else;

/** What a caller sends for a route: path params, query string and body, each typed from the schema. */
export type RouteInput<N extends RouteName> = {
  params: StaticOr<Routes[N], 'params', Record<string, never>>;
  query: StaticOr<Routes[N], 'query', Record<string, never>>;
  body: StaticOr<Routes[N], 'body', undefined>;
};
export type RouteOutput<N extends RouteName> = Static<Routes[N]['response']>;
