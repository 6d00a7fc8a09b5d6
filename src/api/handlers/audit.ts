import type { Handlers } from '../register.js';
import { projectFor } from '../access.js';
import { forbidden } from '../errors.js';
import { listAudit } from '../../store/audit.js';
import { findProject } from '../../store/projects.js';

export const auditHandlers = {
  /** Admins read every entry; an owner reads the entries of a project they own (and must name it). */
  async listAudit({ user, query }, ctx) {
    let project: string | undefined;
    if (query.project) {
      // An admin reads any project's entries, by id, or by a name in a project they belong to.
      project = user.is_admin ? ((await findProject(ctx.db, user.id, query.project))?.id ?? query.project) : (await projectFor(ctx, user, query.project, 'owner')).id;
    } else if (!user.is_admin) {
      throw forbidden('only an admin reads the whole audit log; a project owner gives project');
    }
    const rows = await listAudit(ctx.db, { project, user: query.user, action: query.action, before: query.before, limit: query.limit ?? 100 });
    return {
      items: rows.map((r) => ({
        id: Number(r.id),
        at: r.at,
        user: r.user_id || r.username ? { id: r.user_id, username: r.username } : null,
        action: r.action,
        method: r.method,
        path: r.path,
        status: r.status,
        project: r.project_id,
        address: r.address,
        credential: r.credential === 'token' || r.credential === 'session' ? r.credential : null,
      })),
    };
  },
} satisfies Handlers;
