import type { ApiContext, AuthUser } from './context.js';
import { projectCountOwnedBy, projectOwner } from '../store/projects.js';
import { appCountInProject } from '../store/apps.js';
import { HttpError } from './errors.js';
import { quotaOf } from '../store/quotas.js';
import type { QuotaLimits } from '../config-access.js';
import { shortestGapS } from '../domain/cron.js';

/**
 * Quotas (docs/security.md, "Access control"): what one user may make, so no tenant can take the
 * machine from the others. Limits are the project owner's (defaults from BERTH_QUOTA_*, an admin's
 * overrides per user); an admin's own calls are not limited.
 */
const exceeded = (field: string, limit: number, message: string) => new HttpError(403, 'quota_exceeded', message, { field, limit });

async function limits(ctx: ApiContext, userId: string): Promise<QuotaLimits> {
  return (await quotaOf(ctx.db, ctx.config.access.quotas, userId)).limits;
}

const ownerOf = (ctx: ApiContext, projectId: string) => projectOwner(ctx.db, projectId);

export async function checkProjectQuota(ctx: ApiContext, user: AuthUser): Promise<void> {
  if (user.is_admin) return;
  const max = (await limits(ctx, user.id)).projects;
  const n = await projectCountOwnedBy(ctx.db, user.id);
  if (n >= max) throw exceeded('name', max, `your quota is ${max} projects and you own ${n}: delete one, or ask an admin to raise it`);
}

export async function checkAppCount(ctx: ApiContext, user: AuthUser, projectId: string): Promise<void> {
  if (user.is_admin) return;
  const max = (await limits(ctx, await ownerOf(ctx, projectId))).apps_per_project;
  const n = await appCountInProject(ctx.db, projectId);
  if (n >= max) throw exceeded('project', max, `the project's quota is ${max} apps and it has ${n}`);
}

export interface AppShape {
  replicas?: number;
  memory?: number;
  cpu?: number;
  placement?: { constraints: string[] } | null;
}

/** Replicas, memory per replica, CPU and placement of an app being created or changed. */
export async function checkAppShape(ctx: ApiContext, user: AuthUser, projectId: string, v: AppShape): Promise<void> {
  if (user.is_admin) return;
  const q = await limits(ctx, await ownerOf(ctx, projectId));
  if (v.replicas !== undefined && v.replicas > q.replicas) throw exceeded('replicas', q.replicas, `replicas ${v.replicas} is over the quota of ${q.replicas} per app`);
  if (v.memory !== undefined && v.memory > q.memory_mb) throw exceeded('memory', q.memory_mb, `memory ${v.memory} MB is over the quota of ${q.memory_mb} MB per replica`);
  if (v.cpu === 0 && ctx.config.access.defaultCpu > 0) {
    throw exceeded('cpu', ctx.config.access.defaultCpu, `cpu 0 (no limit) is for admins; give a number of cores (the default is ${ctx.config.access.defaultCpu})`);
  }
  const allowed = new Set(ctx.config.access.placementLabels);
  (v.placement?.constraints ?? []).forEach((c, i) => {
    const label = /^(?:node|engine)\.labels\.([A-Za-z0-9._-]+)\s*(?:==|!=)/.exec(c)?.[1];
    if (!label || !allowed.has(label)) {
      const which = allowed.size ? `the node labels ${[...allowed].join(', ')}` : 'no constraint (none is allowed)';
      throw new HttpError(403, 'placement_not_allowed', `placement constraint "${c}" is not allowed: tenants may name ${which}; an admin sets BERTH_PLACEMENT_LABELS`, {
        field: `placement.constraints.${i}`,
      });
    }
  });
}

export async function checkCronQuota(ctx: ApiContext, user: AuthUser, projectId: string, schedule: string): Promise<void> {
  if (user.is_admin) return;
  const min = (await limits(ctx, await ownerOf(ctx, projectId))).cron_min_interval_s;
  const gap = shortestGapS(schedule);
  if (gap < min) throw exceeded('schedule', min, `"${schedule}" fires every ${gap} s at times: the quota is once every ${min} s at most`);
}
