import type { Handlers } from '../register.js';
import { projectsOwnedBy } from '../../store/projects.js';
import type { AuthUser } from '../context.js';
import { conflict, forbidden, notFound, badRequest } from '../errors.js';
import { hashPassword } from '../../lib/crypto.js';
import { isUniqueViolation } from '../../store/db.js';
import * as users from '../../store/users.js';
import { deleteSessionsOf } from '../../store/sessions.js';
import { quotaOf, setQuota } from '../../store/quotas.js';
import { userDto } from './auth.js';

function requireAdmin(user: AuthUser) {
  if (!user.is_admin) throw forbidden('only an admin can manage users');
}

export const userHandlers = {
  async listUsers({ user }, ctx) {
    requireAdmin(user);
    return { items: (await users.listUsers(ctx.db)).map(userDto) };
  },

  async createUser({ user, body }, ctx) {
    requireAdmin(user);
    try {
      const row = await users.createUser(ctx.db, {
        username: body.username,
        passwordHash: await hashPassword(body.password),
        isAdmin: body.is_admin ?? false,
      });
      return userDto(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`username "${body.username}" is taken`, 'username');
      throw err;
    }
  },

  async updateUser({ user, params, body }, ctx) {
    requireAdmin(user);
    const target = await users.findUser(ctx.db, params.id);
    if (!target) throw notFound('user', params.id);
    if (target.id === user.id && (body.disabled === true || body.is_admin === false)) {
      throw badRequest('an admin cannot disable or demote themselves', body.disabled ? 'disabled' : 'is_admin');
    }
    await users.updateUser(ctx.db, target.id, {
      ...(body.disabled !== undefined ? { disabled: body.disabled ? 1 : 0 } : {}),
      ...(body.is_admin !== undefined ? { is_admin: body.is_admin ? 1 : 0 } : {}),
      ...(body.password !== undefined ? { password_hash: await hashPassword(body.password) } : {}),
    });
    // A disabled user's tokens stop working at once (the auth check reads `disabled`) and their dashboard
    // sessions end; a reset password ends every token and session. Open WebSockets follow within seconds
    // (src/api/socket-guard.ts).
    if (body.password !== undefined) await users.deleteTokensOf(ctx.db, target.id);
    if (body.password !== undefined || body.disabled === true) await deleteSessionsOf(ctx.db, target.id);
    return userDto((await users.userById(ctx.db, target.id))!);
  },

  async getUserQuota({ user, params }, ctx) {
    requireAdmin(user);
    const target = await users.findUser(ctx.db, params.id);
    if (!target) throw notFound('user', params.id);
    const q = await quotaOf(ctx.db, ctx.config.access.quotas, target.id);
    return { ...q.limits, overridden: q.overridden };
  },

  async setUserQuota({ user, params, body }, ctx) {
    requireAdmin(user);
    const target = await users.findUser(ctx.db, params.id);
    if (!target) throw notFound('user', params.id);
    await setQuota(ctx.db, target.id, body);
    const q = await quotaOf(ctx.db, ctx.config.access.quotas, target.id);
    return { ...q.limits, overridden: q.overridden };
  },

  async deleteUser({ user, params }, ctx) {
    requireAdmin(user);
    const target = await users.findUser(ctx.db, params.id);
    if (!target) throw notFound('user', params.id);
    if (target.id === user.id) throw badRequest('an admin cannot delete themselves', 'id');
    const owned = await projectsOwnedBy(ctx.db, target.id);
    if (owned.length) {
      throw conflict(`user "${target.username}" owns projects (${owned.join(', ')}); delete or hand them over first`);
    }
    await users.deleteUser(ctx.db, target.id);
    return { ok: true };
  },
} satisfies Handlers;
