import type { FastifyInstance } from 'fastify';
import type { Handlers } from '../register.js';
import type { ApiContext, AuthUser } from '../context.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import { projectFor } from '../access.js';
import { isUniqueViolation, now } from '../../store/db.js';
import type { Role } from '../../store/projects.js';
import { defaultProject } from '../../store/projects.js';
import * as volumes from '../../store/volumes.js';
import { appsMounting, engineVolume, runningAppsMountingVolume } from '../../domain/volumes.js';
import { newId } from '../../lib/ids.js';
import { rawRoutes } from '../contract/raw.js';
import { backupHandlers, checkSchedule, registerBackupDownload, schedulePatch, type BackupSubject } from './backups.js';

type VolumeView = volumes.VolumeRow & { project_name: string; role: Role };

/** `used_bytes` is measured only when asked (one volume read by id): it runs a helper container. */
async function volumeDto(ctx: ApiContext, v: VolumeView, measure = false) {
  return {
    id: v.id,
    name: v.name,
    project: { id: v.project_id, name: v.project_name },
    size_mb: v.size_mb,
    used_bytes: measure ? await ctx.volumeUsage(v) : null,
    backup_schedule: v.backup_schedule,
    backup_keep: v.backup_keep,
    engine_name: engineVolume(v.id),
    mounted_by: await appsMounting(ctx.db, v.project_id, v.name),
    created_at: v.created_at,
  };
}

/**
 * A volume the caller may see: by id, or by name within ?project= (or among all their projects,
 * when the name is unique there). A stranger gets the same 404 as for no such volume.
 */
async function volumeFor(ctx: ApiContext, user: AuthUser, idOrName: string, project: string | undefined, need: 'viewer' | 'developer'): Promise<VolumeView> {
  const projectId = project ? (await projectFor(ctx, user, project)).id : undefined;
  const found = (await volumes.visibleVolumes(ctx.db, user.id, projectId)).filter((v) => v.id === idOrName || v.name === idOrName);
  if (!found.length) throw notFound('volume', idOrName);
  if (found.length > 1) throw badRequest(`several of your projects have a volume named "${idOrName}": name the project`, 'project');
  const v = found[0]!;
  if (need === 'developer' && v.role === 'viewer') throw forbidden(`your role in project "${v.project_name}" is viewer; you need developer to change volume "${v.name}"`);
  return v;
}

/**
 * A restore replaces every file of the volume, so it is refused (409) while an app that mounts it
 * runs: the user stops those apps, restores, and starts them again. Berth does not stop them
 * itself, so a restore never takes an app down unasked.
 */
async function refuseWhileMounted(ctx: ApiContext, v: BackupSubject) {
  const running = await runningAppsMountingVolume(ctx.db, v.project_id, v.name);
  if (!running.length) return;
  const list = running.join(', ');
  throw conflict(
    `volume "${v.name}" is mounted by ${list}, which ${running.length > 1 ? 'run' : 'runs'}: a restore replaces its files, so stop ${list} first (berth apps stop APP), restore, then start again (berth apps start APP)`,
    'id',
  );
}

const backups = backupHandlers(
  'volume',
  async (ctx, user, id, need) => subject(await volumeFor(ctx, user, id, undefined, need)),
  (ctx) => ctx.nudgeVolumes(),
  { before: refuseWhileMounted },
);

export const volumeHandlers = {
  async listVolumes({ user, query }, ctx) {
    const projectId = query.project ? (await projectFor(ctx, user, query.project)).id : undefined;
    const rows = await volumes.visibleVolumes(ctx.db, user.id, projectId);
    return { items: await Promise.all(rows.map((v) => volumeDto(ctx, v))) };
  },

  async createVolume({ user, body }, ctx) {
    const project = body.project ? await projectFor(ctx, user, body.project, 'developer') : await defaultProject(ctx.db, user.id);
    checkSchedule(body.backup_schedule);
    const row: volumes.VolumeRow = {
      id: newId('vol'),
      project_id: project.id,
      name: body.name,
      size_mb: body.size_mb ?? null,
      backup_schedule: body.backup_schedule ?? null,
      backup_keep: body.backup_keep ?? 7,
      created_at: now(),
    };
    try {
      await volumes.insertVolume(ctx.db, row);
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`project "${project.name}" already has a volume named "${body.name}"`, 'name');
      throw err;
    }
    await ctx.events.record({ project_id: project.id, kind: 'volume.created', message: `${user.username} created volume ${row.name}`, data: { volume: row.id } });
    return volumeDto(ctx, { ...row, project_name: project.name, role: project.role });
  },

  async getVolume({ user, params, query }, ctx) {
    return volumeDto(ctx, await volumeFor(ctx, user, params.id, query.project, 'viewer'), true);
  },

  async updateVolume({ user, params, query, body }, ctx) {
    const v = await volumeFor(ctx, user, params.id, query.project, 'developer');
    await volumes.updateVolume(ctx.db, v.id, schedulePatch(body));
    ctx.nudgeVolumes();
    return volumeDto(ctx, await volumeFor(ctx, user, v.id, undefined, 'viewer'));
  },

  async deleteVolume({ user, params, query }, ctx) {
    const v = await volumeFor(ctx, user, params.id, query.project, 'developer');
    const users = await appsMounting(ctx.db, v.project_id, v.name);
    if (users.length) throw conflict(`volume "${v.name}" is mounted by ${users.join(', ')}: unmount it first (berth apps update APP --volume ...)`, 'id');
    await ctx.events.record({ project_id: v.project_id, kind: 'volume.deleted', message: `${user.username} deleted volume ${v.name}`, data: { volume: v.id } });
    // The row goes now; the volume controller removes the engine volume once no container uses it.
    await volumes.deleteVolume(ctx.db, v.id);
    ctx.nudgeVolumes();
    return { ok: true };
  },

  createVolumeBackup: backups.create,
  listVolumeBackups: backups.list,
  restoreVolume: backups.restore,
  getVolumeJob: backups.getJob,
} satisfies Handlers;

const subject = (v: VolumeView): BackupSubject => ({ owner: { kind: 'volume', id: v.id }, name: v.name, project_id: v.project_id, project_name: v.project_name });

/** `GET /api/v1/volumes/{id}/backups/{job}/download`: the backup's tar file, streamed. */
export function registerVolumeDownload(app: FastifyInstance, ctx: ApiContext) {
  registerBackupDownload(app, ctx, '/api/v1/volumes', async (user, id) => ({ ...subject(await volumeFor(ctx, user, id, undefined, rawRoutes.downloadVolumeBackup.access)), ext: 'tar' }));
}
