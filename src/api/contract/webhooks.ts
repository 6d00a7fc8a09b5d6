import { Type as T } from '@sinclair/typebox';
import { IdParam, type RouteDef } from './route-def.js';

/**
 * The push webhook of an app with a git source. Deliveries themselves go to
 * POST /api/v1/webhooks/{app id}: a raw-body route outside this contract (the signature covers the
 * exact bytes), see src/api/handlers/webhook-receive.ts.
 */
export const Webhook = T.Object({
  url: T.String(),
  secret: T.String({ description: 'GitHub/Bitbucket: the HMAC secret; GitLab: the secret token' }),
  branch: T.String({ description: 'pushes to this branch build and deploy' }),
  content_type: T.Literal('application/json'),
});

export const webhookRoutes = {
  getWebhook: {
    method: 'GET',
    path: '/api/v1/apps/:id/webhook',
    summary: "The app's push webhook URL and secret (developers only)",
    tag: 'webhooks',
    access: 'developer',
    params: IdParam,
    response: Webhook,
  },
  rotateWebhook: {
    method: 'POST',
    path: '/api/v1/apps/:id/webhook/rotate',
    summary: 'Replace the webhook secret; deliveries signed with the old one get 401',
    tag: 'webhooks',
    access: 'developer',
    params: IdParam,
    response: Webhook,
  },
} as const satisfies Record<string, RouteDef>;
