import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, ADMIN_PASSWORD, ENGINES, type TestServer } from '../support/server.js';

/**
 * What the dashboard leans on, over plain HTTP: the page and its assets, the browser session
 * (cookie, CSRF, logout), bearer tokens untouched, and the apps list staying exact while cached.
 */
for (const engine of ENGINES) {
  describe(`dashboard serving and browser sessions (${engine})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer({ engine });
    });
    after(async () => {
      await s?.destroy();
    });

    const login = async () => {
      const res = await fetch(`${s.url}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
      });
      assert.equal(res.status, 200);
      const setCookie = res.headers.get('set-cookie')!;
      const body = (await res.json()) as { csrf_token: string; user: { username: string } };
      return { setCookie, cookie: setCookie.split(';')[0], csrf: body.csrf_token, user: body.user };
    };

    test('the page: every screen URL answers index.html with a strict CSP; hashed assets are cached for a year', async () => {
      for (const path of ['/', '/login', '/projects', '/projects/x', '/apps/x/logs', '/builds/b', '/events', '/settings/tokens', '/admin/users', '/nodes', '/nodes/node1']) {
        const res = await fetch(`${s.url}${path}`);
        assert.equal(res.status, 200, path);
        assert.match(res.headers.get('content-type')!, /text\/html/);
        const csp = res.headers.get('content-security-policy')!;
        assert.match(csp, /default-src 'self'/);
        assert.match(csp, /script-src 'self'(;|$)/, 'no inline or eval script');
        assert.match(csp, /frame-ancestors 'none'/);
        assert.equal(res.headers.get('cache-control'), 'no-cache');
      }
      const html = await (await fetch(s.url)).text();
      assert.doesNotMatch(html, /<script>(?!<\/script>)/, 'no inline script');
      const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1];
      const res = await fetch(`${s.url}${asset}`, { headers: { 'accept-encoding': 'br, gzip' } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('cache-control')!, /max-age=31536000.*immutable|immutable.*max-age=31536000/);
      assert.equal(res.headers.get('content-encoding'), 'br');
      // The API is unchanged under /api: unknown API paths are JSON 404s, not the page.
      const api404 = await fetch(`${s.url}/api/v1/nothing-here`);
      assert.equal(api404.status, 404);
      assert.equal(((await api404.json()) as { error: { code: string } }).error.code, 'not_found');
      for (const path of ['/api/nothing', '/ws/nothing', '/git/nothing', '/assets/nothing.js']) {
        const r = await fetch(`${s.url}${path}`, { headers: { accept: 'text/html' } });
        assert.equal(r.status, 404, path);
        // The API's JSON 404 (the git remote answers git clients in text): never the page.
        assert.doesNotMatch(r.headers.get('content-type')!, /text\/html/, `${path} is not the page`);
      }
      // Any other unknown path a browser asks for: the dashboard (its "Page not found" screen), as a 404, with the page's headers.
      for (const path of ['/no/such/page', '/apps-typo', '/favicon.ico?x=1']) {
        const r = await fetch(`${s.url}${path}`);
        assert.equal(r.status, 404, path);
        assert.match(r.headers.get('content-type')!, /text\/html/, path);
        assert.match(r.headers.get('content-security-policy')!, /script-src 'self'(;|$)/);
        assert.equal(await r.text(), html);
      }
      const post404 = await fetch(`${s.url}/no/such/page`, { method: 'POST' });
      assert.equal(post404.status, 404);
      assert.match(post404.headers.get('content-type')!, /application\/json/, 'only GET and HEAD get the page');
    });

    test('log in sets an HttpOnly SameSite=Strict cookie; changes need the CSRF token; logout ends the session', async () => {
      const { setCookie, cookie, csrf, user } = await login();
      assert.equal(user.username, 'admin');
      assert.match(setCookie, /HttpOnly/);
      assert.match(setCookie, /SameSite=Strict/);
      assert.doesNotMatch(setCookie, /Secure/, 'plain HTTP: not Secure');
      const get = await fetch(`${s.url}/api/v1/projects`, { headers: { cookie } });
      assert.equal(get.status, 200);
      const post = (headers: Record<string, string>) =>
        fetch(`${s.url}/api/v1/projects`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: '{"name":"from-browser"}' });
      const noToken = await post({});
      assert.equal(noToken.status, 403);
      assert.equal(((await noToken.json()) as { error: { code: string } }).error.code, 'csrf');
      assert.equal((await post({ 'x-csrf-token': 'wrong' })).status, 403);
      assert.equal((await post({ 'x-csrf-token': csrf })).status, 201);
      assert.equal((await fetch(`${s.url}/api/v1/session`, { method: 'DELETE', headers: { cookie } })).status, 403, 'logging out needs the CSRF token too');
      assert.equal((await fetch(`${s.url}/api/v1/session`)).status, 401, 'no cookie, no session');
      // Contract routes like every other: in the OpenAPI document, login public, the cookie declared.
      const doc = (await (await fetch(`${s.url}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId: string; security?: unknown[]; responses: Record<string, { headers?: Record<string, unknown> }> }>> };
      const ops = doc.paths['/api/v1/session'];
      assert.deepEqual([ops.post.operationId, ops.get.operationId, ops.delete.operationId], ['createSession', 'getSession', 'deleteSession']);
      assert.deepEqual(ops.post.security, []);
      assert.ok(ops.post.responses['200'].headers?.['set-cookie']);
      const out = await fetch(`${s.url}/api/v1/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrf } });
      assert.equal(out.status, 200);
      assert.match(out.headers.get('set-cookie')!, /Max-Age=0/);
      assert.equal((await fetch(`${s.url}/api/v1/projects`, { headers: { cookie } })).status, 401, 'the old cookie is refused');
    });

    test('behind an HTTPS proxy the cookie is Secure', async () => {
      const res = await fetch(`${s.url}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
        body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
      });
      assert.match(res.headers.get('set-cookie')!, /; Secure/);
    });

    test('a WebSocket opened with the cookie must come from this origin', async () => {
      const { cookie } = await login();
      const url = `${s.url.replace('http', 'ws')}/ws/events`;
      const open = (origin: string) =>
        new Promise<number | 'open'>((resolve) => {
          const ws = new WebSocket(url, { headers: { cookie, origin } });
          ws.on('open', () => {
            ws.close();
            resolve('open');
          });
          ws.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
          ws.on('error', () => {});
        });
      assert.equal(await open('http://evil.example'), 403);
      assert.equal(await open(s.url), 'open');
    });

    test('bearer tokens work as before, and a bearer request ignores any cookie', async () => {
      const me = await s.admin.call('whoami');
      assert.equal(me.username, 'admin');
      const res = await fetch(`${s.url}/api/v1/projects`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.adminToken}`, cookie: 'berth_session=garbage', 'content-type': 'application/json' },
        body: '{"name":"from-cli"}',
      });
      assert.equal(res.status, 201, 'no CSRF token needed with a bearer token');
    });

    // Cached on both engines (src/api/read-cache.ts): on PostgreSQL against the shared write count, read once per request.
    test('the apps list stays exact while served from its cache: creates, renames, deletes and membership show at once', async () => {
      const dev = await s.newUser('lister');
      await dev.call('createProject', { body: { name: 'many' } });
      const page = () => dev.call('listApps', { query: { project: 'many' } });
      assert.equal((await page()).total, 0);
      await dev.call('createApp', { body: { name: 'one', project: 'many' } });
      assert.deepEqual((await page()).items.map((a) => a.name), ['one']);
      assert.deepEqual((await page()).items.map((a) => a.name), ['one'], 'a repeated read is the same');
      await dev.call('updateApp', { params: { id: 'one' }, body: { name: 'uno' } });
      assert.deepEqual((await page()).items.map((a) => a.name), ['uno']);
      await dev.call('setEnv', { params: { id: 'one' }, body: { set: { A: '1' } } });
      assert.deepEqual((await page()).items[0].env, { A: '1' });
      const other = await s.newUser('other');
      assert.equal((await other.call('listApps')).total, 0);
      await dev.call('addMember', { params: { id: 'many' }, body: { username: 'other', role: 'viewer' } });
      assert.equal((await other.call('listApps')).total, 1, 'a new member sees the apps at once');
      await dev.call('deleteApp', { params: { id: 'one' } });
      assert.equal((await page()).total, 0);
      assert.equal((await other.call('listApps')).total, 0);
    });
  });
}
