import type { Db } from '../store/db.js';
import type { AppRow } from '../store/apps.js';
import { DEFAULT_PROCESS_REPLICAS, PROCESS_TYPE, formationOf } from '../store/formation.js';
import { releaseById, releaseConfig } from '../store/releases.js';

/**
 * Heroku's process model: every Procfile line is a process type. `web` is routed (its replicas are
 * the app's `replicas`); `release` is the release phase; every other type runs as its own formation.
 */

/** At most this many non-web types per app: each is a set of replicas on the engine. */
export const MAX_PROCESS_TYPES = 16;

/** Names the kept log and the drains give lines that no process wrote (logs/, drains/): no Procfile type may take them. */
export const RESERVED_TYPES: readonly string[] = ['router', 'build'];

/** The Procfile's types that run as their own formation (not web, not release), and the lines left out. */
export function formationProcesses(procfile: Record<string, string>): { processes: Record<string, string>; skipped: string[] } {
  const processes: Record<string, string> = {};
  const skipped: string[] = [];
  for (const [type, cmd] of Object.entries(procfile)) {
    if (type === 'web' || type === 'release') continue;
    if (!PROCESS_TYPE.test(type) || RESERVED_TYPES.includes(type) || Object.keys(processes).length >= MAX_PROCESS_TYPES) skipped.push(type);
    else processes[type] = cmd;
  }
  return { processes, skipped };
}

/** A replica's command: web runs the image's own (the Dockerfile's CMD); the others their Procfile line, under sh -c as Heroku does. */
export function processCommand(processes: Record<string, string> | undefined, type: string): string[] | undefined {
  if (type === 'web') return undefined;
  const line = processes?.[type];
  if (line === undefined) throw new Error(`the release has no process type ${type}`);
  return ['sh', '-c', line];
}

/**
 * The wanted replica count of every process type of a release: web's is the app's `replicas`, the
 * others' the app's formation, 1 for a type never scaled.
 */
export function wantedFormation(webReplicas: number, processes: Record<string, string> | undefined, set: Record<string, number>, fallback: number): Record<string, number> {
  const out: Record<string, number> = { web: webReplicas };
  for (const type of Object.keys(processes ?? {})) out[type] = set[type] ?? fallback;
  return out;
}

/**
 * A formation change checked against the process types the app has: a type its release does not
 * declare is refused, naming it. Returns the bad key, or null.
 */
export function unknownProcessType(change: Record<string, number>, processes: Record<string, string> | undefined): string | null {
  for (const type of Object.keys(change)) if (type !== 'web' && !(processes && Object.hasOwn(processes, type))) return type;
  return null;
}

/** The process types besides web of the release the app should run (none before its first deploy). */
export async function appProcesses(db: Db, app: Pick<AppRow, 'release_id'>): Promise<Record<string, string>> {
  const target = app.release_id ? await releaseById(db, app.release_id) : undefined;
  return target ? (releaseConfig(target).processes ?? {}) : {};
}

/** The app's formation as the API shows it: every process type of its release with its replica count. */
export async function appFormation(db: Db, app: Pick<AppRow, 'id' | 'release_id' | 'replicas'>): Promise<Record<string, number>> {
  return wantedFormation(app.replicas, await appProcesses(db, app), await formationOf(db, app.id), DEFAULT_PROCESS_REPLICAS);
}
