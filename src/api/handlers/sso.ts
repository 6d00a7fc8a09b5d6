import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../context.js';
import type { Handlers } from '../register.js';
import { HttpError } from '../errors.js';
import { cookieValue, sessionCookie } from '../session.js';
import { SESSION_DAYS } from './sessions.js';
import { OidcClient, type IdClaims } from '../../lib/oidc.js';
import { newToken } from '../../lib/crypto.js';
import { createSession } from '../../store/sessions.js';
import { userByName } from '../../store/users.js';
import { createSsoUser, linkIdentity, userByEmail, userOfIdentity } from '../../store/identities.js';
import { recordAudit } from '../../store/audit.js';

const START = '/api/v1/session/oidc/start';
const CALLBACK = '/api/v1/session/oidc/callback';
const STATE_COOKIE = 'berth_oidc_state';
const PENDING_MS = 600_000;
const MAX_PENDING = 10_000;

export const ssoHandlers = {
  async getSso(_req, ctx) {
    const on = !!ctx.config.access.oidc;
    return { enabled: on, login_url: on ? START : null };
  },
} satisfies Handlers;

const secure = (req: FastifyRequest) => req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';
const callbackUrl = (req: FastifyRequest) => `${secure(req) ? 'https' : 'http'}://${req.headers.host}${CALLBACK}`;
// Lax, not Strict: the provider sends the browser back with a top-level cross-site navigation.
const stateCookie = (req: FastifyRequest, value: string, maxAgeS: number) =>
  [`${STATE_COOKIE}=${value}`, `Path=/api/v1/session/oidc`, 'HttpOnly', 'SameSite=Lax', `Max-Age=${maxAgeS}`, ...(secure(req) ? ['Secure'] : [])].join('; ');

/** A username for a new user, from the provider's claims: the pattern users have, unique. */
async function freeUsername(ctx: ApiContext, c: IdClaims): Promise<string> {
  const raw = c.preferred_username || c.email?.split('@')[0] || 'user';
  const base = raw.replace(/[^a-zA-Z0-9_.-]/g, '-').replace(/^[^a-zA-Z0-9]+/, '').slice(0, 56) || 'user';
  for (let name = base; ; name = `${base}-${randomBytes(3).toString('hex')}`) {
    if (!(await userByName(ctx.db, name))) return name;
  }
}

/** The user of these claims: the same provider account as before, else the user with this verified email, else a new one. */
async function userOf(ctx: ApiContext, issuer: string, c: IdClaims) {
  const known = await userOfIdentity(ctx.db, issuer, c.sub);
  if (known) return known;
  const email = c.email && c.email_verified === true ? c.email.toLowerCase() : null;
  const user = (email && (await userByEmail(ctx.db, email))) || (await createSsoUser(ctx.db, await freeUsername(ctx, c), email));
  await linkIdentity(ctx.db, { issuer, subject: c.sub, userId: user.id, email });
  return user;
}

/**
 * The dashboard's single sign-on (authorization code with PKCE): `start` sends the browser to the
 * provider with a fresh state (kept here and in a cookie bound to this browser, so a login cannot
 * be planted in someone else's), nonce and code verifier; `callback` checks the state, exchanges
 * the code, verifies the ID token, finds or makes the user and opens a dashboard session.
 */
export function registerSso(app: FastifyInstance, ctx: ApiContext): void {
  const settings = ctx.config.access.oidc;
  const client = settings ? new OidcClient(settings) : null;
  const pending = new Map<string, { nonce: string; verifier: string; at: number }>();
  const off = () => new HttpError(404, 'not_found', 'single sign-on is not configured (BERTH_OIDC_ISSUER)');
  const audit = (req: FastifyRequest, status: number, user: { id: string; username: string } | null) =>
    recordAudit(ctx.db, {
      at: new Date().toISOString(),
      user_id: user?.id ?? null,
      username: user?.username ?? null,
      action: 'ssoLogin',
      method: 'GET',
      path: CALLBACK,
      status,
      project_id: null,
      address: req.ip,
      credential: null,
    }).catch((err) => req.log.error({ err }, 'audit entry not written'));

  app.get(START, { config: { auth: false }, schema: { hide: true } }, async (req, reply: FastifyReply) => {
    if (!client) throw off();
    for (const [k, v] of pending) if (Date.now() - v.at > PENDING_MS) pending.delete(k);
    if (pending.size >= MAX_PENDING) throw new HttpError(503, 'busy', 'too many logins under way; try again shortly');
    const b = await client.begin(callbackUrl(req));
    pending.set(b.state, { nonce: b.nonce, verifier: b.verifier, at: Date.now() });
    return reply.header('set-cookie', stateCookie(req, b.state, PENDING_MS / 1000)).redirect(b.url, 302);
  });

  app.get<{ Querystring: Record<string, string | undefined> }>(CALLBACK, { config: { auth: false }, schema: { hide: true } }, async (req, reply) => {
    if (!client || !settings) throw off();
    const { code, state, error } = req.query;
    const p = typeof state === 'string' ? pending.get(state) : undefined;
    if (!p || cookieValue(req, STATE_COOKIE) !== state || Date.now() - p.at > PENDING_MS) {
      await audit(req, 400, null);
      throw new HttpError(400, 'bad_state', 'this sign-on was not started by this browser, or took too long: start again', { field: 'state' });
    }
    pending.delete(state!);
    if (error || typeof code !== 'string') {
      await audit(req, 401, null);
      throw new HttpError(401, 'sso_refused', `the provider did not sign you in${error ? ` (${String(error).slice(0, 100)})` : ''}`);
    }
    let claims: IdClaims;
    try {
      claims = await client.finish(code, callbackUrl(req), p);
    } catch (err) {
      req.log.warn({ err }, 'single sign-on failed');
      await audit(req, 401, null);
      throw new HttpError(401, 'sso_failed', `single sign-on failed: ${(err as Error).message}`);
    }
    const user = await userOf(ctx, settings.issuer, claims);
    if (user.disabled) {
      await audit(req, 403, user);
      throw new HttpError(403, 'user_disabled', `user "${user.username}" is disabled`);
    }
    const token = newToken();
    await createSession(ctx.db, { userId: user.id, token, csrfToken: randomBytes(24).toString('base64url'), expiresAt: new Date(Date.now() + SESSION_DAYS * 86400_000).toISOString() });
    await audit(req, 302, user);
    return reply.header('set-cookie', [sessionCookie(req, token, SESSION_DAYS * 86400), stateCookie(req, '', 0)]).redirect('/', 302);
  });
}
