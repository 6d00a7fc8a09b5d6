import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Handlers } from '../register.js';
import type { ApiContext, AuthUser } from '../context.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import { appFor, projectFor } from '../access.js';
import { releaseDto } from './releases.js';
import { isUniqueViolation, now } from '../../store/db.js';
import * as apps from '../../store/apps.js';
import * as store from '../../store/addons.js';
import { defaultProject, type Role } from '../../store/projects.js';
import { createRelease } from '../../domain/releases.js';
import { mergeEnv, parseEnv } from '../../domain/env.js';
import { ADDON_TYPES, addonHost, addonUrl, backupFile } from '../../domain/addons.js';
import { cronProblem } from '../../domain/cron.js';
import { newId } from '../../lib/ids.js';
import { randomPassword } from '../../lib/crypto.js';

type AddonView = store.AddonRow & { project_name: string; role: Role };

/** An event of the add-on's project (addon.*): the dashboard's add-on screens refetch on them. */
const addonEvent = (ctx: ApiContext, a: store.AddonRow, kind: string, message: string, appId: string | null = null) =>
  ctx.events.record({ project_id: a.project_id, app_id: appId, kind, message, data: { addon: a.id } });

async function addonDto(ctx: ApiContext, a: AddonView) {
  const attached = await store.attachmentsOf(ctx.db, a.id);
  return {
    id: a.id,
    name: a.name,
    type: a.type,
    project: { id: a.project_id, name: a.project_name },
    image: a.image,
    status: a.status,
    message: a.message,
    host: addonHost(a),
    port: ADDON_TYPES[a.type].port,
    attachments: attached.map((t) => ({ app: t.slug, as: t.as_name, var: `${t.as_name}_URL` })),
    backup_schedule: a.backup_schedule,
    backup_keep: a.backup_keep,
    created_at: a.created_at,
  };
}

const jobDto = (j: store.AddonJobRow) => ({
  id: j.id,
  addon: j.addon_id,
  kind: j.kind,
  backup: j.backup_id,
  trigger: j.trigger,
  status: j.status,
  size_bytes: j.size_bytes,
  reason: j.reason,
  created_at: j.created_at,
  finished_at: j.finished_at,
});

/** An add-on the caller may see: by id, or by name within ?project= (or among all their projects when unique). */
async function addonFor(ctx: ApiContext, user: AuthUser, idOrName: string, project: string | undefined, need: 'viewer' | 'developer'): Promise<AddonView> {
  const projectId = project ? (await projectFor(ctx, user, project)).id : undefined;
  const found = (await store.visibleAddons(ctx.db, user.id, projectId).execute()).filter((a) => a.id === idOrName || a.name === idOrName);
  if (!found.length) throw notFound('add-on', idOrName);
  if (found.length > 1) throw badRequest(`several of your projects have an add-on named "${idOrName}": name the project`, 'project');
  const a = found[0]!;
  if (need === 'developer' && a.role === 'viewer') throw forbidden(`your role in project "${a.project_name}" is viewer; you need developer to change add-on "${a.name}"`);
  return a;
}

function checkSchedule(schedule: string | null | undefined) {
  const problem = schedule ? cronProblem(schedule) : null;
  if (problem) throw badRequest(problem, 'backup_schedule');
}

/** Sets or unsets an app's config var; a deployed app gets a release for it. */
async function setAppVar(ctx: ApiContext, user: AuthUser, appId: string, key: string, value: string | null, description: string) {
  const app = (await apps.appById(ctx.db, appId))!;
  const env = JSON.stringify(mergeEnv(ctx.secrets, parseEnv(app.env), { [key]: value }, value === null ? [] : [key]));
  await apps.updateApp(ctx.db, app.id, { env });
  if (!app.release_id || !app.image) return null;
  const row = await createRelease(ctx.db, ctx.events, { ...app, env }, { image: app.image, description, userId: user.id });
  ctx.nudge(app.id);
  return releaseDto(row, app.live_release_id);
}

async function jobFor(ctx: ApiContext, user: AuthUser, addonId: string, jobId: string) {
  const a = await addonFor(ctx, user, addonId, undefined, 'viewer');
  const j = await store.jobById(ctx.db, jobId);
  if (!j || j.addon_id !== a.id) throw notFound('backup', jobId);
  return { a, j };
}

