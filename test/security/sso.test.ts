import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { freePort, startServer, type TestServer } from '../support/server.js';
import { send } from './helpers.js';

/** A real OpenID Connect provider (the certified `oidc-provider` from npm) on loopback, and its accounts. */
const ACCOUNTS: Record<string, { email: string; email_verified: boolean; preferred_username: string }> = {
  'sub-olga': { email: 'olga@corp.example', email_verified: true, preferred_username: 'olga' },
  'sub-existing': { email: 'kim@corp.example', email_verified: true, preferred_username: 'someone-else' },
  'sub-unverified': { email: 'kim@corp.example', email_verified: false, preferred_username: 'kim' },
  'sub-kim-2': { email: 'KIM@corp.example', email_verified: true, preferred_username: 'kim2' },
};

/** Cookies per name, as a browser keeps them (paths ignored: one provider, one Berth). */
class Jar {
  private readonly cookies = new Map<string, string>();
  take(setCookie: string | string[] | undefined) {
    for (const c of [setCookie ?? []].flat()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      const [name, value] = [pair.slice(0, i).trim(), pair.slice(i + 1).trim()];
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  get(name: string) {
    return this.cookies.get(name);
  }
}

/** One GET or POST with the jar's cookies, no redirect followed. */
function request(url: string, jar: Jar, opts: { method?: string; form?: Record<string, string> } = {}): Promise<{ status: number; location?: string; text: string }> {
  const u = new URL(url);
  const body = opts.form ? new URLSearchParams(opts.form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: opts.method ?? 'GET', headers: { cookie: jar.header(), ...(body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } : {}) } },
      (res) => {
        jar.take(res.headers['set-cookie']);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location ? new URL(res.headers.location, url).toString() : undefined, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer: ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

describe('single sign-on with OpenID Connect', () => {
  let s: TestServer;
  let op: http.Server;
  let issuer: string;

  before(async () => {
    const berthPort = await freePort();
    const opPort = await freePort();
    issuer = `http://127.0.0.1:${opPort}`;
    const provider = new Provider(issuer, {
      clients: [{ client_id: 'berth', client_secret: 'berth-client-secret', redirect_uris: [`http://127.0.0.1:${berthPort}/api/v1/session/oidc/callback`], grant_types: ['authorization_code'], response_types: ['code'] }],
      pkce: { required: () => true },
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['preferred_username'] },
      findAccount: async (_ctx: unknown, sub: string) => (ACCOUNTS[sub] ? { accountId: sub, claims: async () => ({ sub, ...ACCOUNTS[sub] }) } : undefined),
    });
    op = http.createServer(provider.callback());
    await new Promise<void>((r) => op.listen(opPort, '127.0.0.1', r));
    assert.equal((op.address() as AddressInfo).port, opPort);
    s = await startServer({ env: { SERVER_PORT: String(berthPort), BERTH_OIDC_ISSUER: issuer, BERTH_OIDC_CLIENT_ID: 'berth', BERTH_OIDC_CLIENT_SECRET: 'berth-client-secret' } });
  });
  after(async () => {
    await s?.destroy();
    await new Promise((r) => op?.close(r));
  });

  /** A browser signing in as `account` at the provider, until it is back at Berth; the last answer and the jar. */
  async function signIn(account: string, jar = new Jar()) {
    let r = await request(`${s.url}/api/v1/session/oidc/start`, jar);
    assert.equal(r.status, 302, r.text);
    assert.ok(r.location?.startsWith(`${issuer}/`), r.location);
    for (let hops = 0; hops < 12 && r.location; hops++) {
      const at = r.location;
      if (at.startsWith(s.url)) return { answer: await request(at, jar), jar, callback: at };
      r = await request(at, jar);
      const uid = /\/interaction\/([^/?]+)$/.exec(at)?.[1];
      if (uid && r.status === 200) {
        const prompt = /name="prompt" value="(\w+)"/.exec(r.text)?.[1] ?? (/consent|Authorize/i.test(r.text) ? 'consent' : 'login');
        r = await request(at, jar, { method: 'POST', form: prompt === 'login' ? { prompt, login: account, password: 'any' } : { prompt } });
      }
    }
    assert.fail(`did not come back to Berth: ${r.status} ${r.location} ${r.text.slice(0, 300)}`);
  }

  test('the dashboard learns that sign-on is on; a new provider account becomes a user with a dashboard session', async () => {
    const info = await send(s.url, 'GET', '/api/v1/session/sso');
    assert.deepEqual(info.json, { enabled: true, login_url: '/api/v1/session/oidc/start' });
    const { answer, jar } = await signIn('sub-olga');
    assert.equal(answer.status, 302, answer.text);
    assert.equal(answer.location, `${s.url}/`);
    const session = await send(s.url, 'GET', '/api/v1/session', { headers: { cookie: jar.header() } });
    assert.equal(session.status, 200, session.text);
    assert.equal(session.json.user.username, 'olga');
    // The same provider account again is the same user.
    const again = await signIn('sub-olga');
    const second = await send(s.url, 'GET', '/api/v1/session', { headers: { cookie: again.jar.header() } });
    assert.equal(second.json.user.id, session.json.user.id);
    assert.equal((await s.admin.call('listUsers')).items.filter((u) => u.username.startsWith('olga')).length, 1);
    // The new user has no password: nobody logs in as them with one.
    const pw = await send(s.url, 'POST', '/api/v1/auth/login', { body: JSON.stringify({ username: 'olga', password: 'sso-only' }), headers: { 'content-type': 'application/json' } });
    assert.equal(pw.status, 401);
  });

  test('a verified email signs in as the user who has it; an unverified one never does', async () => {
    // kim's email became known through a first sign-on with a verified claim.
    const first = await signIn('sub-existing');
    const kim = (await send(s.url, 'GET', '/api/v1/session', { headers: { cookie: first.jar.header() } })).json.user;
    const other = await signIn('sub-unverified');
    const who = (await send(s.url, 'GET', '/api/v1/session', { headers: { cookie: other.jar.header() } })).json.user;
    assert.notEqual(who.id, kim.id, 'an unverified email claim takes over nobody');
    const second = await signIn('sub-kim-2');
    const same = (await send(s.url, 'GET', '/api/v1/session', { headers: { cookie: second.jar.header() } })).json.user;
    assert.equal(same.id, kim.id, 'another provider account with the same verified email is the same user');
  });

  test('a callback that this browser did not start, a replayed one, or a forged code is refused', async () => {
    const victim = await signIn('sub-olga');
    // Replaying the callback (code and state) in another browser, or in the same one again.
    for (const jar of [new Jar(), victim.jar]) {
      const r = await request(victim.callback, jar);
      assert.equal(r.status, 400, r.text);
      assert.match(r.text, /bad_state/);
    }
    // A state this browser holds, with a made-up code.
    const jar = new Jar();
    const start = await request(`${s.url}/api/v1/session/oidc/start`, jar);
    const state = new URL(start.location!).searchParams.get('state')!;
    const forged = await request(`${s.url}/api/v1/session/oidc/callback?code=made-up&state=${state}`, jar);
    assert.equal(forged.status, 401, forged.text);
    assert.equal(jar.get('berth_session'), undefined);
    const audit = await s.admin.call('listAudit', { query: { action: 'ssoLogin' } });
    assert.ok(audit.items.some((e) => e.status === 302 && e.user?.username === 'olga'));
    assert.ok(audit.items.some((e) => e.status === 401));
  });
});
