import { randomBytes } from 'node:crypto';
import type { Handlers } from '../register.js';
import type { ApiContext } from '../context.js';
import { appFor } from '../access.js';
import { badRequest, notFound } from '../errors.js';
import * as store from '../../store/notifications.js';
import type { TargetRow } from '../../store/notifications.js';
import { now } from '../../store/db.js';
import { newId } from '../../lib/ids.js';
import { NOTIFIED, notifyUrlProblem, urlHint } from '../../domain/notifications.js';
import { checkUrl } from '../../lib/egress.js';
import { byUser } from '../../domain/events.js';

const dto = (t: TargetRow, secret?: string) => ({
  id: t.id,
  kind: t.kind,
  url: t.url_hint,
  ...(secret ? { secret } : {}),
  events: Object.keys(NOTIFIED),
  created_at: t.created_at,
});

async function targetOf(ctx: ApiContext, appId: string, id: string) {
  const t = await store.targetById(ctx.db, id);
  if (!t || t.app_id !== appId) throw notFound('notification target', id);
  return t;
}

export const notificationHandlers = {
  async addNotification({ user, params, body, raw }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const problem = notifyUrlProblem(body.url, { host: raw.host, port: raw.socket.localPort ?? ctx.config.serverPort });
    if (problem) throw badRequest(`url ${problem}`, 'url');
    checkUrl(body.url, 'url', ctx.config.egressAllow);
    const secret = body.kind === 'webhook' ? randomBytes(24).toString('hex') : undefined;
    const row: TargetRow = {
      id: newId('ntf'),
      app_id: app.id,
      kind: body.kind,
      url_sealed: ctx.secrets.seal(body.url),
      url_hint: urlHint(body.url),
      secret_sealed: secret ? ctx.secrets.seal(secret) : null,
      created_at: now(),
    };
    await store.insertTarget(ctx.db, row);
    await ctx.events.record({ actor: byUser(user), project_id: app.project_id, app_id: app.id, kind: 'notification.added', message: `${app.slug} now notifies a ${body.kind} target at ${row.url_hint}` });
    return dto(row, secret);
  },

  async listNotifications({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id);
    return { items: (await store.targetsOf(ctx.db, app.id)).map((t) => dto(t)) };
  },

  async removeNotification({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const t = await targetOf(ctx, app.id, params.target);
    await store.deleteTarget(ctx.db, t.id);
    return { ok: true };
  },

  async listNotificationDeliveries({ user, params, query }, ctx) {
    const app = await appFor(ctx, user, params.id);
    const t = await targetOf(ctx, app.id, params.target);
    const rows = await store.deliveriesOf(ctx.db, t.id, query.limit ?? 100);
    return {
      items: rows.map((d) => ({
        id: d.id,
        event: d.event_kind,
        status: d.status,
        attempts: d.attempts,
        last_error: d.last_error,
        next_attempt_at: d.status === 'pending' ? d.next_attempt_at : null,
        created_at: d.created_at,
        delivered_at: d.delivered_at,
      })),
    };
  },
} satisfies Handlers;
