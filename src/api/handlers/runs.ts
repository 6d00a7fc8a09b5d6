import type { Handlers } from '../register.js';
import type { ApiContext, AuthUser } from '../context.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { cronProblem, nextFiring } from '../../domain/cron.js';
import { appFor, appOfChild } from '../access.js';
import { now } from '../../store/db.js';
import * as runs from '../../store/runs.js';
import { newId } from '../../lib/ids.js';
import { checkCronQuota } from '../quota.js';
import { runRoutes } from '../contract/runs.js';
import { releaseById, releaseVersion } from '../../store/releases.js';
import { mayRunIn } from '../../domain/image-owners.js';
import { HttpError } from '../errors.js';

export function runDto(r: runs.RunRow, slug: string, version: number) {
  return {
    id: r.id,
    app: { id: r.app_id, slug },
    release: version,
    kind: r.kind,
    cron: r.cron_id,
    command: r.command,
    status: r.status,
    exit_code: r.exit_code,
    reason: r.reason,
    output: r.output,
    timeout_s: r.timeout_s,
    tty: r.tty === 1,
    created_at: r.created_at,
    finished_at: r.finished_at,
  };
}

const versionOf = (ctx: ApiContext, releaseId: string) => releaseVersion(ctx.db, releaseId);

/**
 * A run the caller may see (a stranger gets the same 404 as for no such run). Developers only: a
 * run's output is what the command printed, and commands print secrets (contract: getRun).
 */
export async function runFor(ctx: ApiContext, user: AuthUser, id: string) {
  const r = await runs.runById(ctx.db, id);
  if (!r) throw notFound('run', id);
  const app = await appOfChild(ctx, user, r.app_id, runRoutes.getRun.access, { kind: 'run', id });
  return { run: r, app };
}

export const oneRunDto = async (ctx: ApiContext, r: runs.RunRow, slug: string) => runDto(r, slug, await versionOf(ctx, r.release_id));

async function cronDto(ctx: ApiContext, c: runs.CronRow) {
  return {
    id: c.id,
    schedule: c.schedule,
    command: c.command,
    timeout_s: c.timeout_s,
    next_at: nextFiring(c.schedule, new Date()).toISOString(),
    last_runs: await runs.runsOfCron(ctx.db, c.id),
    created_at: c.created_at,
  };
}

export const runHandlers = {
  async runCommand({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    if (!app.live_release_id) throw conflict(`app "${app.slug}" has no live release to run a command in: deploy it first`, 'id');
    const live = await releaseById(ctx.db, app.live_release_id);
    const refused = live && (await mayRunIn(ctx.db, ctx.runtime, ctx.config.sharedImages, { projectId: app.project_id, ref: live.image, isAdmin: user.is_admin }));
    if (refused) throw new HttpError(400, 'image_refused', `cannot run a command in the live release v${live!.version}: ${refused}`, { field: 'id' });
    const id = newId('run');
    const row = runs.newRun(id, app, app.live_release_id, 'run', body.command, body.timeout_s ?? 3600, { created_by: user.id, tty: body.tty ? 1 : 0 });
    await runs.insertRun(ctx.db, row);
    await ctx.events.record({ project_id: app.project_id, app_id: app.id, kind: 'run.queued', message: `${user.username} ran ${body.command.join(' ')} in ${app.slug}`, data: { run: id } });
    ctx.nudgeRuns();
    return runDto(row, app.slug, app.live_version ?? 0);
  },

  async listRuns({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id, runRoutes.listRuns.access);
    const rows = await runs.runsOfApp(ctx.db, app.id);
    return { items: await Promise.all(rows.map((r) => oneRunDto(ctx, r, app.slug))) };
  },

  async addCron({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const problem = cronProblem(body.schedule);
    if (problem) throw badRequest(problem, 'schedule');
    await checkCronQuota(ctx, user, app.project_id, body.schedule);
    const row: runs.CronRow = {
      id: newId('cron'),
      app_id: app.id,
      schedule: body.schedule.trim(),
      command: body.command,
      timeout_s: body.timeout_s ?? 3600,
      last_fired_at: null,
      created_at: now(),
    };
    await runs.insertCron(ctx.db, row);
    await ctx.events.record({ project_id: app.project_id, app_id: app.id, kind: 'cron.added', message: `${user.username} scheduled ${body.command.join(' ')} (${row.schedule}) in ${app.slug}`, data: { cron: row.id } });
    return cronDto(ctx, row);
  },

  async listCron({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id);
    return { items: await Promise.all((await runs.cronOfApp(ctx.db, app.id)).map((c) => cronDto(ctx, c))) };
  },

  async removeCron({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const res = await runs.deleteCron(ctx.db, app.id, params.cron);
    if (!Number(res.numDeletedRows)) throw notFound('scheduled command', params.cron);
    await ctx.events.record({ project_id: app.project_id, app_id: app.id, kind: 'cron.removed', message: `${user.username} removed scheduled command ${params.cron} of ${app.slug}`, data: { cron: params.cron } });
    return { ok: true };
  },

  async getRun({ user, params }, ctx) {
    const { run, app } = await runFor(ctx, user, params.id);
    return oneRunDto(ctx, run, app.slug);
  },
} satisfies Handlers;
