import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';

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
