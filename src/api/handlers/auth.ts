import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Handlers } from '../register.js';
import type { ApiContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { hashPassword, newToken, verifyPassword } from '../../lib/crypto.js';
import * as users from '../../store/users.js';
import { deleteSessionsOf } from '../../store/sessions.js';
import { checkLogin, loginFailed, loginSucceeded } from '../login-limit.js';
import type { UserRow } from '../../store/users.js';

export const userDto = (u: UserRow) => ({
  id: u.id,
  username: u.username,
  is_admin: !!u.is_admin,
  disabled: !!u.disabled,
  created_at: u.created_at,
});

const tokenDto = (t: { id: string; name: string; created_at: string; last_used_at: string | null; expires_at: string | null }) => ({
  id: t.id,
  name: t.name,
  created_at: t.created_at,
  last_used_at: t.last_used_at,
  expires_at: t.expires_at,
});

const badLogin = () => new HttpError(401, 'invalid_credentials', 'wrong username or password');

// Verifying against a fixed hash for unknown users keeps login time the same, so it does not reveal which usernames exist.
const dummyHash = hashPassword('not-a-real-password');

/** The user these credentials belong to, or a 401/403 (the API token login and the dashboard's session share it). */
export async function authenticate(ctx: ApiContext, username: string, password: string, address: string): Promise<UserRow> {
  checkLogin(ctx.config, username, address);
  const user = await users.userByName(ctx.db, username);
  const ok = await verifyPassword(password, user?.password_hash ?? (await dummyHash));
  if (!user || !ok) {
    loginFailed(ctx.config, username, address);
    throw badLogin();
  }
  loginSucceeded(ctx.config, username);
  if (user.disabled) throw new HttpError(403, 'user_disabled', `user "${user.username}" is disabled`);
  return user;
}

export const authHandlers = {
  async login({ body, raw }, ctx) {
    const user = await authenticate(ctx, body.username, body.password, raw.ip);
    const token = newToken();
    await users.createToken(ctx.db, { userId: user.id, name: 'login', token, expiresAt: null });
    return { token, user: userDto(user) };
  },

  async whoami({ user }, ctx) {
    const row = await users.userById(ctx.db, user.id);
    if (!row) throw notFound('user');
    return userDto(row);
  },

  async changePassword({ user, body }, ctx) {
    const row = await users.userById(ctx.db, user.id);
    if (!row || !(await verifyPassword(body.current_password, row.password_hash))) {
      throw new HttpError(400, 'validation_failed', 'current_password is wrong', { field: 'current_password' });
    }
    await users.updateUser(ctx.db, user.id, { password_hash: await hashPassword(body.new_password) });
    // Whoever knew the old password may hold a session or token made with it: all end but the caller's own
    // (open WebSockets of the ended ones are closed by src/api/socket-guard.ts).
    await users.deleteTokensOf(ctx.db, user.id, user.via?.kind === 'token' ? user.via.id : undefined);
    await deleteSessionsOf(ctx.db, user.id, user.via?.kind === 'session' ? user.via.id : undefined);
    // The generated first password is no longer valid; do not leave it lying around.
    const initial = join(ctx.config.dataDir, 'initial-admin-password');
    if (row.username === 'admin' && existsSync(initial)) rmSync(initial, { force: true });
    return { ok: true };
  },

  async listTokens({ user }, ctx) {
    return { items: (await users.listTokens(ctx.db, user.id)).map(tokenDto) };
  },

  async createToken({ user, body }, ctx) {
    const token = newToken();
    const expiresAt = body.expires_in_days ? new Date(Date.now() + body.expires_in_days * 86400_000).toISOString() : null;
    const row = await users.createToken(ctx.db, { userId: user.id, name: body.name, token, expiresAt });
    return { ...tokenDto(row), token };
  },

  async revokeToken({ user, params }, ctx) {
    if (!(await users.deleteToken(ctx.db, user.id, params.id))) throw notFound('token', params.id);
    return { ok: true };
  },
} satisfies Handlers;
