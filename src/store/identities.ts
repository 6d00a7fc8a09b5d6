import type { Db } from './db.js';
import { now } from './db.js';
import { newId } from '../lib/ids.js';

/** The user a provider account (issuer + subject) signed in as before. */
export const userOfIdentity = (db: Db, issuer: string, subject: string) =>
  db.selectFrom('user_identities').innerJoin('users', 'users.id', 'user_identities.user_id').selectAll('users').where('issuer', '=', issuer).where('subject', '=', subject).executeTakeFirst();

export const userByEmail = (db: Db, email: string) => db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();

export async function linkIdentity(db: Db, i: { issuer: string; subject: string; userId: string; email: string | null }) {
  await db.insertInto('user_identities').values({ issuer: i.issuer, subject: i.subject, user_id: i.userId, email: i.email, created_at: now() }).execute();
  if (i.email) await db.updateTable('users').set({ email: i.email }).where('id', '=', i.userId).where('email', 'is', null).execute();
}

/** A user made by single sign-on: no password (the hash matches none), the verified email kept. */
export async function createSsoUser(db: Db, username: string, email: string | null) {
  const row = { id: newId('usr'), username, password_hash: 'sso-only', is_admin: 0, disabled: 0, email, created_at: now(), updated_at: now() };
  await db.insertInto('users').values(row).execute();
  return row;
}
