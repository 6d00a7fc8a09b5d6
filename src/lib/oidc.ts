import { createHash, createPublicKey, randomBytes, verify, type JsonWebKey } from 'node:crypto';

/**
 * The relying-party side of OpenID Connect's authorization code flow (with PKCE), for the
 * dashboard's single sign-on: discovery, the authorization URL, the code exchange and the ID
 * token's checks (signature against the provider's JWKS, issuer, audience, expiry, nonce).
 */
export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
}

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  userinfo_endpoint?: string;
}

export interface IdClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  nonce?: string;
  email?: string;
  email_verified?: boolean;
  preferred_username?: string;
  name?: string;
}

const TIMEOUT_MS = 10_000;
const b64url = (b: Buffer) => b.toString('base64url');

async function getJson<T>(url: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${new URL(url).pathname} answered ${res.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as T;
}

export class OidcClient {
  private discovery: Promise<Discovery> | undefined;

  constructor(readonly settings: OidcSettings) {}

  private meta(): Promise<Discovery> {
    this.discovery ??= getJson<Discovery>(`${this.settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`).then((d) => {
      if (d.issuer !== this.settings.issuer) throw new Error(`the provider says its issuer is ${d.issuer}, not ${this.settings.issuer}`);
      return d;
    });
    this.discovery.catch(() => (this.discovery = undefined));
    return this.discovery;
  }

  /** A new login: where to send the browser, and what the callback must check. */
  async begin(redirectUri: string): Promise<{ url: string; state: string; nonce: string; verifier: string }> {
    const d = await this.meta();
    const state = b64url(randomBytes(24));
    const nonce = b64url(randomBytes(24));
    const verifier = b64url(randomBytes(32));
    const url = new URL(d.authorization_endpoint);
    for (const [k, v] of Object.entries({
      response_type: 'code',
      client_id: this.settings.clientId,
      redirect_uri: redirectUri,
      scope: 'openid email profile',
      state,
      nonce,
      code_challenge: b64url(createHash('sha256').update(verifier).digest()),
      code_challenge_method: 'S256',
    })) {
      url.searchParams.set(k, v);
    }
    return { url: url.toString(), state, nonce, verifier };
  }

  /** Exchanges the code and returns the ID token's claims, once every check passed. */
  async finish(code: string, redirectUri: string, expect: { nonce: string; verifier: string }): Promise<IdClaims> {
    const d = await this.meta();
    const basic = Buffer.from(`${encodeURIComponent(this.settings.clientId)}:${encodeURIComponent(this.settings.clientSecret)}`).toString('base64');
    const tokens = await getJson<{ id_token?: string; access_token?: string }>(d.token_endpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: expect.verifier }).toString(),
    });
    if (!tokens.id_token) throw new Error('the token answer has no id_token');
    const claims = await this.verifyIdToken(d, tokens.id_token);
    if (claims.nonce !== expect.nonce) throw new Error('the ID token’s nonce is not this login’s');
    // With the code flow, providers may keep profile and email claims for the userinfo endpoint.
    if (d.userinfo_endpoint && tokens.access_token && (claims.email === undefined || claims.preferred_username === undefined)) {
      const info = await getJson<Partial<IdClaims>>(d.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      if (info.sub !== claims.sub) throw new Error('the userinfo answer is about another subject');
      return { ...info, ...claims, email: claims.email ?? info.email, email_verified: claims.email_verified ?? info.email_verified, preferred_username: claims.preferred_username ?? info.preferred_username };
    }
    return claims;
  }

  private async verifyIdToken(d: Discovery, jwt: string): Promise<IdClaims> {
    const [h, p, s] = jwt.split('.');
    if (!h || !p || !s) throw new Error('the ID token is not a signed JWT');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string; kid?: string };
    const algs: Record<string, { hash: string; ec?: boolean }> = { RS256: { hash: 'sha256' }, PS256: { hash: 'sha256' }, ES256: { hash: 'sha256', ec: true } };
    const alg = algs[header.alg ?? ''];
    if (!alg) throw new Error(`ID token algorithm ${header.alg} is not accepted`);
    const { keys } = await getJson<{ keys: (JsonWebKey & { kid?: string; use?: string })[] }>(d.jwks_uri);
    const jwk = keys.find((k) => (header.kid ? k.kid === header.kid : true) && k.use !== 'enc');
    if (!jwk) throw new Error('no key of the provider signed the ID token');
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    const data = Buffer.from(`${h}.${p}`);
    const sig = Buffer.from(s, 'base64url');
    const ok =
      header.alg === 'PS256'
        ? verify(alg.hash, data, { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 }, sig)
        : verify(alg.hash, data, alg.ec ? { key, dsaEncoding: 'ieee-p1363' } : key, sig);
    if (!ok) throw new Error('the ID token’s signature does not verify');
    const c = JSON.parse(Buffer.from(p, 'base64url').toString()) as IdClaims;
    if (c.iss !== this.settings.issuer) throw new Error(`the ID token's issuer is ${c.iss}`);
    const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
    if (!aud.includes(this.settings.clientId)) throw new Error('the ID token is not for this client');
    if (typeof c.exp !== 'number' || c.exp * 1000 < Date.now() - 60_000) throw new Error('the ID token has expired');
    if (typeof c.sub !== 'string' || !c.sub) throw new Error('the ID token has no subject');
    return c;
  }
}
