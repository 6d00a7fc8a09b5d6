import { type TSchema, Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { closed } from './route-def.js';

/** Backups of add-ons and volumes: one shape of schedule, retention, job and routes for both. */

export const Schedule = T.String({ minLength: 1, maxLength: 100, description: 'cron, UTC: 5 fields (m h dom mon dow), or 6 with seconds first' });
export const Keep = T.Integer({ minimum: 1, maximum: 1000, description: 'successful backups kept; older ones are pruned' });

/** A backup or restore of an owner (`addon` or `volume`: the field naming it). */
export const backupJob = <K extends 'addon' | 'volume'>(owner: K) =>
  T.Object({
    id: T.String(),
    ...({ [owner]: T.String() } as { [P in K]: ReturnType<typeof T.String> }),
    kind: T.Union([T.Literal('backup'), T.Literal('restore')]),
    /** For a restore: the backup restored. */
    backup: T.Union([T.String(), T.Null()]),
    trigger: T.Union([T.Literal('manual'), T.Literal('schedule')]),
    status: T.Union([T.Literal('queued'), T.Literal('running'), T.Literal('succeeded'), T.Literal('failed')]),
    size_bytes: T.Union([T.Integer(), T.Null()]),
    reason: T.Union([T.String(), T.Null()]),
    created_at: S.Timestamp,
    finished_at: T.Union([S.Timestamp, T.Null()]),
    /** An add-on backup's restore check (restored into a throwaway container and queried); null: none (a volume's, a restore, one from before checks). */
    verified: T.Union([
      T.Object({
        status: T.Union([T.Literal('pending'), T.Literal('ok'), T.Literal('failed')]),
        /** What the query (PostgreSQL) or DBSIZE (Redis) answered; rows one a line. */
        answer: T.Union([T.String(), T.Null()]),
        /** Why the check failed, in words. */
        error: T.Union([T.String(), T.Null()]),
        duration_ms: T.Union([T.Integer(), T.Null()]),
        at: T.Union([S.Timestamp, T.Null()]),
      }),
      T.Null(),
    ]),
  });

const OwnerParams = closed({ id: S.Id });
const JobParams = closed({ id: S.Id, job: S.Id });

/** The four routes of an owner's backups under `base` (/api/v1/addons, /api/v1/volumes). */
export function backupRoutes<J extends TSchema>(base: string, tag: string, job: J, what: { backup: string; restore: string }) {
  return {
    create: { method: 'POST', path: `${base}/:id/backups`, summary: `Take a backup now (${what.backup})`, tag, access: 'developer', status: 201, params: OwnerParams, response: job },
    list: { method: 'GET', path: `${base}/:id/backups`, summary: 'Its backups, newest first, with size and status', tag, access: 'viewer', params: OwnerParams, response: T.Object({ items: T.Array(job) }) },
    restore: { method: 'POST', path: `${base}/:id/restore`, summary: what.restore, tag, access: 'developer', status: 201, params: OwnerParams, body: closed({ backup: S.Id }), response: job },
    getJob: { method: 'GET', path: `${base}/:id/jobs/:job`, summary: 'A backup or restore, with its status', tag, access: 'viewer', params: JobParams, response: job },
  } as const;
}
