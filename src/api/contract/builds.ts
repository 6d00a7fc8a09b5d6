import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';

/** Builds: sources in, images out (see src/builder and src/controllers/builds.ts). */

const Nullable = <X extends Parameters<typeof T.Union>[0][number]>(s: X) => T.Union([s, T.Null()]);

export const BuildStatus = T.Union(['pending', 'queued', 'running', 'succeeded', 'failed', 'canceled'].map((s) => T.Literal(s)), {
  description: 'pending: waiting for the source upload',
});

export const Build = T.Object({
  id: T.String(),
  number: T.Integer(),
  app: T.Object({ id: T.String(), slug: T.String() }),
  source: T.String({ description: 'git, archive, push or image' }),
  repo_url: Nullable(T.String()),
  branch: Nullable(T.String()),
  commit_sha: Nullable(T.String()),
  commit_message: Nullable(T.String()),
  committer: Nullable(T.String()),
  status: BuildStatus,
  message: Nullable(T.String()),
  builder: Nullable(T.String({ description: 'dockerfile, node, python, go, ruby, php or java' })),
  runtime: Nullable(T.String({ description: 'the language line the build chose and why, and the package manager that installed; null for a Dockerfile build or before detection' })),
  image: T.String({ description: 'berth/<app id>:<number>' }),
  release_id: Nullable(T.String()),
  queue_position: Nullable(T.Integer({ description: '1 = next to run; null unless queued' })),
  created_by: Nullable(T.String()),
  created_at: S.Timestamp,
  started_at: Nullable(S.Timestamp),
  finished_at: Nullable(S.Timestamp),
  duration_s: Nullable(T.Number()),
});

export const BuildLogLine = T.Object({ seq: T.Integer(), line: T.String(), time: S.Timestamp });

// Branch names are checked again by git's own rules (validateRef) so the 400 names the exact problem.
const Branch = T.String({ minLength: 1, maxLength: 255 });
const Sha = T.String({ pattern: '^[0-9a-f]{40}$', description: 'a full 40-character commit sha' });

export const buildRoutes = {
  createBuild: {
    method: 'POST',
    path: '/api/v1/apps/:id/builds',
    summary: 'Create a build whose source is uploaded next (POST /api/v1/builds/{id}/upload)',
    tag: 'builds',
    access: 'developer',
    status: 201,
    params: IdParam,
    response: Build,
  },
  createGitBuild: {
    method: 'POST',
    path: '/api/v1/apps/:id/builds/git',
    summary: 'Build a branch, tag or commit of a git repository',
    tag: 'builds',
    access: 'developer',
    status: 201,
    params: IdParam,
    body: closed({ repo_url: T.String({ minLength: 1, maxLength: 2048 }), branch: T.Optional(Branch) }),
    response: Build,
  },
  createPushBuild: {
    method: 'POST',
    path: '/api/v1/apps/:id/builds/push',
    summary: "Build a commit already pushed to the app's git remote (the push hook calls this)",
    tag: 'builds',
    access: 'developer',
    status: 201,
    params: IdParam,
    body: closed({ commit: Sha, branch: T.Optional(Branch) }),
    response: Build,
  },
  listBuilds: {
    method: 'GET',
    path: '/api/v1/apps/:id/builds',
    summary: "List an app's builds, newest first, with their place in the queue",
    tag: 'builds',
    access: 'viewer',
    params: IdParam,
    query: S.Page,
    response: S.paged(Build),
  },
  getBuild: {
    method: 'GET',
    path: '/api/v1/builds/:id',
    summary: 'Build status',
    tag: 'builds',
    access: 'viewer',
    params: IdParam,
    response: Build,
  },
  getBuildDockerfile: {
    method: 'GET',
    path: '/api/v1/builds/:id/dockerfile',
    summary: 'The Dockerfile the build used (generated, or the source’s own)',
    tag: 'builds',
    access: 'viewer',
    params: IdParam,
    response: T.Object({ builder: Nullable(T.String()), generated: T.Boolean(), dockerfile: Nullable(T.String()) }),
  },
  cancelBuild: {
    method: 'POST',
    path: '/api/v1/builds/:id/cancel',
    summary: 'Cancel a pending, queued or running build',
    tag: 'builds',
    access: 'developer',
    params: IdParam,
    response: Build,
  },
  getBuildLog: {
    method: 'GET',
    path: '/api/v1/builds/:id/log',
    summary: 'The build log so far (live: /ws/builds/{id}/logs)',
    tag: 'builds',
    access: 'viewer',
    params: IdParam,
    query: closed({
      after: T.Optional(S.Counter({ minimum: 0, description: 'only lines after this seq' })),
      limit: T.Optional(T.Integer({ minimum: 1, maximum: 10000, default: 5000 })),
    }),
    response: T.Object({ status: BuildStatus, lines: T.Array(BuildLogLine) }),
  },
} as const satisfies Record<string, RouteDef>;
