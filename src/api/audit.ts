import type { FastifyInstance, FastifyRequest } from 'fastify';
import { projectOfApp } from '../store/apps.js';
import { isProjectChild, projectOfRow } from '../store/audit.js';
import type { ApiContext } from './context.js';
import { recordAudit, pruneAudit } from '../store/audit.js';
import { findProject } from '../store/projects.js';

declare module 'fastify' {
  interface FastifyRequest {
    auditProject?: string | null;
  }
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOGINS = new Set(['login', 'createSession']);
const PRUNE_EVERY_MS = 3600_000;


const actionOf = (req: FastifyRequest) =>
  ((req.routeOptions.schema as { operationId?: string } | undefined)?.operationId ?? `${req.method} ${req.routeOptions.url}`).slice(0, 128);

/** State-changing calls of known routes; the git remote's fetches and pushes are left to the build they queue. */
function audited(req: FastifyRequest): boolean {
  const url = req.routeOptions.url;
  return !!url && !READS.has(req.method) && !url.startsWith('/git/');
}

async function appProject(ctx: ApiContext, idOrSlug: string): Promise<string | null> {
  return (await projectOfApp(ctx.db, idOrSlug)) ?? null;
}

/** The project a request acts in, read before the handler runs (a delete leaves nothing to read after). */
async function projectOf(ctx: ApiContext, req: FastifyRequest): Promise<string | null> {
  const params = (req.params ?? {}) as Record<string, unknown>;
  const input = { ...((req.query ?? {}) as Record<string, unknown>), ...((req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>) };
  const id = typeof params.id === 'string' ? params.id : undefined;
  const collection = /^\/api\/v1\/(\w+)\/:id/.exec(req.routeOptions.url ?? '')?.[1];
  if (id && collection === 'apps') return appProject(ctx, id);
  if (id && collection === 'projects') return req.user ? ((await findProject(ctx.db, req.user.id, id))?.id ?? null) : null;
  if (id && collection && isProjectChild(collection)) return projectOfRow(ctx.db, collection, id);
  if (typeof input.project === 'string' && req.user) return (await findProject(ctx.db, req.user.id, input.project))?.id ?? null;
  if (typeof input.app === 'string') return appProject(ctx, input.app);
  return null;
}

/**
 * The audit log: every state-changing call to a known route (whatever its outcome, refusals
 * included) and every login attempt, with who, when, from which address, what and the status.
 * Never a body, a query string or a credential: only the route's name and path, and the username a
 * login gave. Written after the answer, so it never delays or fails a request.
 */
export function registerAudit(app: FastifyInstance, ctx: ApiContext, retentionDays: number): void {
  let prunedAt = 0;
  app.addHook('preHandler', async (req) => {
    if (!audited(req)) return;
    req.auditProject = await projectOf(ctx, req).catch(() => null);
  });
  app.addHook('onResponse', async (req, reply) => {
    if (!audited(req)) return;
    const action = actionOf(req);
    const given = (req.body as { username?: unknown } | undefined)?.username;
    const username = req.user?.username ?? (LOGINS.has(action) && typeof given === 'string' ? given.slice(0, 64) : null);
    const entry = {
      at: new Date().toISOString(),
      user_id: req.user?.id ?? null,
      username,
      action,
      method: req.method,
      path: req.url.split('?')[0].slice(0, 512),
      status: reply.statusCode,
      project_id: req.auditProject ?? null,
      address: req.ip ?? null,
      credential: req.user?.via?.kind ?? null,
    };
    try {
      await recordAudit(ctx.db, entry);
      if (Date.now() - prunedAt > PRUNE_EVERY_MS) {
        prunedAt = Date.now();
        await pruneAudit(ctx.db, new Date(Date.now() - retentionDays * 86400_000).toISOString());
      }
    } catch (err) {
      req.log.error({ err, audit: entry }, 'audit entry not written');
    }
  });
}
