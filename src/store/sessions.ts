import type { Db } from './db.js';
import { now } from './db.js';
import { hashToken } from '../lib/crypto.js';
import { newId } from '../lib/ids.js';

export async function createSession(db: Db, s: { userId: string; token: string; csrfToken: string; expiresAt: string }) {
  // Expired sessions are refused anyway; each login clears them out so the table stays small.
  await db.deleteFrom('sessions').where('expires_at', '<', now()).execute();
  await db
    .insertInto('sessions')
    .values({ id: newId('ses'), user_id: s.userId, token_hash: hashToken(s.token), csrf_token: s.csrfToken, created_at: now(), expires_at: s.expiresAt })
    .execute();
}

/** The live session for a cookie value, with its user; none once expired, ended or the user disabled. */
export async function sessionFor(db: Db, token: string) {
  const row = await db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['sessions.id as session_id', 'sessions.csrf_token', 'sessions.expires_at', 'users.id', 'users.username', 'users.is_admin', 'users.disabled'])
    .where('sessions.token_hash', '=', hashToken(token))
    .executeTakeFirst();
  if (!row || row.disabled || row.expires_at < now()) return undefined;
  return row;
}

/** The user of a session still alive (by its id), for a recheck of an open socket; undefined once ended. */
export async function sessionAlive(db: Db, sessionId: string) {
  const row = await db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['users.id', 'users.is_admin', 'users.disabled', 'sessions.expires_at'])
    .where('sessions.id', '=', sessionId)
    .executeTakeFirst();
  if (!row || row.disabled || row.expires_at < now()) return undefined;
  return row;
}

/** Ends every session of a user but `keepId` (a password change keeps the caller's own). */
export async function deleteSessionsOf(db: Db, userId: string, keepId?: string) {
  let q = db.deleteFrom('sessions').where('user_id', '=', userId);
  if (keepId) q = q.where('id', '!=', keepId);
  await q.execute();
}

export async function deleteSession(db: Db, token: string) {
  await db.deleteFrom('sessions').where('token_hash', '=', hashToken(token)).execute();
}
