import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type as T } from '@sinclair/typebox';
import type { ApiContext, AuthUser } from './context.js';
import { HttpError } from './errors.js';
import { authenticate, userDto } from './routes/auth.js';
import { newToken } from '../lib/crypto.js';
import { createSession, deleteSession, sessionFor } from '../store/sessions.js';
import { userById } from '../store/users.js';
import * as S from './schemas.js';

/**
 * The dashboard's browser session: an HttpOnly, SameSite=Strict cookie (Secure when the page came
 * over HTTPS) instead of a token script could read. Requests that change something must also carry
 * the session's CSRF token in `x-csrf-token`; a WebSocket opened with the cookie must come from a
 * page of this origin. Bearer tokens (CLI, scripts) are untouched by any of this.
 */
export const SESSION_COOKIE = 'berth_session';
const SESSION_DAYS = 7;
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

function cookieValue(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

const sameText = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

function secure(req: FastifyRequest): boolean {
  return req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';
}

function setCookie(req: FastifyRequest, reply: FastifyReply, value: string, maxAgeS: number) {
  const attrs = [`${SESSION_COOKIE}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAgeS}`];
  if (secure(req)) attrs.push('Secure');
  reply.header('set-cookie', attrs.join('; '));
}

/** True when the request's Origin names the host it was sent to (what a page of this dashboard sends). */
function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (!origin) return false;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/**
 * The caller of a request that carries the session cookie and no Authorization header; undefined
 * when there is no cookie. Throws 401 for an ended session, 403 for a missing CSRF token or origin.
 */
export async function sessionUser(ctx: ApiContext, req: FastifyRequest): Promise<AuthUser | undefined> {
  const token = cookieValue(req, SESSION_COOKIE);
  if (!token) return undefined;
  const s = await sessionFor(ctx.db, token);
  if (!s) throw new HttpError(401, 'unauthorized', 'the session has ended; log in again');
  if (req.headers.upgrade?.toLowerCase() === 'websocket') {
    if (!sameOrigin(req)) throw new HttpError(403, 'bad_origin', 'a WebSocket opened with the session cookie must come from this origin');
  } else if (!SAFE.has(req.method)) {
    const sent = req.headers['x-csrf-token'];
    if (typeof sent !== 'string' || !sameText(sent, s.csrf_token)) {
      throw new HttpError(403, 'csrf', 'the x-csrf-token header is missing or wrong', { field: 'x-csrf-token' });
    }
  }
  return { id: s.id, username: s.username, is_admin: !!s.is_admin };
}

const SessionBody = T.Object({ user: S.User, csrf_token: T.String() });

/** POST /api/v1/session logs in, GET tells the page who it is (and its CSRF token), DELETE ends it. */
export function registerSession(app: FastifyInstance, ctx: ApiContext) {
  const schema = (extra: object) => ({ tags: ['auth'], response: { 200: SessionBody, '4xx': S.ErrorBody }, ...extra });
  app.post<{ Body: { username: string; password: string } }>(
    '/api/v1/session',
    {
      config: { auth: false },
      schema: schema({
        operationId: 'createSession',
        summary: 'Log in from a browser: sets the session cookie',
        body: T.Object({ username: T.String({ minLength: 1, maxLength: 64 }), password: T.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
      }),
    },
    async (req, reply) => {
      const user = await authenticate(ctx, req.body.username, req.body.password);
      const token = newToken();
      const csrf = randomBytes(24).toString('base64url');
      await createSession(ctx.db, { userId: user.id, token, csrfToken: csrf, expiresAt: new Date(Date.now() + SESSION_DAYS * 86400_000).toISOString() });
      setCookie(req, reply, token, SESSION_DAYS * 86400);
      return { user: userDto(user), csrf_token: csrf };
    },
  );
  app.get('/api/v1/session', { config: { auth: false }, schema: schema({ operationId: 'getSession', summary: 'The browser session: its user and CSRF token' }) }, async (req) => {
    const token = cookieValue(req, SESSION_COOKIE);
    const s = token ? await sessionFor(ctx.db, token) : undefined;
    if (!s) throw new HttpError(401, 'unauthorized', 'not logged in');
    const user = await userById(ctx.db, s.id);
    if (!user) throw new HttpError(401, 'unauthorized', 'not logged in');
    return { user: userDto(user), csrf_token: s.csrf_token };
  });
  app.delete(
    '/api/v1/session',
    { config: { auth: true }, schema: schema({ operationId: 'deleteSession', summary: 'Log out: ends the session on the server', response: { 200: S.Ok, '4xx': S.ErrorBody } }) },
    async (req, reply) => {
      const token = cookieValue(req, SESSION_COOKIE);
      if (token) await deleteSession(ctx.db, token);
      setCookie(req, reply, '', 0);
      return { ok: true };
    },
  );
}
