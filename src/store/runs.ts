import type { Db } from './db.js';
import { now } from './db.js';
import type { RunsTable, RunStatus } from './schema.js';

export type RunRow = RunsTable;

/** Output kept per run; past it the run goes on but its output is no longer stored. */
export const MAX_OUTPUT_CHARS = 1_000_000;

export async function insertRun(db: Db, row: RunRow) {
  await db.insertInto('runs').values(row).execute();
}

export const runById = (db: Db, id: string) => db.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();

export const runsOfApp = (db: Db, appId: string, limit = 50) =>
  db.selectFrom('runs').selectAll().where('app_id', '=', appId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();

export const runsWithStatus = (db: Db, status: RunStatus) => db.selectFrom('runs').selectAll().where('status', '=', status).orderBy('created_at').execute();

/** The release command's run of a release, if it was started. */
export const releaseRun = (db: Db, releaseId: string) =>
  db.selectFrom('runs').selectAll().where('release_id', '=', releaseId).where('kind', '=', 'release').orderBy('created_at', 'desc').executeTakeFirst();

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
