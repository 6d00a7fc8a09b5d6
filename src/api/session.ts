import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ApiContext, AuthUser } from './context.js';
import { HttpError } from './errors.js';
import { sessionFor } from '../store/sessions.js';

/**
 * The dashboard's browser session: an HttpOnly, SameSite=Strict cookie (Secure when the page came
 * over HTTPS) instead of a token script could read. Requests that change something must also carry
 * the session's CSRF token in `x-csrf-token`; a WebSocket opened with the cookie must come from a
 * page of this origin. Bearer tokens (CLI, scripts) are untouched by any of this.
 * Over HTTPS the cookie is `__Host-berth_session`: the browser then takes it only with Secure,
 * Path=/ and no Domain, so no sibling host can set or widen it. The router strips both names from
 * every request it forwards to an app (router/haproxy/config.ts).
 */
export const SESSION_COOKIE = 'berth_session';
export const SECURE_SESSION_COOKIE = `__Host-${SESSION_COOKIE}`;
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function cookieValue(req: FastifyRequest, name: string): string | undefined {
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

/** The session cookie's name for this request: the `__Host-` one over HTTPS, only that one. */
const cookieName = (req: FastifyRequest) => (secure(req) ? SECURE_SESSION_COOKIE : SESSION_COOKIE);

/** The session token the request carries, if any. */
export const sessionToken = (req: FastifyRequest) => cookieValue(req, cookieName(req));

/** The Set-Cookie value for the session cookie (value '' and max-age 0 clear it). */
export function sessionCookie(req: FastifyRequest, value: string, maxAgeS: number): string {
  const attrs = [`${cookieName(req)}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAgeS}`];
  if (secure(req)) attrs.push('Secure');
  return attrs.join('; ');
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
  const token = sessionToken(req);
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
  return { id: s.id, username: s.username, is_admin: !!s.is_admin, via: { kind: 'session', id: s.session_id } };
}
