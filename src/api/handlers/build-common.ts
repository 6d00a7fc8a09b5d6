import type { ApiContext, AuthUser } from '../context.js';
import { notFound } from '../errors.js';
import { appOfChild } from '../access.js';
import type { AppView } from '../../store/apps.js';
import type { Role } from '../../store/projects.js';
import * as builds from '../../store/builds.js';
import type { BuildRow } from '../../store/builds.js';
import { SourceError, redact, validateGitUrl, validateRef } from '../../builder/index.js';
import { HttpError, badRequest } from '../errors.js';
import { gitUrlHost } from '../../builder/git.js';
import { EgressRefused, checkHost, type EgressAllow } from '../../lib/egress.js';

export function buildDto(b: BuildRow, slug: string, queue: string[]) {
  const pos = b.status === 'queued' ? queue.indexOf(b.id) + 1 : 0;
  const end = b.finished_at ? Date.parse(b.finished_at) : b.started_at ? Date.now() : null;
  return {
    id: b.id,
    number: b.number,
    app: { id: b.app_id, slug },
    source: b.source,
    repo_url: b.repo_url && redact(b.repo_url),
    branch: b.branch,
    commit_sha: b.commit_sha,
    commit_message: b.commit_message,
    committer: b.committer,
    status: b.status,
    message: b.message,
    builder: b.builder,
    runtime: b.runtime,
    image: b.image,
    release_id: b.release_id,
    queue_position: pos > 0 ? pos : null,
    created_by: b.created_by,
    created_at: b.created_at,
    started_at: b.started_at,
    finished_at: b.finished_at,
    duration_s: b.started_at && end !== null ? Math.max(0, Math.round((end - Date.parse(b.started_at)) / 100) / 10) : null,
  };
}

export async function oneBuildDto(ctx: ApiContext, b: BuildRow, slug: string) {
  return buildDto(b, slug, b.status === 'queued' ? await builds.queuedIds(ctx.db) : []);
}

/** A build and its app, if the caller may see the app (else the same 404 as a missing build). */
export async function buildFor(ctx: ApiContext, user: AuthUser, id: string, need: Role = 'viewer'): Promise<{ build: BuildRow; app: AppView }> {
  const build = await builds.buildById(ctx.db, id);
  if (!build) throw notFound('build', id);
  return { build, app: await appOfChild(ctx, user, build.app_id, need, { kind: 'build', id }) };
}


/**
 * A git URL and branch from a request, checked by git's rules and its host by the egress rule
 * (again at clone time, on the resolved address); a problem is a 400 naming the field.
 */
export function gitTarget(repoUrl: string, branch: string | undefined, allow: EgressAllow): { repoUrl: string; branch: string } {
  try {
    const target = { repoUrl: validateGitUrl(repoUrl), branch: validateRef(branch ?? 'main') };
    const host = gitUrlHost(target.repoUrl);
    if (host) checkHost(host, 'repo_url', allow);
    return target;
  } catch (err) {
    if (err instanceof SourceError) throw badRequest(`${err.field} ${err.reason}`, err.field);
    if (err instanceof EgressRefused) throw new HttpError(400, 'egress_refused', err.message, { field: err.field });
    throw err;
  }
}
