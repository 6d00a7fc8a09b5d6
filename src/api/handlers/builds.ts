import { promises as fs } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Handlers } from '../register.js';
import type { ApiContext, AuthUser } from '../context.js';
import { badRequest, conflict } from '../errors.js';
import { appFor } from '../access.js';
import type { AppView } from '../../store/apps.js';
import * as builds from '../../store/builds.js';
import type { BuildRow } from '../../store/builds.js';
import { now } from '../../store/db.js';
import { run } from '../../lib/exec.js';
import { SourceError, validateRef } from '../../builder/index.js';
import { redact } from '../../lib/redact.js';
import { bareRepo, buildDir } from '../../config.js';
import { buildDto, buildFor, gitTarget, oneBuildDto } from './build-common.js';
import { registerUpload } from './build-upload.js';
import { registerGitRemote } from './git-remote.js';
import { byUser } from '../../domain/events.js';

const sourceError = (err: unknown) => {
  if (err instanceof SourceError) return badRequest(`${err.field} ${err.reason}`, err.field);
  return err;
};

async function queued(ctx: ApiContext, user: AuthUser, app: AppView, b: BuildRow, what: string) {
  await ctx.events.record({ actor: byUser(user), project_id: app.project_id, app_id: app.id, kind: 'build.queued', message: `build #${b.number} queued (${what})`, data: { build: b.number, build_id: b.id } });
  ctx.nudgeBuilds();
  return oneBuildDto(ctx, b, app.slug);
}

export const buildHandlers = {
  async createBuild({ user, params }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const b = await builds.insertBuild(ctx.db, { appId: app.id, slug: app.slug, source: 'archive', status: 'pending', userId: user.id });
    return oneBuildDto(ctx, b, app.slug);
  },

  async createGitBuild({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const { repoUrl, branch } = gitTarget(body.repo_url, body.branch, ctx.config.egressAllow);
    const b = await builds.insertBuild(ctx.db, { appId: app.id, slug: app.slug, source: 'git', status: 'queued', repoUrl, branch, userId: user.id });
    return queued(ctx, user, app, b, `${redact(repoUrl)} ${branch}`);
  },

  async createPushBuild({ user, params, body }, ctx) {
    const app = await appFor(ctx, user, params.id, 'developer');
    const branch = body.branch ?? 'main';
    try {
      validateRef(branch);
    } catch (err) {
      throw sourceError(err);
    }
    const repo = bareRepo(ctx.config.dataDir, app.id);
    const info = await run('git', ['--git-dir', repo, 'log', '-1', '--format=%H%x00%s%x00%cn <%ce>', `${body.commit}^{commit}`, '--'], {
      timeoutMs: 10_000,
    });
    if (info.code !== 0) throw badRequest(`commit ${body.commit} is not in the app's git remote; push it first`, 'commit');
    const [sha, message, committer] = info.stdout.trim().split('\0');
    const b = await builds.insertBuild(ctx.db, {
      appId: app.id,
      slug: app.slug,
      source: 'push',
      status: 'queued',
      branch,
      commit: { sha, message: message ?? '', committer: committer ?? '' },
      userId: user.id,
    });
    return queued(ctx, user, app, b, `push of ${sha.slice(0, 7)}`);
  },

  async listBuilds({ user, params, query }, ctx) {
    const app = await appFor(ctx, user, params.id);
    const limit = query.limit ?? 100;
    const offset = query.offset ?? 0;
    const [rows, total, queue] = await Promise.all([
      builds.listBuilds(ctx.db, app.id, limit, offset),
      builds.countBuilds(ctx.db, app.id),
      builds.queuedIds(ctx.db),
    ]);
    return { items: rows.map((b) => buildDto(b, app.slug, queue)), total, limit, offset };
  },

  async getBuild({ user, params }, ctx) {
    const { build, app } = await buildFor(ctx, user, params.id);
    return oneBuildDto(ctx, build, app.slug);
  },

  async getBuildDockerfile({ user, params }, ctx) {
    const { build } = await buildFor(ctx, user, params.id);
    return { builder: build.builder, generated: !!build.builder && build.builder !== 'dockerfile', dockerfile: build.dockerfile };
  },

  async cancelBuild({ user, params }, ctx) {
    const { build, app } = await buildFor(ctx, user, params.id, 'developer');
    if (builds.isFinished(build.status)) throw conflict(`build #${build.number} already ${build.status}`);
    const won = await builds.transition(ctx.db, build.id, ['pending', 'queued', 'running'], {
      status: 'canceled',
      message: `canceled by ${user.username}`,
      finished_at: now(),
    });
    if (!won) throw conflict(`build #${build.number} finished before it could be canceled`);
    // A waiting build has nothing running: free its source now. A running one is stopped by the worker.
    if (build.status !== 'running') await fs.rm(buildDir(ctx.config.dataDir, build.id), { recursive: true, force: true });
    await ctx.events.record({ actor: byUser(user), project_id: app.project_id, app_id: app.id, kind: 'build.canceled', message: `build #${build.number} canceled by ${user.username}`, data: { build: build.number, build_id: build.id } });
    ctx.nudgeBuilds();
    ctx.buildLogs.notify(build.id);
    return oneBuildDto(ctx, (await builds.buildById(ctx.db, build.id))!, app.slug);
  },

  async getBuildLog({ user, params, query }, ctx) {
    const { build } = await buildFor(ctx, user, params.id);
    const lines = await builds.logsAfter(ctx.db, build.id, query.after ?? 0, query.limit ?? 5000);
    return { status: build.status, lines: lines.map((l) => ({ seq: l.seq, line: l.line, time: l.created_at })) };
  },
} satisfies Handlers;

/** Routes outside the JSON contract: the source upload and the git smart-HTTP remote (raw bodies, not JSON). */
export async function registerBuildExtras(app: FastifyInstance, ctx: ApiContext): Promise<void> {
  await app.register(async (scope) => {
    // These routes read their bodies as raw streams (archives, git packs); no parser may consume them.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
    registerUpload(scope, ctx);
    registerGitRemote(scope, ctx);
  });
}
