import type { Db } from './db.js';
import type { AuditTable } from './schema-audit.js';

export type AuditEntry = Omit<AuditTable, 'id'>;
export type AuditRow = AuditEntry & { id: number };

export async function recordAudit(db: Db, e: AuditEntry): Promise<void> {
  await db.insertInto('audit_log').values(e).execute();
}

export interface AuditFilter {
  project?: string;
  user?: string;
  action?: string;
  /** Only entries older than this id (paging back from the newest). */
  before?: number;
  limit: number;
}

/** Newest first. */
export async function listAudit(db: Db, f: AuditFilter): Promise<AuditRow[]> {
  let q = db.selectFrom('audit_log').selectAll();
  if (f.project) q = q.where('project_id', '=', f.project);
  if (f.user) q = q.where((eb) => eb.or([eb('user_id', '=', f.user!), eb('username', '=', f.user!)]));
  if (f.action) q = q.where('action', '=', f.action);
  if (f.before !== undefined) q = q.where('id', '<', f.before);
  return (await q.orderBy('id', 'desc').limit(f.limit).execute()) as AuditRow[];
}

/** Removes entries older than `before` (an ISO time). */
export async function pruneAudit(db: Db, before: string): Promise<void> {
  await db.deleteFrom('audit_log').where('at', '<', before).execute();
}

/** Tables whose rows name their project directly, or through their app. */
const BY_PROJECT = { volumes: 'volumes', addons: 'addons' } as const;
const BY_APP = { builds: 'builds', containers: 'containers', runs: 'runs' } as const;
type ProjectChild = keyof typeof BY_PROJECT | keyof typeof BY_APP;

/** Whether an API collection's rows belong to a project (directly or through their app). */
export const isProjectChild = (collection: string): collection is ProjectChild => collection in BY_PROJECT || collection in BY_APP;

/** The project of a row of such a collection (null when there is no such row). */
export async function projectOfRow(db: Db, collection: ProjectChild, id: string): Promise<string | null> {
  if (collection in BY_PROJECT) {
    const t = BY_PROJECT[collection as keyof typeof BY_PROJECT];
    return (await db.selectFrom(t).select('project_id').where('id', '=', id).executeTakeFirst())?.project_id ?? null;
  }
  const t = BY_APP[collection as keyof typeof BY_APP];
  const row = await db.selectFrom(t).innerJoin('apps', 'apps.id', `${t}.app_id`).select('apps.project_id').where(`${t}.id`, '=', id).executeTakeFirst();
  return row?.project_id ?? null;
}
