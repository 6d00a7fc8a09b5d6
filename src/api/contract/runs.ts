import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { IdParam, closed, type RouteDef } from './route-def.js';

/** Runs: one-off commands (`berth run`) and release commands, in containers of an app's release. */

export const RunStatus = T.Union([T.Literal('queued'), T.Literal('running'), T.Literal('succeeded'), T.Literal('failed')]);

export const Run = T.Object({
  id: T.String(),
  app: T.Object({ id: T.String(), slug: T.String() }),
  /** Version of the release it runs (the live one, for a one-off command). */
  release: T.Integer(),
  kind: T.Union([T.Literal('run'), T.Literal('release'), T.Literal('cron')]),
  /** The scheduled command it ran for (kind cron), else null. */
  cron: T.Union([T.String(), T.Null()]),
  command: T.Array(T.String()),
  status: RunStatus,
  exit_code: T.Union([T.Integer(), T.Null()]),
  /** Why it failed (exit code, timeout, a control-plane stop), null otherwise. */
  reason: T.Union([T.String(), T.Null()]),
  /** stdout and stderr, merged, as far as it got (the first 1 MB). */
  output: T.String(),
  timeout_s: T.Integer(),
  /** Interactive: on a pseudo-terminal reached through /ws/runs/{id}/tty; its output is not kept. */
  tty: T.Boolean(),
  created_at: S.Timestamp,
  finished_at: T.Union([S.Timestamp, T.Null()]),
});

export const CronJob = T.Object({
  id: T.String(),
  schedule: T.String(),
  command: T.Array(T.String()),
  timeout_s: T.Integer(),
  /** The next firing (UTC). */
  next_at: S.Timestamp,
  /** The last 5 runs (and reports of missed firings), newest first, without their output. */
  last_runs: T.Array(T.Object({ id: T.String(), status: RunStatus, exit_code: T.Union([T.Integer(), T.Null()]), reason: T.Union([T.String(), T.Null()]), created_at: S.Timestamp })),
  created_at: S.Timestamp,
});

export const runRoutes = {
  runCommand: {
    method: 'POST',
    path: '/api/v1/apps/:id/run',
    summary: 'Run a one-off command in a new container of the live release (follow it on /ws/runs/{id})',
    tag: 'runs',
    access: 'developer',
    status: 201,
    params: IdParam,
    body: closed({
      command: S.Command,
      timeout_s: T.Optional(T.Integer({ minimum: 1, maximum: 86_400, default: 3600, description: 'killed after this long' })),
      tty: T.Optional(T.Boolean({ description: 'interactive: attach to /ws/runs/{id}/tty (berth run -it)' })),
    }),
    response: Run,
  },
  listRuns: {
    method: 'GET',
    path: '/api/v1/apps/:id/runs',
    summary: 'The app’s last 50 runs (one-off and release commands), newest first',
    tag: 'runs',
    access: 'developer',
    params: IdParam,
    response: T.Object({ items: T.Array(Run) }),
  },
  getRun: {
    method: 'GET',
    path: '/api/v1/runs/:id',
    summary: 'A run, with its output so far',
    tag: 'runs',
    access: 'developer',
    params: IdParam,
    response: Run,
  },
  addCron: {
    method: 'POST',
    path: '/api/v1/apps/:id/cron',
    summary: 'Schedule a command (cron, UTC): each firing is a one-off run of the live release; runs never overlap',
    tag: 'runs',
    access: 'developer',
    status: 201,
    params: IdParam,
    body: closed({
      schedule: T.String({ minLength: 1, maxLength: 100, description: 'cron, UTC: 5 fields (m h dom mon dow), or 6 with seconds first' }),
      command: S.Command,
      timeout_s: T.Optional(T.Integer({ minimum: 1, maximum: 86_400, default: 3600 })),
    }),
    response: CronJob,
  },
  listCron: {
    method: 'GET',
    path: '/api/v1/apps/:id/cron',
    summary: 'The app’s scheduled commands, each with its last runs',
    tag: 'runs',
    access: 'viewer',
    params: IdParam,
    response: T.Object({ items: T.Array(CronJob) }),
  },
  removeCron: {
    method: 'DELETE',
    path: '/api/v1/apps/:id/cron/:cron',
    summary: 'Remove a scheduled command (a run under way finishes)',
    tag: 'runs',
    access: 'developer',
    params: closed({ id: S.Id, cron: S.Id }),
    response: S.Ok,
  },
} as const satisfies Record<string, RouteDef>;
