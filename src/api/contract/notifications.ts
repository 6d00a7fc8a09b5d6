import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';

/** Where an app's deploys, failures and crashes are told (src/controllers/notifications.ts). */
const Nullable = <X extends Parameters<typeof T.Union>[0][number]>(s: X) => T.Union([s, T.Null()]);

export const NotificationTarget = T.Object({
  id: T.String(),
  kind: T.Union([T.Literal('slack'), T.Literal('webhook')]),
  url: T.String({ description: 'scheme, host and "/…": the full URL is a credential and is not shown again' }),
  secret: T.Optional(T.String({ description: 'webhook only, shown once: X-Berth-Signature is sha256=HMAC-SHA256(secret, body)' })),
  events: T.Array(T.String()),
  created_at: S.Timestamp,
});

export const NotificationDelivery = T.Object({
  id: T.String(),
  event: T.String(),
  status: T.Union([T.Literal('pending'), T.Literal('delivered'), T.Literal('failed')]),
  attempts: T.Integer(),
  last_error: Nullable(T.String()),
  next_attempt_at: Nullable(S.Timestamp),
  created_at: S.Timestamp,
  delivered_at: Nullable(S.Timestamp),
});

const TargetParams = closed({ id: S.Id, target: T.String({ minLength: 1, maxLength: 128 }) });

export const notificationRoutes = {
  addNotification: {
    method: 'POST',
    path: '/api/v1/apps/:id/notifications',
    summary: 'Tell a Slack incoming webhook or a signed generic webhook about deploys, failures and crashes',
    tag: 'notifications',
    access: 'developer',
    status: 201,
    params: IdParam,
    body: closed({
      kind: T.Union([T.Literal('slack'), T.Literal('webhook')], { description: 'slack or webhook' }),
      url: T.String({ minLength: 1, maxLength: 2048 }),
    }),
    response: NotificationTarget,
  },
  listNotifications: {
    method: 'GET',
    path: '/api/v1/apps/:id/notifications',
    summary: "An app's notification targets",
    tag: 'notifications',
    access: 'viewer',
    params: IdParam,
    response: T.Object({ items: T.Array(NotificationTarget) }),
  },
  removeNotification: {
    method: 'DELETE',
    path: '/api/v1/apps/:id/notifications/:target',
    summary: 'Remove a notification target',
    tag: 'notifications',
    access: 'developer',
    params: TargetParams,
    response: S.Ok,
  },
  listNotificationDeliveries: {
    method: 'GET',
    path: '/api/v1/apps/:id/notifications/:target/deliveries',
    summary: 'What was sent to a target, newest first, with attempts and the last error',
    tag: 'notifications',
    access: 'viewer',
    params: TargetParams,
    query: closed({ limit: T.Optional(T.Integer({ minimum: 1, maximum: 1000, default: 100 })) }),
    response: T.Object({ items: T.Array(NotificationDelivery) }),
  },
} as const satisfies Record<string, RouteDef>;
