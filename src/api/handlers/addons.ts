import type { FastifyInstance } from 'fastify';
import type { Handlers } from '../register.js';
import type { ApiContext, AuthUser } from '../context.js';
import { HttpError, badRequest, conflict, forbidden, notFound } from '../errors.js';
import { appFor, projectFor } from '../access.js';
import { releaseDto } from './releases.js';
import { isUniqueViolation, now } from '../../store/db.js';
import * as apps from '../../store/apps.js';
import * as store from '../../store/addons.js';
import { defaultProject, type Role } from '../../store/projects.js';
import { changeEnv } from '../../domain/apps.js';
import { ADDON_TYPES, addonBackupExt, addonHost, addonUrl, addonVersion } from '../../domain/addons.js';
import { parseTarget } from '../../domain/addon-pitr.js';
import { backupHandlers, checkSchedule, jobDto, jobOf, registerBackupDownload, schedulePatch, type BackupSubject } from './backups.js';
import * as backupStore from '../../store/backups.js';
import { verifyQueryProblem } from '../../domain/addon-verify.js';
import { newId } from '../../lib/ids.js';
import { randomPassword } from '../../lib/crypto.js';
import { byUser } from '../../domain/events.js';
import { rawRoutes } from '../contract/raw.js';

type AddonView = store.AddonRow & { project_name: string; role: Role };

/** An event of the add-on's project (addon.*): the dashboard's add-on screens refetch on them. */
const addonEvent = (ctx: ApiContext, user: AuthUser, a: store.AddonRow, kind: string, message: string, appId: string | null = null) =>
  ctx.events.record({ actor: byUser(user), project_id: a.project_id, app_id: appId, kind, message, data: { addon: a.id } });

async function addonDto(ctx: ApiContext, a: AddonView) {
  const attached = await store.attachmentsOf(ctx.db, a.id);
  return {
    id: a.id,
    name: a.name,
    type: a.type,
    project: { id: a.project_id, name: a.project_name },
    image: a.image,
    version: addonVersion(ctx.config.addonImages[a.type], a.image),
    status: a.status,
    message: a.message,
    host: addonHost(a),
    port: ADDON_TYPES[a.type].port,
    attachments: attached.map((t) => ({ app: t.slug, as: t.as_name, var: `${t.as_name}_URL` })),
    backup_schedule: a.backup_schedule,
    backup_keep: a.backup_keep,
    pitr: a.type === 'postgres' ? { window_days: a.pitr_days, earliest: a.pitr_earliest, latest_base_backup: a.pitr_base_at, verified: store.baseBackupCheck(a) } : null,
    rewind: a.rewind_target ? { target: a.rewind_target, recovered_to: a.rewound_to } : null,
    verify_query: a.verify_query,
    fork: a.fork_of && a.fork_target ? { of: (await store.addonById(ctx.db, a.fork_of))?.name ?? null, target: a.fork_target, recovered_to: a.recovered_to } : null,
    created_at: a.created_at,
  };
}

const subject = (a: AddonView): BackupSubject => ({ owner: { kind: 'addon', id: a.id }, name: a.name, project_id: a.project_id, project_name: a.project_name });

/** An add-on the caller may see: by id, or by name within ?project= (or among all their projects when unique). */
export async function addonFor(ctx: ApiContext, user: AuthUser, idOrName: string, project: string | undefined, need: 'viewer' | 'developer'): Promise<AddonView> {
  const projectId = project ? (await projectFor(ctx, user, project)).id : undefined;
  const found = (await store.visibleAddons(ctx.db, user.id, projectId)).filter((a) => a.id === idOrName || a.name === idOrName);
  if (!found.length) throw notFound('add-on', idOrName);
  if (found.length > 1) throw badRequest(`several of your projects have an add-on named "${idOrName}": name the project`, 'project');
  const a = found[0]!;
  if (need === 'developer' && a.role === 'viewer') throw forbidden(`your role in project "${a.project_name}" is viewer; you need developer to change add-on "${a.name}"`);
  return a;
}

/** Sets or unsets an app's config var; a deployed app gets a release for it. */
async function setAppVar(ctx: ApiContext, user: AuthUser, appId: string, key: string, value: string | null, description: string) {
  const app = (await apps.appById(ctx.db, appId))!;
  const { release } = await changeEnv(ctx.db, ctx.events, ctx.secrets, app, { set: { [key]: value }, secret: value === null ? [] : [key], description, userId: user.id });
  if (!release) return null;
  ctx.nudge(app.id);
  return releaseDto(release, app.live_release_id);
}

