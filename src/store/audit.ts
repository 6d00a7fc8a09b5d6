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