export const addonHandlers = {
  async listAddons({ user, query }, ctx) {
    const projectId = query.project ? (await projectFor(ctx, user, query.project)).id : undefined;
    const rows = await store.visibleAddons(ctx.db, user.id, projectId).execute();
    return { items: await Promise.all(rows.map((a) => addonDto(ctx, a))) };
  },

  async createAddon({ user, body }, ctx) {
    const project = body.project ? await projectFor(ctx, user, body.project, 'developer') : await defaultProject(ctx.db, user.id);
    checkSchedule(body.backup_schedule);
    const name = body.name ?? body.type;
    // Apps and add-ons share the project network's names: the add-on's host name must not be an app's.
    if (await apps.appByName(ctx.db, project.id, name)) throw conflict(`project "${project.name}" has an app named "${name}": give the add-on another name`, 'name');
    const ts = now();
    const row: store.AddonRow = {
      id: newId('addon'),
      project_id: project.id,
      name,
      type: body.type,
      image: ctx.config.addonImages[body.type],
      credentials: ctx.secrets.seal(JSON.stringify({ user: 'berth', password: randomPassword(), database: 'berth' })),
      status: 'creating',
      message: null,
      backup_schedule: body.backup_schedule ?? null,
      backup_keep: body.backup_keep ?? 7,
      created_at: ts,
      updated_at: ts,
    };
    try {
      await store.insertAddon(ctx.db, row);
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`project "${project.name}" already has an add-on named "${name}"`, 'name');
      throw err;
    }
    await addonEvent(ctx, row, 'addon.created', `${user.username} created ${row.type} add-on ${name}`);
    ctx.nudgeAddons();
    return addonDto(ctx, { ...row, project_name: project.name, role: project.role });
  },

  async getAddon({ user, params, query }, ctx) {
    return addonDto(ctx, await addonFor(ctx, user, params.id, query.project, 'viewer'));
  },

  async updateAddon({ user, params, query, body }, ctx) {
    const a = await addonFor(ctx, user, params.id, query.project, 'developer');
    checkSchedule(body.backup_schedule);
    await store.updateAddon(ctx.db, a.id, {
      ...(body.backup_schedule !== undefined ? { backup_schedule: body.backup_schedule } : {}),
      ...(body.backup_keep !== undefined ? { backup_keep: body.backup_keep } : {}),
    });
    ctx.nudgeAddons();
    await addonEvent(ctx, a, 'addon.updated', `${user.username} changed the backup settings of ${a.name}`);
    return addonDto(ctx, await addonFor(ctx, user, a.id, undefined, 'viewer'));
  },

  async deleteAddon({ user, params, query }, ctx) {
    const a = await addonFor(ctx, user, params.id, query.project, 'developer');
    const attached = await store.attachmentsOf(ctx.db, a.id);
    if (attached.length) throw conflict(`add-on "${a.name}" is attached to ${attached.map((t) => t.slug).join(', ')}: detach it first`, 'id');
    // The row goes now; the controller removes the container, the data volume and the backups.
    await store.deleteAddon(ctx.db, a.id);
    await addonEvent(ctx, a, 'addon.deleted', `${user.username} deleted add-on ${a.name}`);
    ctx.nudgeAddons();
    return { ok: true };
  },

  async attachAddon({ user, params, query, body }, ctx) {
    const a = await addonFor(ctx, user, params.id, query.project, 'developer');
    const app = await appFor(ctx, user, body.app, 'developer');
    if (app.project_id !== a.project_id) {
      throw badRequest(`add-on "${a.name}" is in project "${a.project_name}" and app "${app.slug}" in "${app.project_name}": attach within one project`, 'app');
    }
    const as = body.as ?? ADDON_TYPES[a.type].as;
    const key = `${as}_URL`;
    const existing = await store.attachmentsOf(ctx.db, a.id);
    if (existing.some((t) => t.app_id === app.id)) throw conflict(`add-on "${a.name}" is already attached to "${app.slug}"`, 'app');
    const clash = await ctx.db.selectFrom('addon_attachments').select('addon_id').where('app_id', '=', app.id).where('as_name', '=', as).executeTakeFirst();
    if (clash) throw conflict(`app "${app.slug}" already has an add-on attached as ${as}: choose another "as"`, 'as');
    await store.insertAttachment(ctx.db, { addon_id: a.id, app_id: app.id, as_name: as, created_at: now() });
    const release = await setAppVar(ctx, user, app.id, key, addonUrl(ctx.secrets, a), `Attach ${a.name} as ${key}`);
    await addonEvent(ctx, a, 'addon.attached', `${a.name} attached to ${app.slug} as ${key}`, app.id);
    return { addon: await addonDto(ctx, a), release };
  },

  async detachAddon({ user, params, query, body }, ctx) {
    const a = await addonFor(ctx, user, params.id, query.project, 'developer');
    const app = await appFor(ctx, user, body.app, 'developer');
    const t = (await store.attachmentsOf(ctx.db, a.id)).find((x) => x.app_id === app.id);
    if (!t) throw badRequest(`add-on "${a.name}" is not attached to "${app.slug}"`, 'app');
    await store.deleteAttachment(ctx.db, a.id, app.id);
    const release = await setAppVar(ctx, user, app.id, `${t.as_name}_URL`, null, `Detach ${a.name} (${t.as_name}_URL)`);
    await addonEvent(ctx, a, 'addon.detached', `${a.name} detached from ${app.slug}`, app.id);
    return { addon: await addonDto(ctx, a), release };
  },

  async createBackup({ user, params }, ctx) {
    const a = await addonFor(ctx, user, params.id, undefined, 'developer');
    const row = store.newJob(newId('bkp'), a.id, 'backup', 'manual');
    await store.insertJob(ctx.db, row);
    ctx.nudgeAddons();
    return jobDto(row);
  },

  async listBackups({ user, params }, ctx) {
    const a = await addonFor(ctx, user, params.id, undefined, 'viewer');
    return { items: (await store.backupsOf(ctx.db, a.id)).map(jobDto) };
  },

  async restoreBackup({ user, params, body }, ctx) {
    const a = await addonFor(ctx, user, params.id, undefined, 'developer');
    const b = await store.jobById(ctx.db, body.backup);
    const from = b ? await store.addonById(ctx.db, b.addon_id) : undefined;
    if (!b || !from || b.kind !== 'backup' || from.project_id !== a.project_id) throw badRequest(`no backup "${body.backup}" in project "${a.project_name}"`, 'backup');
    if (from.type !== a.type) throw badRequest(`backup "${b.id}" is of a ${from.type} add-on; "${a.name}" is ${a.type}`, 'backup');
    if (b.status !== 'succeeded') throw badRequest(`backup "${b.id}" is ${b.status}: only a succeeded backup can be restored`, 'backup');
    const row = store.newJob(newId('rst'), a.id, 'restore', 'manual', b.id);
    await store.insertJob(ctx.db, row);
    ctx.nudgeAddons();
    return jobDto(row);
  },

  async getAddonJob({ user, params }, ctx) {
    return jobDto((await jobFor(ctx, user, params.id, params.job)).j);
  },
} satisfies Handlers;

/** `GET /api/v1/addons/{id}/backups/{job}/download`: the backup's file (pg_dump custom format, or RDB), streamed. */
export function registerAddonDownload(app: FastifyInstance, ctx: ApiContext) {
  app.get<{ Params: { id: string; job: string } }>(
    '/api/v1/addons/:id/backups/:job/download',
    { config: { auth: true }, schema: { hide: true } },
    async (req, reply) => {
      const { a, j } = await jobFor(ctx, req.user as AuthUser, req.params.id, req.params.job);
      if (j.kind !== 'backup' || j.status !== 'succeeded') throw conflict(`backup "${j.id}" is ${j.status}: nothing to download`, 'job');
      const file = backupFile(ctx.config.dataDir, a.id, j.id, a.type);
      const size = (await stat(file)).size;
      const ext = a.type === 'postgres' ? 'dump' : 'rdb';
      return reply
        .type('application/octet-stream')
        .header('content-length', size)
        .header('content-disposition', `attachment; filename="${a.name}-${j.id}.${ext}"`)
        .send(createReadStream(file));
    },
  );
}