const noPitrYet = (days: number) => ({ pitr_days: days, pitr_base_at: null, pitr_earliest: null, fork_of: null, fork_target: null, recovered_to: null, rewind_target: null, rewound_to: null, verify_query: null, pitr_verified: null });

/** The time a point-in-time restore of `a` asks for, checked: a time (400 on `to`), within its window (409 stating it). */
function restoreTarget(a: AddonView, to: string): Date {
  if (a.type !== 'postgres') throw badRequest(`add-on "${a.name}" is ${a.type}: point-in-time restores are for PostgreSQL add-ons`, 'id');
  const target = parseTarget(to);
  if (!target) throw badRequest(`"to" must be a time like 2026-12-05 14:04:30 (UTC unless it ends in Z or ±HH:MM); got "${to}"`, 'to');
  const latest = new Date();
  if (!a.pitr_earliest) throw new HttpError(409, 'conflict', `add-on "${a.name}" has no base backup yet: nothing to restore from (its first is taken once it runs)`, { field: 'to', earliest: null, latest: latest.toISOString() });
  if (target < new Date(a.pitr_earliest) || target > latest) {
    throw new HttpError(409, 'conflict', `${target.toISOString()} is outside the recovery window of "${a.name}": ${a.pitr_earliest} to now (${latest.toISOString()})`, {
      field: 'to',
      earliest: a.pitr_earliest,
      latest: latest.toISOString(),
    });
  }
  return target;
}

/**
 * An in-place restore: the caller types the add-on's name (`confirm`); its data goes back to the
 * time, its URL stays. The add-on controller holds the server, restores, starts it again (pitr.ts).
 */
const rewindAddon: Handlers['rewindAddon'] = async ({ user, params, query, body }, ctx) => {
  const a = await addonFor(ctx, user, params.id, query.project, 'developer');
  if (body.confirm !== a.name && body.confirm !== a.id) throw badRequest(`type the add-on's name, "${a.name}", in "confirm": its data since the time is lost`, 'confirm');
  const target = restoreTarget(a, body.to);
  if ((a.fork_of && !a.recovered_to) || (a.rewind_target && !a.rewound_to && a.status === 'creating')) throw conflict(`add-on "${a.name}" is being restored: wait for it`, 'id');
  await store.updateAddon(ctx.db, a.id, { rewind_target: target.toISOString(), rewound_to: null, status: 'creating', message: `restoring in place to ${target.toISOString()}` });
  await addonEvent(ctx, user, a, 'addon.restoring', `${user.username} restores ${a.name} in place to ${target.toISOString()}`);
  ctx.nudgeAddons();
  return addonDto(ctx, await addonFor(ctx, user, a.id, undefined, 'viewer'));
};

/**
 * A point-in-time restore into a new add-on: checks the time against the source's window (from its
 * oldest base backup to now) and writes the fork's row; the add-on controller restores its data
 * from the source's archive, then starts it (controllers/addons/pitr.ts). The fork gets the source's
 * credentials: they are those of the restored database.
 */
/** Writes the new add-on; its name taken in the project is a 409 naming `name`. */
async function insertNamed(ctx: ApiContext, row: store.AddonRow, projectName: string): Promise<void> {
  try {
    await store.insertAddon(ctx.db, row);
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict(`project "${projectName}" already has an add-on named "${row.name}"`, 'name');
    throw err;
  }
}

const forkAddon: Handlers['forkAddon'] = async ({ user, params, query, body }, ctx) => {
  const a = await addonFor(ctx, user, params.id, query.project, 'developer');
  const target = restoreTarget(a, body.to);
  const stamp = target.toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
  const name = body.name ?? `${a.name.slice(0, 40)}-${stamp}`.toLowerCase();
  if (await apps.appByName(ctx.db, a.project_id, name)) throw conflict(`project "${a.project_name}" has an app named "${name}": give the fork another name`, 'name');
  const ts = now();
  const row: store.AddonRow = {
    id: newId('addon'),
    project_id: a.project_id,
    name,
    type: 'postgres',
    image: a.image,
    credentials: a.credentials,
    status: 'creating',
    message: `restoring ${a.name} to ${target.toISOString()}`,
    backup_schedule: null,
    backup_keep: a.backup_keep,
    ...noPitrYet(a.pitr_days),
    verify_query: a.verify_query,
    fork_of: a.id,
    fork_target: target.toISOString(),
    created_at: ts,
    updated_at: ts,
  };
  await insertNamed(ctx, row, a.project_name);
  await addonEvent(ctx, user, row, 'addon.created', `${user.username} forked ${a.name} at ${target.toISOString()} as ${name}`);
  ctx.nudgeAddons();
  return addonDto(ctx, { ...row, project_name: a.project_name, role: a.role });
};

