import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { loadConfig } from '../../src/config.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { settled } from '../support/rollout.js';
import { viaRouter } from '../support/load.js';
import { rejects } from '../builds/helpers.js';
import { send } from './helpers.js';

/**
 * Issue #18, the control plane's origin: cookies ignore ports and SameSite compares sites, so the
 * dashboard's session cookie must never reach a tenant's app. The names the dashboard is served at
 * are reserved (no slug, no custom domain), the router strips the cookie from every request it
 * forwards, and over HTTPS the cookie is `__Host-` (Secure, Path=/, no Domain).
 */

const field = (e: { details?: unknown }) => (e.details as { field?: string } | undefined)?.field;

test("the control hosts default to ROUTER_DOMAIN's apex, this machine's name and localhost", () => {
  const c = loadConfig({ ROUTER_DOMAIN: 'Apps.Example.com' });
  assert.deepEqual(c.controlHosts, ['apps.example.com', hostname().toLowerCase(), 'localhost']);
  assert.deepEqual(loadConfig({ BERTH_CONTROL_HOSTS: ' Berth.Example.com., dash.apps.example.com ' }).controlHosts, ['berth.example.com', 'dash.apps.example.com']);
});

describe('origin: two tenants, a real router', () => {
  let s: TestServer;
  let alice: BerthClient;
  let bob: BerthClient;
  const bobApp = 'bob-shop';

  before(async () => {
    const image = await ensureTestAppImage(new DockerRuntime({}));
    s = await startServer({ env: { BERTH_CONTROL_HOSTS: 'dash.localhost,berth.example.test', BERTH_DOMAIN_VERIFY: 'http' } });
    alice = await s.newUser('alice');
    bob = await s.newUser('bob');
    const pa = await alice.call('createProject', { body: { name: 'pa' } });
    const pb = await bob.call('createProject', { body: { name: 'pb' } });
    await alice.call('createApp', { body: { name: 'alice-web', project: pa.id } });
    await bob.call('createApp', { body: { name: bobApp, project: pb.id, health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    const rel = await bob.call('deployApp', { params: { id: bobApp }, body: { image_id: image } });
    assert.equal((await settled(bob, bobApp, rel.version)).status, 'live');
  });
  after(async () => {
    await s?.destroy();
  });

  test('no tenant can take a name the dashboard is served at: a slug or a custom domain there is a 409 naming the field', async () => {
    for (const c of [alice, bob]) {
      assert.equal(field(await rejects(c.call('createApp', { body: { name: 'dash' } }), 409)), 'slug');
      assert.equal(field(await rejects(c.call('createApp', { body: { name: 'x', slug: 'dash' } }), 409)), 'slug');
    }
    for (const hostname of ['berth.example.test', 'BERTH.Example.Test', 'berth.example.test.']) {
      const e = await rejects(bob.call('addDomain', { params: { id: bobApp }, body: { hostname } }), 409);
      assert.equal(field(e), 'hostname', hostname);
      assert.match(e.message, /reserved/);
    }
    assert.deepEqual((await bob.call('listDomains', { params: { id: bobApp } })).items, []);
    // The router has nothing at those names.
    assert.equal((await viaRouter(s.routerPort, 'dash.localhost', '/headers')).status, 404);
    assert.equal((await viaRouter(s.routerPort, 'berth.example.test', '/headers')).status, 404);
  });

  test("alice's dashboard session cookie never reaches bob's app; the app's own cookies do", async () => {
    const login = await send(s.url, 'POST', '/api/v1/session', { body: JSON.stringify({ username: 'alice', password: 'pw-alice-secret' }), headers: { 'content-type': 'application/json' } });
    assert.equal(login.status, 200, login.text);
    const token = /berth_session=([^;]+)/.exec(String(login.headers['set-cookie']))![1];
    assert.ok(token.length > 16);
    const jars = [
      `berth_session=${token}`,
      `shop_cart=3; berth_session=${token}; theme=dark`,
      `__Host-berth_session=${token}; shop_cart=3`,
      `shop_cart=3; __Host-berth_session=${token}; berth_session=${token}; theme=dark`,
      `shop_cart=3;berth_session=${token}`,
    ];
    for (const cookie of jars) {
      const r = await send(`http://127.0.0.1:${s.routerPort}`, 'GET', '/headers', { headers: { host: `${bobApp}.localhost`, cookie } });
      assert.equal(r.status, 200, r.text);
      assert.ok(!r.text.includes(token), `the token reached the app: ${cookie} -> ${r.text}`);
      const got: string | undefined = r.json.headers.cookie;
      const own = cookie.split(/;\s*/).filter((c) => !/berth_session=/.test(c));
      assert.deepEqual(got ? got.split(/;\s*/) : [], own, cookie);
    }
    // Still a working session at the dashboard itself.
    const me = await send(s.url, 'GET', '/api/v1/session', { headers: { cookie: `berth_session=${token}` } });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.user.username, 'alice');
  });

  test('over HTTPS the cookie is __Host-berth_session (Secure, Path=/, no Domain), and a plain berth_session is not a session there', async () => {
    const https = { 'x-forwarded-proto': 'https', 'content-type': 'application/json' };
    const login = await send(s.url, 'POST', '/api/v1/session', { body: JSON.stringify({ username: 'bob', password: 'pw-bob-secret' }), headers: https });
    assert.equal(login.status, 200, login.text);
    const set = String(login.headers['set-cookie']);
    assert.match(set, /^__Host-berth_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    assert.doesNotMatch(set, /Domain=/i);
    const token = /^__Host-berth_session=([^;]+)/.exec(set)![1];
    assert.equal((await send(s.url, 'GET', '/api/v1/session', { headers: { ...https, cookie: `__Host-berth_session=${token}` } })).status, 200);
    // A cookie without the prefix could have been planted by a sibling host: over HTTPS it is not read.
    assert.equal((await send(s.url, 'GET', '/api/v1/session', { headers: { ...https, cookie: `berth_session=${token}` } })).status, 401);
    const plain = await send(s.url, 'POST', '/api/v1/session', { body: JSON.stringify({ username: 'bob', password: 'pw-bob-secret' }), headers: { 'content-type': 'application/json' } });
    assert.match(String(plain.headers['set-cookie']), /^berth_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/, 'plain HTTP: no prefix, no Secure');
  });
});
