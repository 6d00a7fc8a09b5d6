import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';

const Nullable = <X extends Parameters<typeof T.Union>[0][number]>(s: X) => T.Union([s, T.Null()]);

/** Where an app's log lines are sent (docs/logs.md), and how delivery goes. */
export const LogDrain = T.Object({
  id: T.String(),
  kind: T.Union([T.Literal('syslog'), T.Literal('https')]),
  url: T.String({ description: 'scheme://host:port, with /… when a path, query or user was hidden: the full URL may hold a credential and is not shown again' }),
  ca: T.Boolean({ description: "true when the drain verifies its receiver with its own CA instead of the system's" }),
  created_at: S.Timestamp,
  status: T.Object({
    last_success_at: Nullable(S.Timestamp),
    last_error: Nullable(T.String({ description: 'the last failed attempt, in words' })),
    last_error_at: Nullable(S.Timestamp),
    sent: T.Integer({ description: 'lines delivered' }),
    dropped: T.Integer({ description: "lines dropped because the drain's buffer was full while its receiver was away" }),
  }),
});

const DrainParams = closed({ id: S.Id, drain: T.String({ minLength: 1, maxLength: 128 }) });

export const drainRoutes = {
  listDrains: {
    method: 'GET',
    path: '/api/v1/apps/:id/drains',
    summary: "An app's log drains with their delivery status",
    tag: 'logs',
    access: 'viewer',
    params: IdParam,
    response: T.Object({ items: T.Array(LogDrain) }),
  },
  addDrain: {
    method: 'POST',
    path: '/api/v1/apps/:id/drains',
    summary: "Send the app's log lines to syslog over TLS (syslog+tls://host:port) or HTTPS (batched NDJSON POSTs)",
    tag: 'logs',
    access: 'developer',
    status: 201,
    params: IdParam,
    body: closed({
      url: T.String({ minLength: 1, maxLength: 2048, description: 'syslog+tls://host:port or https://[user:password@]host[:port]/path' }),
      ca: T.Optional(T.String({ minLength: 1, maxLength: 65536, description: "PEM certificate(s) the receiver's certificate must chain to, instead of the system's roots" })),
    }),
    response: LogDrain,
  },
  removeDrain: {
    method: 'DELETE',
    path: '/api/v1/apps/:id/drains/:drain',
    summary: 'Remove a log drain',
    tag: 'logs',
    access: 'developer',
    params: DrainParams,
    response: S.Ok,
  },
} as const satisfies Record<string, RouteDef>;
