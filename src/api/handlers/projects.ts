import type { Handlers } from '../register.js';
import { conflict, notFound, badRequest } from '../errors.js';
import { projectFor } from '../access.js';
import { isUniqueViolation } from '../../store/db.js';
import * as projects from '../../store/projects.js';
import type { ProjectView } from '../../store/projects.js';
import { checkProjectQuota } from '../quota.js';
import { findUser } from '../../store/users.js';

export const projectDto = (p: ProjectView) => ({
  id: p.id,
  name: p.name,
  owner: { id: p.owner_id, username: p.owner_username },
  role: p.role,
  apps: p.apps,
  created_at: p.created_at,
  updated_at: p.updated_at,
});

const nameTaken = (name: string) => conflict(`you already have a project named "${name}"`, 'name');

export const projectHandlers = {
  async listProjects({ user, query }, ctx) {
    const limit = query.limit ?? 100;
    const offset = query.offset ?? 0;
    const { items, total } = await projects.listProjects(ctx.db, user.id, { limit, offset });
    return { items: items.map(projectDto), total, limit, offset };
  },

  async createProject({ user, body }, ctx) {
    await checkProjectQuota(ctx, user);
    try {
      const id = await projects.createProject(ctx.db, user.id, body.name);
      return projectDto((await projects.findProject(ctx.db, user.id, id))!);
    } catch (err) {
      if (isUniqueViolation(err)) throw nameTaken(body.name);
      throw err;
    }
  },

  async getProject({ user, params }, ctx) {
    return projectDto(await projectFor(ctx, user, params.id));
  },

  async updateProject({ user, params, body }, ctx) {
    const p = await projectFor(ctx, user, params.id, 'owner');
    if (body.name && body.name !== p.name) {
      try {
        await projects.renameProject(ctx.db, p.id, body.name);
      } catch (err) {
        if (isUniqueViolation(err)) throw nameTaken(body.name);
        throw err;
      }
    }
    return projectDto((await projects.findProject(ctx.db, user.id, p.id))!);
  },

  async deleteProject({ user, params }, ctx) {
    const p = await projectFor(ctx, user, params.id, 'owner');
    if (p.apps > 0) throw conflict(`project "${p.name}" still has ${p.apps} app(s); delete them first`);
    await projects.deleteProject(ctx.db, p.id);
    ctx.collectBuildCaches();
    return { ok: true };
  },

  async listMembers({ user, params }, ctx) {
    const p = await projectFor(ctx, user, params.id);
    return { items: await projects.listMembers(ctx.db, p.id) };
  },

  async addMember({ user, params, body }, ctx) {
    const p = await projectFor(ctx, user, params.id, 'owner');
    const member = await findUser(ctx.db, body.username);
    if (!member) throw notFound('user', body.username);
    if (member.id === p.owner_id && body.role !== 'owner') {
      throw badRequest(`"${member.username}" owns the project; their role stays owner`, 'role');
    }
    await projects.upsertMember(ctx.db, p.id, member.id, body.role);
    const row = (await projects.listMembers(ctx.db, p.id)).find((m) => m.user_id === member.id)!;
    return row;
  },

  async removeMember({ user, params }, ctx) {
    const p = await projectFor(ctx, user, params.id, 'owner');
    const member = await findUser(ctx.db, params.user);
    const current = member && (await projects.listMembers(ctx.db, p.id)).find((m) => m.user_id === member.id);
    if (!member || !current) throw notFound('member', params.user);
    if (member.id === p.owner_id) throw badRequest('the project owner cannot be removed', 'user');
    await projects.removeMember(ctx.db, p.id, member.id);
    return { ok: true };
  },
} satisfies Handlers;
