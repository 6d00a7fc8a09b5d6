import type { Handlers } from '../register.js';
import type { ApiContext, AuthUser } from '../context.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import { projectFor } from '../access.js';
import { isUniqueViolation, now } from '../../store/db.js';
import type { Role } from '../../store/projects.js';
import { defaultProject } from '../../store/projects.js';
import * as volumes from '../../store/volumes.js';
import { appsMounting, engineVolume } from '../../domain/volumes.js';
import { newId } from '../../lib/ids.js';

type VolumeView = volumes.VolumeRow & { project_name: string; role: Role };

async function volumeDto(ctx: ApiContext, v: VolumeView) {
  return {
    id: v.id,
    name: v.name,
    project: { id: v.project_id, name: v.project_name },
    size_mb: v.size_mb,
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
  const found = (await volumes.visibleVolumes(ctx.db, user.id, projectId).execute()).filter((v) => v.id === idOrName || v.name === idOrName);
  if (!found.length) throw notFound('volume', idOrName);
  if (found.length > 1) throw badRequest(`several of your projects have a volume named "${idOrName}": name the project`, 'project');
  const v = found[0]!;
  if (need === 'developer' && v.role === 'viewer') throw forbidden(`your role in project "${v.project_name}" is viewer; you need developer to change volume "${v.name}"`);
  return v;
}

export const volumeHandlers = {
  async listVolumes({ user, query }, ctx) {
    const projectId = query.project ? (await projectFor(ctx, user, query.project)).id : undefined;
    const rows = await volumes.visibleVolumes(ctx.db, user.id, projectId).execute();
    return { items: await Promise.all(rows.map((v) => volumeDto(ctx, v))) };
  },

  async createVolume({ user, body }, ctx) {
    const project = body.project ? await projectFor(ctx, user, body.project, 'developer') : await defaultProject(ctx.db, user.id);
    const row: volumes.VolumeRow = { id: newId('vol'), project_id: project.id, name: body.name, size_mb: body.size_mb ?? null, created_at: now() };
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
    return volumeDto(ctx, await volumeFor(ctx, user, params.id, query.project, 'viewer'));
  },

  async deleteVolume({ user, params, query }, ctx) {
    const v = await volumeFor(ctx, user, params.id, query.project, 'developer');
    const users = await appsMounting(ctx.db, v.project_id, v.name);
    if (users.length) throw conflict(`volume "${v.name}" is mounted by ${users.join(', ')}: unmount it first (berth apps update APP --volume ...)`, 'id');
    await ctx.events.record({ project_id: v.project_id, kind: 'volume.deleted', message: `${user.username} deleted volume ${v.name}`, data: { volume: v.id } });
    // The row goes now; the volume controller removes the engine volume once no container uses it.
    await volumes.deleteVolume(ctx.db, v.id);
    ctx.nudge();
    return { ok: true };
  },
} satisfies Handlers;
