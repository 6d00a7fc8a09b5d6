import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';

/** Private registry accounts: deploys of images on that host pull with them (src/controllers/apps/pull.ts). */
export const Registry = T.Object({
  id: T.String(),
  host: T.String(),
  username: T.String(),
  created_at: S.Timestamp,
});

export const registryRoutes = {
  createRegistry: {
    method: 'POST',
    path: '/api/v1/registries',
    summary: 'Add a registry account; the password is sealed at rest and never shown again',
    tag: 'registries',
    access: 'user',
    status: 201,
    body: closed({
      host: T.String({ minLength: 1, maxLength: 260, description: 'host[:port] as in image references, like registry.example.com:5000' }),
      username: T.String({ minLength: 1, maxLength: 256, pattern: '^[^:\\s]+$', description: 'a user name without ":" or spaces' }),
      password: T.String({ minLength: 1, maxLength: 4096, pattern: '^[^\\r\\n]+$', description: 'a password or token on one line' }),
    }),
    response: Registry,
  },
  listRegistries: {
    method: 'GET',
    path: '/api/v1/registries',
    summary: 'Your registry accounts (without their passwords)',
    tag: 'registries',
    access: 'user',
    response: T.Object({ items: T.Array(Registry) }),
  },
  deleteRegistry: {
    method: 'DELETE',
    path: '/api/v1/registries/:id',
    summary: 'Remove a registry account',
    tag: 'registries',
    access: 'user',
    params: IdParam,
    response: S.Ok,
  },
} as const satisfies Record<string, RouteDef>;
