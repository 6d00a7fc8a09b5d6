import type { Db } from './db.js';
import { now } from './db.js';
import type { CronJobsTable, RunsTable, RunStatus } from './schema.js';
import { decodeArgv, encodeArgv } from './app-columns.js';
import { holds, type Fence } from './leases.js';

/** A run with its command decoded (stored as a JSON string array). */
export type RunRow = Omit<RunsTable, 'command'> & { command: string[] };

const decodeRun = <R extends { command: string }>(r: R): Omit<R, 'command'> & { command: string[] } => ({ ...r, command: decodeArgv(r.command, 'runs.command') });
const decodeRuns = <R extends { command: string }>(rows: R[]) => rows.map(decodeRun);
const maybeRun = <R extends { command: string }>(r: R | undefined) => r && decodeRun(r);

/** Output kept per run; past it the run goes on but its output is no longer stored. */
export const MAX_OUTPUT_CHARS = 1_000_000;

export async function insertRun(db: Db, row: RunRow) {
  await db.insertInto('runs').values({ ...row, command: encodeArgv(row.command) }).execute();
}

export const runById = async (db: Db, id: string): Promise<RunRow | undefined> =>
  maybeRun(await db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst());

export const runsOfApp = async (db: Db, appId: string, limit = 50): Promise<RunRow[]> =>
  decodeRuns(await db.selectFrom('runs').selectAll().where('app_id', '=', appId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute());

export const runsWithStatus = async (db: Db, status: RunStatus): Promise<RunRow[]> =>
  decodeRuns(await db.selectFrom('runs').selectAll().where('status', '=', status).orderBy('created_at').execute());

/** The release command's run of a release, if it was started. */
export const releaseRun = async (db: Db, releaseId: string): Promise<RunRow | undefined> =>
  maybeRun(
    await db.selectFrom('runs').selectAll().where('release_id', '=', releaseId).where('kind', '=', 'release').orderBy('created_at', 'desc').executeTakeFirst(),
  );

export async function setOutput(db: Db, id: string, output: string) {
  await db.updateTable('runs').set({ output }).where('id', '=', id).execute();
}

export async function updateRun(db: Db, id: string, patch: Partial<Pick<RunRow, 'status' | 'exit_code' | 'reason' | 'output'>>) {
  await db.updateTable('runs').set(patch).where('id', '=', id).execute();
}

/** A final status, with the time it ended. Only a run still running or queued changes. */
export async function finishRun(db: Db, id: string, status: 'succeeded' | 'failed', exitCode: number | null, reason: string | null) {
  await db
    .updateTable('runs')
    .set({ status, exit_code: exitCode, reason, finished_at: now() })
    .where('id', '=', id)
    .where('status', 'in', ['queued', 'running'])
    .execute();
}

/** A scheduled command with its command decoded (stored as a JSON string array). */
export type CronRow = Omit<CronJobsTable, 'command'> & { command: string[] };

const decodeCron = (r: CronJobsTable): CronRow => ({ ...r, command: decodeArgv(r.command, 'cron_jobs.command') });

export const insertCron = (db: Db, row: CronRow) => db.insertInto('cron_jobs').values({ ...row, command: encodeArgv(row.command) }).execute();
export const cronOfApp = async (db: Db, appId: string) =>
  (await db.selectFrom('cron_jobs').selectAll().where('app_id', '=', appId).orderBy('created_at').execute()).map(decodeCron);
export const allCron = async (db: Db) => (await db.selectFrom('cron_jobs').selectAll().execute()).map(decodeCron);
export const deleteCron = (db: Db, appId: string, id: string) => db.deleteFrom('cron_jobs').where('app_id', '=', appId).where('id', '=', id).executeTakeFirst();
/**
 * Acts on a firing once: the firing time moves only from the value this instance read (a compare and
 * set), and only while it holds the lease. False: another instance (or term) acted on it first.
 */
export async function setCronFired(db: Db, id: string, previous: string | null, at: string, fence: Fence = null): Promise<boolean> {
  const r = await db
    .updateTable('cron_jobs')
    .set({ last_fired_at: at })
    .where('id', '=', id)
    .where((eb) => (previous === null ? eb('last_fired_at', 'is', null) : eb('last_fired_at', '=', previous)))
    .where(holds(fence))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Takes a queued run (queued → running) for this instance; false when another took it first or the lease is lost. */
export async function claimRun(db: Db, id: string, fence: Fence = null): Promise<boolean> {
  const r = await db.updateTable('runs').set({ status: 'running' }).where('id', '=', id).where('status', '=', 'queued').where(holds(fence)).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** A scheduled command's last runs, newest first. */
export const runsOfCron = (db: Db, cronId: string, limit = 5) =>
  db
    .selectFrom('runs')
    .select(['id', 'status', 'exit_code', 'reason', 'created_at'])
    .where('cron_id', '=', cronId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();

/** True while a run of the scheduled command is queued or running: the next firing waits for none. */
export async function cronBusy(db: Db, cronId: string): Promise<boolean> {
  const r = await db.selectFrom('runs').select('id').where('cron_id', '=', cronId).where('status', 'in', ['queued', 'running']).executeTakeFirst();
  return !!r;
}

/** A new run row of the app's release (queued unless told otherwise); its container is named after the app and the kind. */
export function newRun(id: string, app: { id: string; slug: string }, releaseId: string, kind: RunRow['kind'], command: string[], timeoutS: number, more: Partial<RunRow> = {}): RunRow {
  return {
    id,
    app_id: app.id,
    release_id: releaseId,
    kind,
    cron_id: null,
    command,
    status: 'queued',
    exit_code: null,
    output: '',
    reason: null,
    container_name: `${app.slug}-${kind}-${id.slice(-8)}`,
    timeout_s: timeoutS,
    tty: 0,
    created_by: null,
    created_at: now(),
    finished_at: null,
    ...more,
  };
}
