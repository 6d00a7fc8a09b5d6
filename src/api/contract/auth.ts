import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';

/** Logging in, the caller's own account and API tokens. */
export const authRoutes = {
  login: {
    method: 'POST',
    path: '/api/v1/auth/login',
    summary: 'Exchange a username and password for an API token',
    tag: 'auth',
    access: 'public',
    auth: false,
    body: closed({ username: T.String({ minLength: 1, maxLength: 64 }), password: T.String({ minLength: 1, maxLength: 256 }) }),
    response: T.Object({ token: T.String(), user: S.User }),
  },
  whoami: {
    method: 'GET',
    path: '/api/v1/auth/whoami',
    summary: 'The user the token belongs to',
    tag: 'auth',
    access: 'user',
    response: S.User,
  },
  changePassword: {
    method: 'POST',
    path: '/api/v1/auth/password',
    summary: "Change the caller's own password",
    tag: 'auth',
    access: 'user',
    body: closed({ current_password: T.String({ minLength: 1, maxLength: 256 }), new_password: S.Password }),
    response: S.Ok,
  },
  listTokens: {
    method: 'GET',
    path: '/api/v1/tokens',
    summary: "List the caller's API tokens",
    tag: 'tokens',
    access: 'user',
    response: T.Object({ items: T.Array(S.Token) }),
  },
  createToken: {
    method: 'POST',
    path: '/api/v1/tokens',
    summary: 'Create an API token; its value is shown once',
    tag: 'tokens',
    access: 'user',
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
    access: 'user',
    params: IdParam,
    response: S.Ok,
  },
} as const satisfies Record<string, RouteDef>;
