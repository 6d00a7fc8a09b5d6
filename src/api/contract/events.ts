import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { closed, type RouteDef } from './route-def.js';

/** Events: every state change of apps, releases, containers and builds. */

export const Event = T.Object({
  id: T.Integer(),
  project_id: T.String(),
  app_id: T.Union([T.String(), T.Null()]),
  kind: T.String(),
  message: T.String(),
  data: T.Union([T.Record(T.String(), T.Any()), T.Null()]),
  created_at: S.Timestamp,
});

export const eventRoutes = {
  listEvents: {
    method: 'GET',
    path: '/api/v1/events',
    summary: 'Recent events of what the caller can see (live over /ws/events)',
    tag: 'events',
    access: 'viewer',
    query: closed({
      app: T.Optional(S.Id),
      // Event ids are 64-bit (bigserial on PostgreSQL).
      after: T.Optional(T.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
      limit: T.Optional(T.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    }),
    response: T.Object({ items: T.Array(Event) }),
  },
} as const satisfies Record<string, RouteDef>;
