import type { Db } from './db.js';

/**
 * Process types (Heroku's process model): a build's Procfile types other than web and release
 * (JSON {type: command} in builds.procfile_processes) and an app's replica count per such type
 * (app_formation; web's count stays apps.replicas).
 */

/** What a process type may be called: the Procfile's own grammar, short enough for engine names. */
export const PROCESS_TYPE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,29}$/;

/** Replicas of a non-web type that has no formation row: a Procfile line runs once unless scaled. */
export const DEFAULT_PROCESS_REPLICAS = 1;

export const encodeProcesses = (p: Record<string, string>): string | null => (Object.keys(p).length ? JSON.stringify(p) : null);

/** The one decoder of builds.procfile_processes: a JSON object of type → command, both checked. */
export function decodeProcesses(text: string | null | undefined, column = 'builds.procfile_processes'): Record<string, string> {
  if (!text) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`column ${column} holds text that is not JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`column ${column} does not hold an object`);
  const out: Record<string, string> = {};
  for (const [type, cmd] of Object.entries(raw)) {
    if (!PROCESS_TYPE.test(type) || typeof cmd !== 'string') throw new Error(`column ${column} holds a bad process type`);
    out[type] = cmd;
  }
  return out;
}

/** The Procfile process types (other than web and release) of a build. */
export const buildProcesses = async (db: Db, buildId: string): Promise<Record<string, string>> =>
  decodeProcesses((await db.selectFrom('builds').select('procfile_processes').where('id', '=', buildId).executeTakeFirst())?.procfile_processes);

/** The app's replica counts of its non-web types that were set (others run DEFAULT_PROCESS_REPLICAS). */
export async function formationOf(db: Db, appId: string): Promise<Record<string, number>> {
  const rows = await db.selectFrom('app_formation').select(['process_type', 'replicas']).where('app_id', '=', appId).execute();
  return Object.fromEntries(rows.map((r) => [r.process_type, Number(r.replicas)]));
}

/** Sets replica counts of non-web types, in one transaction. */
export async function setFormation(db: Db, appId: string, counts: Record<string, number>): Promise<void> {
  await db.transaction().execute(async (tx) => {
    for (const [type, replicas] of Object.entries(counts)) {
      await tx.deleteFrom('app_formation').where('app_id', '=', appId).where('process_type', '=', type).execute();
      await tx.insertInto('app_formation').values({ app_id: appId, process_type: type, replicas }).execute();
    }
  });
}
