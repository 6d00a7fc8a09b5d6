import type { Db } from './db.js';

/** An event as stored and listed: its data decoded (stored as a JSON object). */
export interface EventRow {
  id: number;
  project_id: string;
  app_id: string | null;
  kind: string;
  message: string;
  data: Record<string, unknown> | null;
  created_at: string;
}

function decodeData(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  const v = JSON.parse(text) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('column events.data does not hold an object');
  return v as Record<string, unknown>;
}

/** Writes an event; returns it with its id. */
export async function insertEvent(db: Db, e: Omit<EventRow, 'id'>): Promise<EventRow> {
  const res = await db
    .insertInto('events')
    .values({ ...e, data: e.data ? JSON.stringify(e.data) : null })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { ...e, id: Number(res.id) };
}

/** Events of these projects (optionally one app, after an id), oldest first, the newest `limit`. */
export async function listEvents(db: Db, projectIds: string[], opts: { appId?: string; after?: number; limit: number }): Promise<EventRow[]> {
  let q = db.selectFrom('events').selectAll().where('project_id', 'in', projectIds);
  if (opts.appId) q = q.where('app_id', '=', opts.appId);
  if (opts.after) q = q.where('id', '>', opts.after);
  const rows = await q.orderBy('id', 'desc').limit(opts.limit).execute();
  return rows.reverse().map((r) => ({ ...r, id: Number(r.id), data: decodeData(r.data) }));
}