/** The restore-check query an update sets (only when given), checked: 400 on `verify_query`. */
function verifyQueryPatch(a: AddonView, q: string | null | undefined) {
  if (q === undefined) return {};
  if (q !== null && a.type !== 'postgres') throw badRequest(`add-on "${a.name}" is ${a.type}: its backups are checked with DBSIZE, a query is for PostgreSQL add-ons`, 'verify_query');
  const problem = q === null ? null : verifyQueryProblem(q);
  if (problem) throw badRequest(`${problem}`, 'verify_query');
  return { verify_query: q === null ? null : q.trim() };
}

/** Asks for a backup's restore check again (after a change of query, or to re-check an old backup); the add-on controller runs it. */
const verifyAddonBackup: Handlers['verifyAddonBackup'] = async ({ user, params }, ctx) => {
  const a = await addonFor(ctx, user, params.id, undefined, 'developer');
  const j = await jobOf(ctx, subject(a), params.job);
  if (j.kind !== 'backup' || j.status !== 'succeeded') throw conflict(`backup "${j.id}" is ${j.kind === 'backup' ? j.status : 'a restore'}: only a succeeded backup can be checked`, 'job');
  if (j.verify_status !== 'pending') await backupStore.updateJob(ctx.db, j.id, { verify_status: 'pending' });
  await addonEvent(ctx, user, a, 'addon.backup.verifying', `${user.username} asked for a restore check of backup ${j.id} of ${a.name}`);
  ctx.nudgeAddons();
  return jobDto('addon', { ...j, verify_status: 'pending' });
};

const backups = backupHandlers(
  'addon',
  async (ctx, user, id, need) => {
    const a = await addonFor(ctx, user, id, undefined, need);
    return { ...subject(a), type: a.type };
  },
  (ctx) => ctx.nudgeAddons(),
  {
    source: async (ctx, a, from, b) => {
      const src = await store.addonById(ctx.db, from.id);
      if (src?.type !== a.type) throw badRequest(`backup "${b.id}" is of a ${src?.type} add-on; "${a.name}" is ${a.type}`, 'backup');
      // pg_restore reads dumps of its own and older versions only: 15 cannot restore a dump of 17.
      const images = ctx.config.addonImages[a.type];
      const target = await store.addonById(ctx.db, a.owner.id);
      const [was, is] = [addonVersion(images, src.image), target ? addonVersion(images, target.image) : null];
      if (was && is && Number(was) > Number(is)) throw badRequest(`backup "${b.id}" is of ${a.type} ${was}; "${a.name}" runs ${is}, which cannot restore it: restore it into a ${was} add-on`, 'backup');
    },
  },
);

