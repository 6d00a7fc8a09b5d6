import type { Db } from './db.js';

/** An event as stored: its data decoded (stored as a JSON object). */
export interface EventRow {
  id: number;
  project_id: string;
  app_id: string | null;
  kind: string;
  message: string;
  data: Record<string, unknown> | null;
  created_at: string;
  /** The user who caused it (null: Berth's own loop, or an older row). */
  actor_id: string | null;
  /** That user's name then, or the loop's name; null on rows older than migration 0019. */
  actor: string | null;
}

/** An event as listed: with its app's slug and name (null when it names no app, or the app is deleted). */
export interface EventView extends EventRow {
  app_slug: string | null;
  app_name: string | null;
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

/** The names an event shows: its app's slug and name, and a user's current name. */
export async function eventNames(db: Db, appId: string | null, userId: string | null): Promise<{ app: { slug: string; name: string } | null; username: string | null }> {
  const app = appId ? await db.selectFrom('apps').select(['slug', 'name']).where('id', '=', appId).executeTakeFirst() : undefined;
  const user = userId ? await db.selectFrom('users').select('username').where('id', '=', userId).executeTakeFirst() : undefined;
  return { app: app ?? null, username: user?.username ?? null };
}

/** Events of these projects (optionally one app, after an id), oldest first, the newest `limit`. */
export async function listEvents(db: Db, projectIds: string[], opts: { appId?: string; after?: number; limit: number }): Promise<EventView[]> {
  let q = db
    .selectFrom('events')
    .leftJoin('apps', 'apps.id', 'events.app_id')
    .selectAll('events')
    .select(['apps.slug as app_slug', 'apps.name as app_name'])
    .where('events.project_id', 'in', projectIds);
  if (opts.appId) q = q.where('events.app_id', '=', opts.appId);
  if (opts.after) q = q.where('events.id', '>', opts.after);
  const rows = await q.orderBy('events.id', 'desc').limit(opts.limit).execute();
  return rows.reverse().map((r) => ({ ...r, id: Number(r.id), data: decodeData(r.data) }));
}
