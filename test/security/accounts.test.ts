import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, type TestServer } from '../support/server.js';
import { send, wsCollect, wsUrl } from './helpers.js';

/**
 * Account takeover: what should end a session does end it, open WebSockets included; online
 * password guessing is slowed to a crawl. The attacker holds a stolen token or cookie and keeps
 * using it after the victim reacts.
 */

interface Browser {
  cookie: string;
  csrf: string;
}

describe('accounts: sessions, tokens and open sockets end when they should', () => {
  let s: TestServer;
  const password = (u: string) => `pw-${u}-secret`;

  before(async () => {
    s = await startServer();
  });
  after(async () => {
    await s?.destroy();
  });

  async function browserLogin(username: string, pw = password(username)): Promise<Browser> {
    const r = await send(s.url, 'POST', '/api/v1/session', { body: JSON.stringify({ username, password: pw }), headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 200, r.text);
    const setCookie = String(r.headers['set-cookie']);
    return { cookie: setCookie.split(';')[0], csrf: r.json.csrf_token };
  }
  const tokenWorks = async (token: string) => (await send(s.url, 'GET', '/api/v1/auth/whoami', { token })).status;
  const cookieWorks = async (b: Browser) => (await send(s.url, 'GET', '/api/v1/projects', { headers: { cookie: b.cookie } })).status;

  /** An open socket, and a promise of its close code (or 'open' if still open after `ms`). */
  async function openSocket(path: string, auth: { token?: string; browser?: Browser }) {
    const u = new URL(wsUrl(s.url, path));
    const headers: Record<string, string> = auth.token
      ? { authorization: `Bearer ${auth.token}` }
      : { cookie: auth.browser!.cookie, origin: s.url };
    const ws = new WebSocket(u, { headers });
    const closed = new Promise<{ code: number; reason: string; at: number }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason), at: Date.now() })));
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => resolve());
      ws.on('unexpected-response', (_q, res) => reject(new Error(`${path}: upgrade refused with ${res.statusCode}`)));
      ws.on('error', reject);
    });
    return {
      ws,
      /** Resolves with the close, or rejects when the socket is still open after `ms`. */
      async closedWithin(ms: number) {
        const start = Date.now();
        const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${path} still open after ${ms} ms`)), ms).unref());
        const c = await Promise.race([closed, timeout]);
        return { ...c, afterMs: c.at - start };
      },
      async stillOpenAfter(ms: number) {
        const c = await Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), ms))]);
        assert.equal(c, null, `${path} closed: ${JSON.stringify(c)}`);
        ws.close();
      },
    };
  }

  test('a token in a WebSocket URL never reaches the server log', async () => {
    const ivy = await s.newUser('ivy');
    const token = ivy.opts.token!;
    const ok = await wsCollect(wsUrl(s.url, '/ws/events?tail=1'), { queryToken: token, ms: 300 });
    assert.equal(ok.status, 101);
    await wsCollect(wsUrl(s.url, '/ws/apps/nope/logs'), { queryToken: token, ms: 300 });
    await wsCollect(wsUrl(s.url, '/ws/events'), { queryToken: `${token}x`, ms: 300 });
    const lines = s.output().split('\n');
    assert.ok(lines.some((l) => l.includes('/ws/events?tail=1&token=[redacted]')), 'the request is logged, without its token');
    const leaked = lines.filter((l) => l.includes(token.slice(-16)));
    assert.deepEqual(leaked, [], 'lines carrying the token');
  });

  test("changing one's password ends every other session and token; the caller's own goes on", async () => {
    const carol = await s.newUser('carol');
    const stolen = await s.login('carol', password('carol'));
    const ci = await carol.call('createToken', { body: { name: 'ci' } });
    const otherBrowser = await browserLogin('carol');
    const myBrowser = await browserLogin('carol');
    const sockets = [await openSocket('/ws/events', { token: stolen.opts.token }), await openSocket('/ws/events', { browser: otherBrowser })];
    const mine = await openSocket('/ws/events', { browser: myBrowser });

    const r = await send(s.url, 'POST', '/api/v1/auth/password', {
      headers: { cookie: myBrowser.cookie, 'x-csrf-token': myBrowser.csrf, 'content-type': 'application/json' },
      body: JSON.stringify({ current_password: password('carol'), new_password: 'a-new-password-1' }),
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(await tokenWorks(stolen.opts.token!), 401, 'the token a thief logged in with');
    assert.equal(await tokenWorks(ci.token), 401, 'tokens made before the change');
    assert.equal(await tokenWorks(carol.opts.token!), 401);
    assert.equal(await cookieWorks(otherBrowser), 401, 'the other browser');
    assert.equal(await cookieWorks(myBrowser), 200, 'the browser that changed it stays logged in');
    for (const sock of sockets) assert.equal((await sock.closedWithin(10_000)).code, 1008);
    await mine.stillOpenAfter(3000);
  });

  test("an admin's password reset ends the user's tokens, dashboard sessions and sockets; so does disabling", async () => {
    const dan = await s.newUser('dan');
    const b = await browserLogin('dan');
    const sockToken = await openSocket('/ws/events', { token: dan.opts.token });
    const sockCookie = await openSocket('/ws/events', { browser: b });
    const { id } = await dan.call('whoami');
    await s.admin.call('updateUser', { params: { id }, body: { password: 'reset-by-admin-1' } });
    assert.equal(await tokenWorks(dan.opts.token!), 401);
    assert.equal(await cookieWorks(b), 401, 'the dashboard session ends with the reset');
    assert.equal((await sockToken.closedWithin(10_000)).code, 1008);
    assert.equal((await sockCookie.closedWithin(10_000)).code, 1008);

    const again = await s.login('dan', 'reset-by-admin-1');
    const b2 = await browserLogin('dan', 'reset-by-admin-1');
    const sock = await openSocket('/ws/events', { token: again.opts.token });
    await s.admin.call('updateUser', { params: { id }, body: { disabled: true } });
    assert.equal(await tokenWorks(again.opts.token!), 401);
    assert.equal(await cookieWorks(b2), 401);
    assert.equal((await sock.closedWithin(10_000)).code, 1008);
    // Enabling again does not bring the ended session back.
    await s.admin.call('updateUser', { params: { id }, body: { disabled: false } });
    assert.equal(await cookieWorks(b2), 401);
  });

  test('a revoked token, a logout, a deleted user and a removal from the project close open sockets within seconds', async () => {
    const erin = await s.newUser('erin');
    const fay = await s.newUser('fay');
    const project = await erin.call('createProject', { body: { name: 'erin-p' } });
    await erin.call('addMember', { params: { id: project.id }, body: { username: 'fay', role: 'developer' } });
    await erin.call('createApp', { body: { name: 'svc', slug: 'erin-svc', project: project.id } });

    // A revoked token: its log follow closes; the same user's other token keeps its socket.
    const extra = await fay.call('createToken', { body: { name: 'laptop' } });
    const revoked = await openSocket('/ws/apps/erin-svc/logs', { token: extra.token });
    const kept = await openSocket('/ws/apps/erin-svc/logs', { token: fay.opts.token });
    await fay.call('revokeToken', { params: { id: extra.id } });
    const c = await revoked.closedWithin(10_000);
    assert.deepEqual([c.code, c.reason], [1008, 'access ended']);

    // Removed from the project: the app's log follow closes, the events socket stays (it only stops showing the project).
    const events = await openSocket('/ws/events', { token: fay.opts.token });
    const seen: string[] = [];
    events.ws.on('message', (m) => seen.push(String(m)));
    await erin.call('removeMember', { params: { id: project.id, user: 'fay' } });
    assert.equal((await kept.closedWithin(10_000)).code, 1008);
    await new Promise((r) => setTimeout(r, 1100)); // past the events socket's membership cache
    await erin.call('addDomain', { params: { id: 'erin-svc' }, body: { hostname: 'after-removal.erin.example' } });
    await events.stillOpenAfter(1500);
    assert.ok(!seen.some((m) => m.includes('after-removal')), `a removed member still got: ${seen.join('|')}`);

    // A logout closes the sockets of that session.
    const b = await browserLogin('fay');
    const cookieSock = await openSocket('/ws/events', { browser: b });
    const out = await send(s.url, 'DELETE', '/api/v1/session', { headers: { cookie: b.cookie, 'x-csrf-token': b.csrf } });
    assert.equal(out.status, 200);
    assert.equal((await cookieSock.closedWithin(10_000)).code, 1008);

    // A deleted user.
    const sock = await openSocket('/ws/events', { token: fay.opts.token });
    await s.admin.call('deleteUser', { params: { id: (await fay.call('whoami')).id } });
    assert.equal((await sock.closedWithin(10_000)).code, 1008);
  });
});


describe('accounts: online password guessing is limited per username and per client address', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ env: { BERTH_LOGIN_MAX_FAILURES_PER_USER: '3', BERTH_LOGIN_MAX_FAILURES_PER_ADDRESS: '8', BERTH_LOGIN_WINDOW_S: '4' } });
  });
  after(async () => {
    await s?.destroy();
  });

  const login = (username: string, password: string, headers: Record<string, string> = {}, path = '/api/v1/auth/login') =>
    send(s.url, 'POST', path, { body: JSON.stringify({ username, password }), headers: { 'content-type': 'application/json', ...headers } });

  test('after 3 failures a username is refused with 429 and Retry-After, the right password included, on both login routes', async () => {
    const gina = await s.newUser('gina');
    for (let i = 0; i < 3; i++) assert.equal((await login('gina', `guess-${i}`)).status, 401);
    for (const path of ['/api/v1/auth/login', '/api/v1/session']) {
      const r = await login('GINA', 'pw-gina-secret', {}, path);
      assert.equal(r.status, 429, `${path}: ${r.text}`);
      assert.equal(r.json.error.code, 'too_many_attempts');
      const retry = Number(r.headers['retry-after']);
      assert.ok(retry >= 1 && retry <= 4, `Retry-After ${r.headers['retry-after']}`);
      assert.equal(r.json.error.details.retry_after_s, retry);
    }
    // The user's token keeps working, and another user logs in from the same address.
    assert.equal((await send(s.url, 'GET', '/api/v1/auth/whoami', { token: gina.opts.token })).status, 200);
    await s.newUser('hal');
    assert.equal((await login('hal', 'pw-hal-secret')).status, 200);
    // Once Retry-After has passed, the right password works again.
    const r = await login('gina', 'pw-gina-secret');
    await new Promise((res) => setTimeout(res, Number(r.headers['retry-after'] ?? 0) * 1000 + 100));
    assert.equal((await login('gina', 'pw-gina-secret')).status, 200);
  });

  test('one address guessing many usernames is refused after 8 failures; a forged X-Forwarded-For does not get around it', async () => {
    for (let i = 0; i < 8; i++) assert.equal((await login(`nobody-${i}`, 'guess')).status, 401);
    const blocked = await login('hal', 'pw-hal-secret');
    assert.equal(blocked.status, 429, blocked.text);
    assert.ok(Number(blocked.headers['retry-after']) >= 1);
    const forged = await login('hal', 'pw-hal-secret', { 'x-forwarded-for': '203.0.113.7' });
    assert.equal(forged.status, 429);
  });
});
