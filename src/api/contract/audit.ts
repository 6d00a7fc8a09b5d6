import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { closed, type RouteDef } from './route-def.js';

/** The audit log: state-changing API calls and login attempts (src/api/audit.ts). */
export const AuditEntry = T.Object({
  id: T.Integer(),
  at: S.Timestamp,
  user: T.Union([T.Object({ id: T.Union([T.String(), T.Null()]), username: T.Union([T.String(), T.Null()]) }), T.Null()]),
  action: T.String({ description: 'the route’s name (deleteApp, login, ...)' }),
  method: T.String(),
  path: T.String({ description: 'without the query string' }),
  status: T.Integer(),
  project: T.Union([T.String(), T.Null()]),
  address: T.Union([T.String(), T.Null()]),
  credential: T.Union([T.String({ description: 'token or session (never its value)' }), T.Null()]),
});

export const auditRoutes = {
  listAudit: {
    method: 'GET',
    path: '/api/v1/audit',
    summary: 'The audit log, newest first: admins read everything, a project’s owners read that project’s entries (give project)',
    tag: 'audit',
    access: 'owner',
    query: closed({
      project: T.Optional(S.Id),
      user: T.Optional(T.String({ minLength: 1, maxLength: 128, description: 'a user id or name' })),
      action: T.Optional(T.String({ minLength: 1, maxLength: 64 })),
      before: T.Optional(T.Integer({ minimum: 1, description: 'entries older than this id (the last id of the previous page)' })),
      limit: T.Optional(T.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    }),
    response: T.Object({ items: T.Array(AuditEntry) }),
  },
} as const satisfies Record<string, RouteDef>;
