import type { Handlers } from '../register.js';
import type { ApiContext } from '../context.js';
import { appFor, projectFor } from '../access.js';
import { badRequest } from '../errors.js';
import * as store from '../../store/alerts.js';
import { now } from '../../store/db.js';
import { byUser } from '../../domain/events.js';
import { RULES, RULE_IDS, effective, isRuleId, type RuleId } from '../../domain/alerts.js';

/** Every rule of one app: its settings (the app's or the defaults) and its state as the evaluator left it. */
async function rulesView(ctx: ApiContext, appId: string) {
  const [settings, states] = await Promise.all([store.rulesOf(ctx.db, appId), store.statesOf(ctx.db, appId)]);
  const timeScale = ctx.config.alerts.timeScale;
  return RULE_IDS.map((id) => {
    const set = settings.find((s) => s.rule === id);
    const r = effective(RULES[id], set ? { enabled: set.enabled === 1, threshold: set.threshold } : undefined, timeScale);
    const st = states.find((s) => s.rule === id);
    return {
      rule: id,
      title: r.title,
      description: r.describe,
      unit: r.unit,
      fires: r.fires,
      enabled: r.enabled,
      threshold: r.threshold,
      default_threshold: RULES[id].threshold,
      window_s: r.window_s,
      for_s: r.for_s,
      clear_s: r.clear_s,
      // A rule turned off is off from that moment, whatever the evaluator has not caught up with yet.
      status: r.enabled ? (st?.status ?? 'ok') : ('off' as const),
      since: r.enabled ? (st?.since ?? null) : (set?.updated_at ?? null),
      value: r.enabled ? (st?.value ?? null) : null,
    };
  });
}

export const alertHandlers = {
  async listAlerts({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id);
    return { items: await rulesView(ctx, app.id) };
  },

  async updateAlerts({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const changes = Object.entries(body.rules).filter((e): e is [RuleId, NonNullable<(typeof e)[1]>] => isRuleId(e[0]) && !!e[1]);
    for (const [id, c] of changes) {
      const def = RULES[id];
      if (c.threshold !== undefined && c.threshold !== null && !(Number.isFinite(c.threshold) && c.threshold >= def.min && c.threshold <= def.max)) {
        throw badRequest(`rules.${id}.threshold must be between ${def.min} and ${def.max} (${def.unit})`, `rules.${id}.threshold`);
      }
    }
    const current = await store.rulesOf(ctx.db, app.id);
    const ts = now();
    for (const [id, c] of changes) {
      const was = current.find((r) => r.rule === id);
      await store.upsertRule(ctx.db, {
        app_id: app.id,
        rule: id,
        enabled: (c.enabled ?? (was ? was.enabled === 1 : true)) ? 1 : 0,
        threshold: c.threshold !== undefined ? c.threshold : (was?.threshold ?? null),
        updated_at: ts,
      });
    }
    if (changes.length) {
      const said = changes.map(([id, c]) => `${id}${c.enabled === false ? ' off' : c.enabled === true ? ' on' : ''}${c.threshold !== undefined ? ` threshold ${c.threshold ?? 'default'}` : ''}`);
      await ctx.events.record({ actor: byUser(user), project_id: app.project_id, app_id: app.id, kind: 'alerts.updated', message: `${app.slug} alert rules: ${said.join(', ')}` });
    }
    return { items: await rulesView(ctx, app.id) };
  },

  async listProjectAlerts({ user, params }, ctx) {
    const project = await projectFor(ctx, user, params.id);
    const rows = await store.firingInProject(ctx.db, project.id);
    const settings = new Map<string, { enabled: number; threshold: number | null }>();
    for (const appId of new Set(rows.map((r) => r.app_id))) for (const s of await store.rulesOf(ctx.db, appId)) settings.set(`${appId}/${s.rule}`, s);
    return {
      items: rows
        // A rule turned off is off at once, before the evaluator's next pass resolves it.
        .filter((r) => isRuleId(r.rule) && settings.get(`${r.app_id}/${r.rule}`)?.enabled !== 0)
        .map((r) => {
          const def = RULES[r.rule as RuleId];
          return {
            app: { id: r.app_id, slug: r.slug, name: r.name },
            rule: def.id,
            title: def.title,
            unit: def.unit,
            threshold: settings.get(`${r.app_id}/${r.rule}`)?.threshold ?? def.threshold,
            since: r.since,
            value: r.value,
          };
        }),
    };
  },
} satisfies Handlers;
