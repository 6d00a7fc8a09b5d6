import type { Handlers } from '../register.js';
import type { ApiContext } from '../context.js';
import { appFor } from '../access.js';
import { HttpError, badRequest, notFound } from '../errors.js';
import * as store from '../../store/drains.js';
import type { DrainRow } from '../../store/drains.js';
import { now } from '../../store/db.js';
import { newId } from '../../lib/ids.js';
import { checkHost } from '../../lib/egress.js';
import { MAX_DRAINS_PER_APP, caProblem, drainHint, parseDrainUrl } from '../../domain/drains.js';
import { byUser } from '../../domain/events.js';

/** What anyone who may see the app sees: the hint, never the sealed URL. */
const dto = (d: DrainRow) => ({
  id: d.id,
  kind: d.kind,
  url: d.url_hint,
  ca: d.ca_pem !== null,
  created_at: d.created_at,
  status: { last_success_at: d.last_success_at, last_error: d.last_error, last_error_at: d.last_error_at, sent: d.sent, dropped: d.dropped },
});

async function drainOf(ctx: ApiContext, appId: string, id: string) {
  const d = await store.drainById(ctx.db, id);
  if (!d || d.app_id !== appId) throw notFound('log drain', id);
  return d;
}

export const drainHandlers = {
  async listDrains({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id);
    return { items: (await store.drainsOf(ctx.db, app.id)).map(dto) };
  },

  async addDrain({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const target = parseDrainUrl(body.url);
    if ('problem' in target) throw badRequest(`url ${target.problem}`, 'url');
    checkHost(target.host, 'url', ctx.config.egressAllow);
    if (body.ca !== undefined) {
      const problem = caProblem(body.ca);
      if (problem) throw badRequest(`ca ${problem}`, 'ca');
    }
    // Counted, then inserted: requests that race may each pass the count (a few over at most, never unbounded).
    const n = (await store.drainsOf(ctx.db, app.id)).length;
    if (n >= MAX_DRAINS_PER_APP) {
      throw new HttpError(409, 'quota_exceeded', `${app.slug} has ${n} log drains, the most an app may have: remove one first`, { field: 'url', limit: MAX_DRAINS_PER_APP });
    }
    const row: DrainRow = {
      id: newId('drn'),
      app_id: app.id,
      kind: target.kind,
      url_sealed: ctx.secrets.seal(body.url),
      url_hint: drainHint(body.url),
      ca_pem: body.ca ?? null,
      created_at: now(),
      last_success_at: null,
      last_error: null,
      last_error_at: null,
      sent: 0,
      dropped: 0,
    };
    await store.insertDrain(ctx.db, row);
    await ctx.events.record({ actor: byUser(user), project_id: app.project_id, app_id: app.id, kind: 'drain.added', message: `${app.slug} now sends its logs to ${row.url_hint}` });
    ctx.nudgeDrains();
    return dto(row);
  },

  async removeDrain({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const d = await drainOf(ctx, app.id, params.drain);
    await store.deleteDrain(ctx.db, d.id);
    await ctx.events.record({ actor: byUser(user), project_id: app.project_id, app_id: app.id, kind: 'drain.removed', message: `${app.slug} no longer sends its logs to ${d.url_hint}` });
    ctx.nudgeDrains();
    return { ok: true };
  },
} satisfies Handlers;
