import type { Handlers } from '../register.js';
import type { ApiContext, AuthUser } from '../context.js';
import { appFor } from '../access.js';
import { badRequest, conflict } from '../errors.js';
import { appDto } from './apps.js';
import { volumeNode } from '../volume-node.js';
import { releaseDto } from './releases.js';
import * as apps from '../../store/apps.js';
import { checkAppShape } from '../quota.js';
import { maskedEnv } from '../../domain/env.js';
import { changeEnv } from '../../domain/apps.js';
import { byUser } from '../../domain/events.js';
import { appFormation, appProcesses, unknownProcessType } from '../../domain/processes.js';
import { setFormation } from '../../store/formation.js';

const sumOf = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

const freshApp = async (ctx: ApiContext, user: AuthUser, id: string) => {
  const a = (await apps.findApp(ctx.db, user.id, id))!;
  return appDto(ctx, a, await volumeNode(ctx, a));
};

/** Actions on an app: each writes desired state (the app row, or a release) and nudges the controller. */
export const appActionHandlers = {
  async scaleApp({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    // The quota's replicas per app count the other process types' (workers) too.
    const { web: _, ...others } = await appFormation(ctx.db, app);
    await checkAppShape(ctx, user, app.project_id, { replicas: body.replicas + sumOf(others) });
    await apps.updateApp(ctx.db, app.id, { replicas: body.replicas, stopped: 0 });
    await ctx.events.record({ actor: byUser(user), project_id: app.project_id, app_id: app.id, kind: 'app.scaled', message: `${app.slug} scaled to ${body.replicas}` });
    ctx.nudge(app.id);
    return freshApp(ctx, user, app.id);
  },

  async getFormation({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id);
    return appFormation(ctx.db, app);
  },

  async updateFormation({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const processes = await appProcesses(ctx.db, app);
    const unknown = unknownProcessType(body, processes);
    if (unknown !== null) {
      const types = ['web', ...Object.keys(processes)].join(', ');
      throw badRequest(`${unknown} is not a process type of ${app.slug} (its release has: ${types}); process types come from the Procfile's lines`, unknown);
    }
    // The quota's replicas per app count every process type's.
    const next = { ...(await appFormation(ctx.db, app)), ...body };
    await checkAppShape(ctx, user, app.project_id, { replicas: sumOf(next) });
    const { web, ...others } = body;
    await setFormation(ctx.db, app.id, others);
    if (web !== undefined) await apps.updateApp(ctx.db, app.id, { replicas: web, stopped: 0 });
    const said = Object.entries(body).map(([t, n]) => `${t}=${n}`).join(' ');
    await ctx.events.record({ actor: byUser(user), project_id: app.project_id, app_id: app.id, kind: 'app.scaled', message: `${app.slug} scaled: ${said}` });
    ctx.nudge(app.id);
    return appFormation(ctx.db, (await apps.appById(ctx.db, app.id))!);
  },

  async restartApp({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    if (!app.live_release_id) throw conflict(`${app.slug} has never been deployed`);
    await apps.updateApp(ctx.db, app.id, { restart_seq: app.restart_seq + 1, stopped: 0 });
    await ctx.events.record({ actor: byUser(user), project_id: app.project_id, app_id: app.id, kind: 'app.restarting', message: `${app.slug} is restarting` });
    ctx.nudge(app.id);
    return freshApp(ctx, user, app.id);
  },

  async stopApp({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    await apps.updateApp(ctx.db, app.id, { stopped: 1 });
    ctx.nudge(app.id);
    return freshApp(ctx, user, app.id);
  },

  async startApp({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    await apps.updateApp(ctx.db, app.id, { stopped: 0 });
    ctx.nudge(app.id);
    return freshApp(ctx, user, app.id);
  },

  async setEnv({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const set: Record<string, string | null> = { ...body.set };
    for (const k of body.unset ?? []) {
      if (k in set) throw badRequest(`${k} is both set and unset`, `unset`);
      set[k] = null;
    }
    const keys = [...Object.keys(body.set ?? {}).map((k) => `set ${k}`), ...(body.unset ?? []).map((k) => `unset ${k}`)];
    const { env, release } = await changeEnv(ctx.db, ctx.events, ctx.secrets, app, { set, secret: body.secret ?? [], description: `Config: ${keys.join(', ') || 'secret marking'}`, userId: user.id });
    if (release) ctx.nudge(app.id);
    return { ...maskedEnv(env), release: release && releaseDto(release, app.live_release_id) };
  },
} satisfies Handlers;
