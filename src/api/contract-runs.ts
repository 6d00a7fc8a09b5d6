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
  kind: T.Union([T.Literal('run'), T.Literal('release')]),
  command: T.Array(T.String()),
  status: RunStatus,
  exit_code: T.Union([T.Integer(), T.Null()]),
  /** Why it failed (exit code, timeout, a control-plane stop), null otherwise. */
  reason: T.Union([T.String(), T.Null()]),
  /** stdout and stderr, merged, as far as it got (the first 1 MB). */
  output: T.String(),
  timeout_s: T.Integer(),
  created_at: S.Timestamp,
  finished_at: T.Union([S.Timestamp, T.Null()]),
});

export const runRoutes = {
  runCommand: {
    method: 'POST',
    path: '/api/v1/apps/:id/run',
    summary: 'Run a one-off command in a new container of the live release (follow it on /ws/runs/{id})',
    tag: 'runs',
    status: 201,
    params: IdParam,
    body: closed({
      command: S.Command,
      timeout_s: T.Optional(T.Integer({ minimum: 1, maximum: 86_400, default: 3600, description: 'killed after this long' })),
    }),
    response: Run,
  },
  listRuns: {
    method: 'GET',
    path: '/api/v1/apps/:id/runs',
    summary: 'The app’s last 50 runs (one-off and release commands), newest first',
    tag: 'runs',
    params: IdParam,
    response: T.Object({ items: T.Array(Run) }),
  },
  getRun: {
    method: 'GET',
    path: '/api/v1/runs/:id',
    summary: 'A run, with its output so far',
    tag: 'runs',
    params: IdParam,
    response: Run,
  },
} as const satisfies Record<string, RouteDef>;