export const addonHandlers = {
  async listAddons({ user, query }, ctx) {
    const projectId = query.project ? (await projectFor(ctx, user, query.project)).id : undefined;
    const rows = await store.visibleAddons(ctx.db, user.id, projectId);
    return { items: await Promise.all(rows.map((a) => addonDto(ctx, a))) };
  },

  async createAddon({ user, body }, ctx) {
    const project = body.project ? await projectFor(ctx, user, body.project, 'developer') : await defaultProject(ctx.db, user.id);
    checkSchedule(body.backup_schedule);
    const name = body.name ?? body.type;
    const images = ctx.config.addonImages[body.type];
    const version = body.version ?? images.default;
    const image = images.versions[version];
    if (!image) throw badRequest(`${body.type} ${version} is not offered here; versions: ${Object.keys(images.versions).sort((x, y) => Number(y) - Number(x)).join(', ')}`, 'version');
    // Apps and add-ons share the project network's names: the add-on's host name must not be an app's.
    if (await apps.appByName(ctx.db, project.id, name)) throw conflict(`project "${project.name}" has an app named "${name}": give the add-on another name`, 'name');
    const ts = now();
    const row: store.AddonRow = {
      id: newId('addon'),
      project_id: project.id,
      name,
      type: body.type,
      image,
      credentials: store.sealCredentials(ctx.secrets, { user: 'berth', password: randomPassword(), database: 'berth' }),
      status: 'creating',
      message: null,
      backup_schedule: body.backup_schedule ?? null,
      backup_keep: body.backup_keep ?? 7,
      ...noPitrYet(body.pitr_days ?? 7),
      created_at: ts,
      updated_at: ts,
    };
    await insertNamed(ctx, row, project.name);
    await addonEvent(ctx, user, row, 'addon.created', `${user.username} created ${row.type} add-on ${name}`);
    ctx.nudgeAddons();
    return addonDto(ctx, { ...row, project_name: project.name, role: project.role });
  },

  async getAddon({ user, params, query }, ctx) {
    return addonDto(ctx, await addonFor(ctx, user, params.id, query.project, 'viewer'));
  },

  // The password is in it: developers only (the attach route gives them the same value in a config var).
  async getAddonUrl({ user, params, query }, ctx) {
    const a = await addonFor(ctx, user, params.id, query.project, 'viewer');
    if (a.role === 'viewer') throw forbidden(`your role in project "${a.project_name}" is viewer; you need developer to read the connection URL of add-on "${a.name}"`);
    return { url: addonUrl(ctx.secrets, a), var: `${ADDON_TYPES[a.type].as}_URL` };
  },

  async updateAddon({ user, params, query, body }, ctx) {
    const a = await addonFor(ctx, user, params.id, query.project, 'developer');
    const patch = { ...schedulePatch(body), ...(body.pitr_days !== undefined ? { pitr_days: body.pitr_days } : {}), ...verifyQueryPatch(a, body.verify_query) };
    await store.updateAddon(ctx.db, a.id, patch);
    ctx.nudgeAddons();
    await addonEvent(ctx, user, a, 'addon.updated', `${user.username} changed the backup settings of ${a.name}`);
    return addonDto(ctx, await addonFor(ctx, user, a.id, undefined, 'viewer'));
  },

  async deleteAddon({ user, params, query }, ctx) {
    const a = await addonFor(ctx, user, params.id, query.project, 'developer');
    const attached = await store.attachmentsOf(ctx.db, a.id);
    if (attached.length) throw conflict(`add-on "${a.name}" is attached to ${attached.map((t) => t.slug).join(', ')}: detach it first`, 'id');
    // The row goes now; the controller removes the container, the data volume and the backups.
    await store.deleteAddon(ctx.db, a.id);
    await addonEvent(ctx, user, a, 'addon.deleted', `${user.username} deleted add-on ${a.name}`);
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
    const clash = await store.attachmentAs(ctx.db, app.id, as);
    if (clash) throw conflict(`app "${app.slug}" already has an add-on attached as ${as}: choose another "as"`, 'as');
    await store.insertAttachment(ctx.db, { addon_id: a.id, app_id: app.id, as_name: as, created_at: now() });
    const release = await setAppVar(ctx, user, app.id, key, addonUrl(ctx.secrets, a), `Attach ${a.name} as ${key}`);
    await addonEvent(ctx, user, a, 'addon.attached', `${a.name} attached to ${app.slug} as ${key}`, app.id);
    return { addon: await addonDto(ctx, a), release };
  },

  async detachAddon({ user, params, query, body }, ctx) {
    const a = await addonFor(ctx, user, params.id, query.project, 'developer');
    const app = await appFor(ctx, user, body.app, 'developer');
    const t = (await store.attachmentsOf(ctx.db, a.id)).find((x) => x.app_id === app.id);
    if (!t) throw badRequest(`add-on "${a.name}" is not attached to "${app.slug}"`, 'app');
    await store.deleteAttachment(ctx.db, a.id, app.id);
    const release = await setAppVar(ctx, user, app.id, `${t.as_name}_URL`, null, `Detach ${a.name} (${t.as_name}_URL)`);
    await addonEvent(ctx, user, a, 'addon.detached', `${a.name} detached from ${app.slug}`, app.id);
    return { addon: await addonDto(ctx, a), release };
  },

  forkAddon,
  rewindAddon,
  createBackup: backups.create,
  listBackups: backups.list,
  restoreBackup: backups.restore,
  getAddonJob: backups.getJob,
  verifyAddonBackup,
} satisfies Handlers;

/** `GET /api/v1/addons/{id}/backups/{job}/download`: the backup's file (pg_dump custom format, or RDB), streamed. */
export function registerAddonDownload(app: FastifyInstance, ctx: ApiContext) {
  registerBackupDownload(app, ctx, '/api/v1/addons', async (user, id) => {
    const a = await addonFor(ctx, user, id, undefined, rawRoutes.downloadAddonBackup.access);
    return { ...subject(a), ext: addonBackupExt(a.type) };
  });
}
