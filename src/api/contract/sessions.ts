import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { closed, type RouteDef } from './route-def.js';

const SessionBody = T.Object({ user: S.User, csrf_token: T.String() });
const COOKIE = 'The session cookie: HttpOnly, SameSite=Strict, Secure when the page came over HTTPS';

/**
 * The dashboard's browser session (src/api/session.ts): an HttpOnly cookie instead of a token
 * script could read, plus a CSRF token the page sends back in `x-csrf-token` on every change.
 */
export const sessionRoutes = {
  createSession: {
    method: 'POST',
    path: '/api/v1/session',
    summary: 'Log in from a browser: sets the session cookie',
    tag: 'auth',
    access: 'public',
    auth: false,
    body: closed({ username: T.String({ minLength: 1, maxLength: 64 }), password: T.String({ minLength: 1, maxLength: 256 }) }),
    response: SessionBody,
    headers: { 'set-cookie': COOKIE },
  },
  getSession: {
    method: 'GET',
    path: '/api/v1/session',
    summary: 'The browser session: its user and CSRF token',
    tag: 'auth',
    access: 'public',
    // Answers from the cookie alone: 401 when there is none.
    auth: false,
    response: SessionBody,
  },
  deleteSession: {
    method: 'DELETE',
    path: '/api/v1/session',
    summary: 'Log out: ends the session on the server',
    tag: 'auth',
    access: 'user',
    response: S.Ok,
    headers: { 'set-cookie': 'Clears the session cookie' },
  },
} as const satisfies Record<string, RouteDef>;
