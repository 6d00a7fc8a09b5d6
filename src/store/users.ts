import type { Db } from './db.js';
import { now } from './db.js';
import type { UsersTable } from './schema.js';
import { newId } from '../lib/ids.js';
import { hashToken } from '../lib/crypto.js';

export type UserRow = UsersTable;

export async function createUser(
  db: Db,
  u: { username: string; passwordHash: string; isAdmin: boolean },
): Promise<UserRow> {
  const row: UserRow = {
    id: newId('usr'),
    username: u.username,
    password_hash: u.passwordHash,
    is_admin: u.isAdmin ? 1 : 0,
    disabled: 0,
    created_at: now(),
    updated_at: now(),
  };
  await db.insertInto('users').values(row).execute();
  return row;
}

export const userById = (db: Db, id: string) => db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();

export const userByName = (db: Db, username: string) =>
  db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();

/** A user addressed by id or username. */
export const findUser = (db: Db, idOrName: string) =>
  db
    .selectFrom('users')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', idOrName), eb('username', '=', idOrName)]))
    .executeTakeFirst();

export const listUsers = (db: Db) => db.selectFrom('users').selectAll().orderBy('created_at').orderBy('id').execute();

export const countUsers = async (db: Db) =>
  Number((await db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

export async function updateUser(db: Db, id: string, patch: Partial<Pick<UserRow, 'password_hash' | 'is_admin' | 'disabled'>>) {
  await db.updateTable('users').set({ ...patch, updated_at: now() }).where('id', '=', id).execute();
}

export async function deleteUser(db: Db, id: string) {
  await db.deleteFrom('users').where('id', '=', id).execute();
}

export async function createToken(db: Db, t: { userId: string; name: string; token: string; expiresAt: string | null }) {
  const row = {
    id: newId('tok'),
    user_id: t.userId,
    name: t.name,
    token_hash: hashToken(t.token),
    created_at: now(),
    last_used_at: null,
    expires_at: t.expiresAt,
  };
  await db.insertInto('tokens').values(row).execute();
  return row;
}

/** The enabled user holding this token, if the token exists and has not expired. */
export async function userForToken(db: Db, token: string) {
  const row = await db
    .selectFrom('tokens')
    .innerJoin('users', 'users.id', 'tokens.user_id')
    .select(['tokens.id as token_id', 'tokens.expires_at', 'tokens.last_used_at'])
    .selectAll('users')
    .where('tokens.token_hash', '=', hashToken(token))
    .executeTakeFirst();
  if (!row || row.disabled) return undefined;
  if (row.expires_at && row.expires_at < now()) return undefined;
  return row;
}

export async function touchToken(db: Db, tokenId: string) {
  await db.updateTable('tokens').set({ last_used_at: now() }).where('id', '=', tokenId).execute();
}

export const listTokens = (db: Db, userId: string) =>
  db.selectFrom('tokens').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();

export async function deleteToken(db: Db, userId: string, tokenId: string): Promise<boolean> {
  const res = await db.deleteFrom('tokens').where('id', '=', tokenId).where('user_id', '=', userId).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export async function deleteTokensOf(db: Db, userId: string, keepId?: string) {
  let q = db.deleteFrom('tokens').where('user_id', '=', userId);
  if (keepId) q = q.where('id', '!=', keepId);
  await q.execute();
}

/** The user of a token still valid (by its id), for a recheck of an open socket; undefined once revoked or expired. */
export async function tokenAlive(db: Db, tokenId: string) {
  const row = await db
    .selectFrom('tokens')
    .innerJoin('users', 'users.id', 'tokens.user_id')
    .select(['users.id', 'users.is_admin', 'users.disabled', 'tokens.expires_at'])
    .where('tokens.id', '=', tokenId)
    .executeTakeFirst();
  if (!row || row.disabled) return undefined;
  if (row.expires_at && row.expires_at < now()) return undefined;
  return row;
}
