import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { ApiContext, AuthUser } from '../context.js';
import { badRequest, conflict, notFound } from '../errors.js';
import * as store from '../../store/backups.js';
import type { BackupJobRow, BackupOwner, BackupOwnerKind } from '../../store/backups.js';
import { backupFile } from '../../domain/backups.js';
import { cronProblem } from '../../domain/cron.js';
import { newId } from '../../lib/ids.js';

/** The parts shared by the backups of add-ons and of volumes: checks, rows, the download. */

/** What a backup handler needs of the add-on or volume it acts on. */
export interface BackupSubject {
  owner: BackupOwner;
  name: string;
  project_id: string;
  project_name: string;
}

export const jobDto = <K extends BackupOwnerKind>(kind: K, j: BackupJobRow) => ({
  id: j.id,
  ...({ [kind]: store.ownerOf(j).id } as Record<K, string>),
  kind: j.kind,
  backup: j.backup_id,
  trigger: j.trigger,
  status: j.status,
  size_bytes: j.size_bytes,
  reason: j.reason,
  created_at: j.created_at,
  finished_at: j.finished_at,
  verified: j.verify_status ? { status: j.verify_status, answer: j.verify_answer, error: j.verify_error, duration_ms: j.verify_ms, at: j.verified_at } : null,
});

export function checkSchedule(schedule: string | null | undefined) {
  const problem = schedule ? cronProblem(schedule) : null;
  if (problem) throw badRequest(problem, 'backup_schedule');
}

/** The schedule and retention an update sets (only the fields given), checked. */
export function schedulePatch(body: { backup_schedule?: string | null; backup_keep?: number }) {
  checkSchedule(body.backup_schedule);
  return {
    ...(body.backup_schedule !== undefined ? { backup_schedule: body.backup_schedule } : {}),
    ...(body.backup_keep !== undefined ? { backup_keep: body.backup_keep } : {}),
  };
}

/** Queues a backup taken on demand. */
async function queueBackup(ctx: ApiContext, s: BackupSubject): Promise<BackupJobRow> {
  const row = store.newJob(newId('bkp'), s.owner, 'backup', 'manual');
  await store.insertJob(ctx.db, row);
  return row;
}

const aKind = (k: BackupOwnerKind) => (k === 'addon' ? 'an add-on' : 'a volume');

/**
 * Queues a restore into `into` of a succeeded backup of the same project and the same kind of
 * owner (an add-on's backup never goes into a volume): anything else is a 400 naming `backup`.
 * `check` adds the kind's own checks of the backup (an add-on's type).
 */
async function queueRestore(ctx: ApiContext, into: BackupSubject, backupId: string, check?: (from: BackupOwner, b: BackupJobRow) => Promise<void>): Promise<BackupJobRow> {
  const b = await store.jobById(ctx.db, backupId);
  const from = b ? store.ownerOf(b) : null;
  if (!b || !from || b.kind !== 'backup' || (await store.projectOfOwner(ctx.db, from)) !== into.project_id) throw badRequest(`no backup "${backupId}" in project "${into.project_name}"`, 'backup');
  if (from.kind !== into.owner.kind) {
    throw badRequest(`backup "${b.id}" is of ${aKind(from.kind)}; "${into.name}" is ${aKind(into.owner.kind)}: restore it into ${aKind(from.kind)}`, 'backup');
  }
  await check?.(from, b);
  if (b.status !== 'succeeded') throw badRequest(`backup "${b.id}" is ${b.status}: only a succeeded backup can be restored`, 'backup');
  const row = store.newJob(newId('rst'), into.owner, 'restore', 'manual', b.id);
  await store.insertJob(ctx.db, row);
  return row;
}

/** One of the subject's jobs (a stranger's id is a 404). */
export async function jobOf(ctx: ApiContext, s: BackupSubject, jobId: string): Promise<BackupJobRow> {
  const j = await store.jobById(ctx.db, jobId);
  if (!j || store.ownerOf(j).id !== s.owner.id) throw notFound('backup', jobId);
  return j;
}

type Need = 'viewer' | 'developer';
type Req<P> = { user: AuthUser; params: P };

/**
 * The four backup handlers of a kind of owner (create, list, restore, get a job), from how to find
 * one the caller may see, how to tell its controller, and the kind's own restore checks.
 */
export function backupHandlers<K extends BackupOwnerKind, S extends BackupSubject>(
  kind: K,
  find: (ctx: ApiContext, user: AuthUser, id: string, need: Need) => Promise<S>,
  nudge: (ctx: ApiContext) => void,
  restoreChecks: { before?: (ctx: ApiContext, s: S) => Promise<void>; source?: (ctx: ApiContext, s: S, from: BackupOwner, b: BackupJobRow) => Promise<void> } = {},
) {
  const dto = (j: BackupJobRow) => jobDto(kind, j);
  return {
    async create({ user, params }: Req<{ id: string }>, ctx: ApiContext) {
      const row = await queueBackup(ctx, await find(ctx, user, params.id, 'developer'));
      nudge(ctx);
      return dto(row);
    },
    async list({ user, params }: Req<{ id: string }>, ctx: ApiContext) {
      const s = await find(ctx, user, params.id, 'viewer');
      return { items: (await store.backupsOf(ctx.db, s.owner)).map(dto) };
    },
    async restore({ user, params, body }: Req<{ id: string }> & { body: { backup: string } }, ctx: ApiContext) {
      const s = await find(ctx, user, params.id, 'developer');
      await restoreChecks.before?.(ctx, s);
      const row = await queueRestore(ctx, s, body.backup, restoreChecks.source && ((from, b) => restoreChecks.source!(ctx, s, from, b)));
      nudge(ctx);
      return dto(row);
    },
    async getJob({ user, params }: Req<{ id: string; job: string }>, ctx: ApiContext) {
      return dto(await jobOf(ctx, await find(ctx, user, params.id, 'viewer'), params.job));
    },
  };
}

/** `GET {base}/{id}/backups/{job}/download`: a succeeded backup's file, streamed. */
export function registerBackupDownload(app: FastifyInstance, ctx: ApiContext, base: string, find: (user: AuthUser, id: string) => Promise<BackupSubject & { ext: string }>) {
  app.get<{ Params: { id: string; job: string } }>(`${base}/:id/backups/:job/download`, { config: { auth: true }, schema: { hide: true } }, async (req, reply) => {
    const s = await find(req.user as AuthUser, req.params.id);
    const j = await jobOf(ctx, s, req.params.job);
    if (j.kind !== 'backup' || j.status !== 'succeeded') throw conflict(`backup "${j.id}" is ${j.status}: nothing to download`, 'job');
    const file = backupFile(ctx.config.dataDir, s.owner, j.id, s.ext);
    const size = (await stat(file)).size;
    return reply
      .type('application/octet-stream')
      .header('content-length', size)
      .header('content-disposition', `attachment; filename="${s.name}-${j.id}.${s.ext}"`)
      .send(createReadStream(file));
  });
}
