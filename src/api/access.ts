import type { ApiContext, AuthUser } from './context.js';
import { findProject, type ProjectView, type Role } from '../store/projects.js';
import { findApp, type AppView } from '../store/apps.js';
import { HttpError, forbidden, notFound } from './errors.js';

const rank: Record<Role, number> = { viewer: 0, developer: 1, owner: 2 };
const verbs: Record<Role, string> = { viewer: 'read', developer: 'change', owner: 'administer' };

/**
 * Resolves a project for the caller. A non-member gets the same 404 as for a project that does not
 * exist, so ids and names do not leak; a member whose role is too low gets a 403.
 */
export async function projectFor(ctx: ApiContext, user: AuthUser, idOrName: string, need: Role = 'viewer'): Promise<ProjectView> {
  const p = await findProject(ctx.db, user.id, idOrName);
  if (!p) throw notFound('project', idOrName);
  if (rank[p.role] < rank[need]) throw forbidden(`your role in project "${p.name}" is ${p.role}; you need ${need} to ${verbs[need]} it`);
  return p;
}

export async function appFor(ctx: ApiContext, user: AuthUser, idOrSlug: string, need: Role = 'viewer'): Promise<AppView> {
  const a = await findApp(ctx.db, user.id, idOrSlug);
  if (!a) throw notFound('app', idOrSlug);
  if (rank[a.role] < rank[need]) {
    throw forbidden(`your role in project "${a.project_name}" is ${a.role}; you need ${need} to change app "${a.slug}"`);
  }
  return a;
}

/**
 * The app a child resource (a build, a container) belongs to, for the caller. A caller who may not
 * see the app gets the same 404 as for a child that does not exist, naming the child.
 */
export async function appOfChild(ctx: ApiContext, user: AuthUser, appId: string, need: Role, child: { kind: string; id: string }): Promise<AppView> {
  try {
    return await appFor(ctx, user, appId, need);
  } catch (err) {
    if (err instanceof HttpError && err.status === 404) throw notFound(child.kind, child.id);
    throw err;
  }
}
