import type { Handlers } from '../register.js';
import type { ApiContext } from '../context.js';
import type { AppSourceRow } from '../../store/app-sources.js';
import * as sources from '../../store/app-sources.js';
import { appFor } from '../access.js';
import { appSource, newWebhookSecret, webhookUrl } from './vendors.js';
import type { FastifyRequest } from 'fastify';
import { byUser } from '../../domain/events.js';

const webhookDto = (ctx: ApiContext, req: FastifyRequest, s: AppSourceRow) => ({
  url: webhookUrl(req, s.app_id),
  secret: ctx.secrets.open(s.webhook_secret_sealed),
  branch: s.branch,
  content_type: 'application/json' as const,
});

export const webhookHandlers = {
  async getWebhook({ user, params, raw }, ctx) {
    // The secret lets anyone trigger deploys: developers only.
    const app = await appFor(ctx, user, params.id, 'developer');
    return webhookDto(ctx, raw, await appSource(ctx, app.id, app.slug));
  },

  async rotateWebhook({ user, params, raw }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    await appSource(ctx, app.id, app.slug);
    await sources.setWebhookSecret(ctx.db, app.id, ctx.secrets.seal(newWebhookSecret()));
    await ctx.events.record({ actor: byUser(user), project_id: app.project_id, app_id: app.id, kind: 'webhook.rotated', message: `webhook secret of ${app.slug} rotated by ${user.username}` });
    return webhookDto(ctx, raw, (await sources.sourceOf(ctx.db, app.id))!);
  },
} satisfies Handlers;
