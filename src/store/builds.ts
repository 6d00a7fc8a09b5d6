import type { Db } from './db.js';
import { isUniqueViolation, now } from './db.js';
import type { BuildsTable, BuildStatus } from './schema.js';
import { newId } from '../lib/ids.js';
import { holds, type Fence } from './leases.js';

export type BuildRow = BuildsTable;
export type BuildLogLine = { seq: number; line: string; created_at: string };

export const FINISHED: readonly BuildStatus[] = ['succeeded', 'failed', 'canceled'];
export const isFinished = (s: BuildStatus) => FINISHED.includes(s);

export interface NewBuild {
  appId: string;
  slug: string;
  source: BuildRow['source'];
  status: 'pending' | 'queued';
  repoUrl?: string | null;
  branch?: string | null;
  commit?: { sha: string; message: string; committer: string } | null;
  userId: string | null;
  vendorId?: string | null;
}

/** Inserts build N+1 of the app; two builds created at once retry for the next number. */
export async function insertBuild(db: Db, b: NewBuild): Promise<BuildRow> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.transaction().execute(async (tx) => {
        const max = await tx
          .selectFrom('builds')
          .select((eb) => eb.fn.max('number').as('n'))
          .where('app_id', '=', b.appId)
          .executeTakeFirst();
        const number = Number(max?.n ?? 0) + 1;
        const row: BuildRow = {
          id: newId('bld'),
          app_id: b.appId,
          number,
          source: b.source,
          repo_url: b.repoUrl ?? null,
          branch: b.branch ?? null,
          commit_sha: b.commit?.sha ?? null,
          commit_message: b.commit?.message ?? null,
          committer: b.commit?.committer ?? null,
          status: b.status,
          message: b.status === 'pending' ? 'waiting for the source upload' : null,
          builder: null,
          dockerfile: null,
          runtime: null,
          // The app's opaque id, not its slug: slugs are public and reused, so a slug-named image could
          // be guessed by another project or collide with a deleted app's (an image belongs to a project).
          image: `berth/${b.appId.toLowerCase()}:${number}`,
          release_id: null,
          procfile_release: null,
          created_by: b.userId,
          created_at: now(),
          started_at: null,
          finished_at: null,
          vendor_id: b.vendorId ?? null,
        };
        await tx.insertInto('builds').values(row).execute();
        return row;
      });
    } catch (err) {
      if (isUniqueViolation(err) && attempt < 5) continue;
      throw err;
    }
  }
}

export const buildById = (db: Db, id: string) => db.selectFrom('builds').selectAll().where('id', '=', id).executeTakeFirst();

export const listBuilds = (db: Db, appId: string, limit: number, offset: number) =>
  db.selectFrom('builds').selectAll().where('app_id', '=', appId).orderBy('number', 'desc').limit(limit).offset(offset).execute();

export async function countBuilds(db: Db, appId: string): Promise<number> {
  const r = await db.selectFrom('builds').select((eb) => eb.fn.countAll().as('n')).where('app_id', '=', appId).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Ids of queued builds, oldest first: the worker's order, and the source of "position in queue". */
export async function queuedIds(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('builds').select('id').where('status', '=', 'queued').orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => r.id);
}

/**
 * Moves a build from one status to another only if it is still in one of `from`: the worker and a
 * cancel can race, and whoever changes the row first wins. Returns whether this call won.
 */
export async function transition(
  db: Db,
  id: string,
  from: readonly BuildStatus[],
  patch: Partial<Omit<BuildRow, 'id' | 'app_id' | 'number'>>,
  fence: Fence = null,
): Promise<boolean> {
  const res = await db.updateTable('builds').set(patch).where('id', '=', id).where('status', 'in', [...from]).where(holds(fence)).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

export async function updateBuild(db: Db, id: string, patch: Partial<Omit<BuildRow, 'id' | 'app_id' | 'number'>>) {
  await db.updateTable('builds').set(patch).where('id', '=', id).execute();
}

/** Builds left running by a process that died: they are never resumed, only closed. */
export async function failInterrupted(db: Db, reason: string): Promise<BuildRow[]> {
  const rows = await db.selectFrom('builds').selectAll().where('status', '=', 'running').execute();
  for (const r of rows) {
    await transition(db, r.id, ['running'], { status: 'failed', message: reason, finished_at: now() });
  }
  return rows;
}

/** Builds whose upload never came. */
export const stalePending = (db: Db, before: string) =>
  db.selectFrom('builds').selectAll().where('status', '=', 'pending').where('created_at', '<', before).execute();

export async function appendLogs(db: Db, buildId: string, lines: { seq: number; line: string }[]) {
  if (lines.length === 0) return;
  const ts = now();
  await db
    .insertInto('build_logs')
    .values(lines.map((l) => ({ build_id: buildId, seq: l.seq, line: l.line, created_at: ts })))
    .execute();
}

export const logsAfter = (db: Db, buildId: string, afterSeq: number, limit = 5000): Promise<BuildLogLine[]> =>
  db
    .selectFrom('build_logs')
    .select(['seq', 'line', 'created_at'])
    .where('build_id', '=', buildId)
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .execute();

export async function lastLogSeq(db: Db, buildId: string): Promise<number> {
  const r = await db.selectFrom('build_logs').select((eb) => eb.fn.max('seq').as('s')).where('build_id', '=', buildId).executeTakeFirst();
  return Number(r?.s ?? 0);
}

/** The `release:` line of the build's Procfile, if it had one. */
export const procfileRelease = async (db: Db, buildId: string): Promise<string | null> =>
  (await db.selectFrom('builds').select('procfile_release').where('id', '=', buildId).executeTakeFirst())?.procfile_release ?? null;
