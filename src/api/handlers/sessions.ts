import { randomBytes } from 'node:crypto';
import type { Handlers } from '../register.js';
import { HttpError } from '../errors.js';
import { authenticate, userDto } from './auth.js';
import { sessionCookie, sessionToken } from '../session.js';
import { newToken } from '../../lib/crypto.js';
import { createSession, deleteSession, sessionFor } from '../../store/sessions.js';
import { userById } from '../../store/users.js';

export const SESSION_DAYS = 7;

/** The dashboard's browser session: log in (sets the cookie), who am I (and the CSRF token), log out. */
export const sessionHandlers = {
  async createSession({ body, raw, header }, ctx) {
    const user = await authenticate(ctx, body.username, body.password, raw.ip);
    const token = newToken();
    const csrf = randomBytes(24).toString('base64url');
    await createSession(ctx.db, { userId: user.id, token, csrfToken: csrf, expiresAt: new Date(Date.now() + SESSION_DAYS * 86400_000).toISOString() });
    header('set-cookie', sessionCookie(raw, token, SESSION_DAYS * 86400));
    return { user: userDto(user), csrf_token: csrf };
  },

  async getSession({ raw }, ctx) {
    const token = sessionToken(raw);
    const s = token ? await sessionFor(ctx.db, token) : undefined;
    const user = s ? await userById(ctx.db, s.id) : undefined;
    if (!s || !user) throw new HttpError(401, 'unauthorized', 'not logged in');
    return { user: userDto(user), csrf_token: s.csrf_token };
  },

  async deleteSession({ raw, header }, ctx) {
    const token = sessionToken(raw);
    if (token) await deleteSession(ctx.db, token);
    header('set-cookie', sessionCookie(raw, '', 0));
    return { ok: true };
  },
} satisfies Handlers;
