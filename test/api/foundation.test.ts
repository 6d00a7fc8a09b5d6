import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type BerthClient } from '../../src/client/index.js';
import { routes } from '../../src/api/contract/index.js';
import { ENGINES, raw, startServer, type TestServer } from '../support/server.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { ensureTestAppImage } from '../support/images.js';

/** Asserts that a call fails with this status (and code), returning the error for more checks. */
async function rejects(p: Promise<unknown>, status: number, code?: string): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected an API error, got ${String(err)}`);
    assert.equal(err.status, status, `status for: ${err.message}`);
    if (code) assert.equal(err.code, code);
    return err;
  }
  assert.fail(`expected HTTP ${status}, but the call succeeded`);
}

for (const engine of ENGINES) {
  describe(`foundation API on ${engine}`, () => {
    let s: TestServer;
    let alice: BerthClient;
    let bob: BerthClient;

    before(async () => {
      s = await startServer({ engine });
      alice = await s.newUser('alice');
      bob = await s.newUser('bob');
    });
    after(async () => {
      await s?.destroy();
    });

    test('health, OpenAPI document and Swagger UI are public', async () => {
      const h = await raw(s, 'GET', '/healthz');
      assert.equal(h.status, 200);
      assert.equal(h.json.database, engine);
      const doc = await raw(s, 'GET', '/api/openapi.json');
      assert.equal(doc.status, 200);
      assert.match(doc.json.openapi, /^3\./);
      for (const def of Object.values(routes)) {
        const path = def.path.replace(/:([a-z_]+)/g, '{$1}');
        assert.ok(doc.json.paths[path]?.[def.method.toLowerCase()], `OpenAPI lacks ${def.method} ${path}`);
      }
      const ui = await raw(s, 'GET', '/api/docs/');
      assert.equal(ui.status, 200);
      assert.match(ui.text, /swagger/i);
    });

    test('every route but login refuses a missing or wrong token', async () => {
      for (const def of Object.values(routes)) {
        if ('auth' in def && def.auth === false) continue;
        const path = def.path.replace(/:([a-z_]+)/g, 'x');
        for (const token of [undefined, 'berth_not-a-real-token']) {
          const r = await raw(s, def.method, path, { token, body: def.method === 'GET' ? undefined : '{}' });
          assert.equal(r.status, 401, `${def.method} ${path} with token ${token} gave ${r.status}`);
          assert.equal(r.json.error.code, 'unauthorized');
        }
      }
      const bad = await raw(s, 'GET', '/api/v1/apps', { headers: { authorization: 'Basic abc' } });
      assert.equal(bad.status, 401);
    });

    test('login: wrong password is 401, unknown fields are 400', async () => {
      await rejects(s.client().call('login', { body: { username: 'admin', password: 'wrong' } }), 401, 'invalid_credentials');
      await rejects(s.client().call('login', { body: { username: 'nobody', password: 'wrong' } }), 401, 'invalid_credentials');
      const r = await raw(s, 'POST', '/api/v1/auth/login', { body: '{"username":"admin","password":"x","extra":1}' });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.details.field, 'extra');
    });

    test('projects: create, list, get by id and name, rename, 409 on duplicate, 400 on a bad name', async () => {
      const p = await alice.call('createProject', { body: { name: 'shop' } });
      assert.equal(p.name, 'shop');
      assert.equal(p.role, 'owner');
      assert.equal(p.owner.username, 'alice');
      const dup = await rejects(alice.call('createProject', { body: { name: 'shop' } }), 409, 'conflict');
      assert.equal((dup.details as { field: string }).field, 'name');
      // Names are unique per owner: bob may have his own "shop".
      await bob.call('createProject', { body: { name: 'shop' } });
      const bad = await rejects(alice.call('createProject', { body: { name: 'Not A Label' } }), 400, 'validation_failed');
      assert.equal((bad.details as { field: string }).field, 'name');
      assert.match(bad.message, /DNS label/);
      assert.equal((await alice.call('getProject', { params: { id: p.id } })).id, p.id);
      assert.equal((await alice.call('getProject', { params: { id: 'shop' } })).id, p.id);
      const list = await alice.call('listProjects');
      assert.deepEqual(list.items.map((x) => x.name), ['shop']);
      const renamed = await alice.call('updateProject', { params: { id: p.id }, body: { name: 'store' } });
      assert.equal(renamed.name, 'store');
      await alice.call('updateProject', { params: { id: p.id }, body: { name: 'shop' } });
    });

    test('a non-member gets 404 for a project and its apps; a viewer reads but cannot change', async () => {
      const p = await alice.call('createProject', { body: { name: 'private' } });
      const app = await alice.call('createApp', { body: { name: 'secret-api', slug: `secret-${engine}`, project: p.id } });
      await rejects(bob.call('getProject', { params: { id: p.id } }), 404, 'not_found');
      await rejects(bob.call('getApp', { params: { id: app.id } }), 404, 'not_found');
      await rejects(bob.call('getApp', { params: { id: app.slug } }), 404, 'not_found');
      await rejects(bob.call('deleteApp', { params: { id: app.id } }), 404, 'not_found');
      await rejects(bob.call('listApps', { query: { project: p.id } }), 404);
      assert.ok(!(await bob.call('listApps')).items.some((a) => a.id === app.id));

      await alice.call('addMember', { params: { id: p.id }, body: { username: 'bob', role: 'viewer' } });
      assert.equal((await bob.call('getApp', { params: { id: app.slug } })).id, app.id);
      await rejects(bob.call('updateApp', { params: { id: app.id }, body: { replicas: 3 } }), 403, 'forbidden');
      await rejects(bob.call('createApp', { body: { name: 'x', slug: `x-${engine}`, project: p.id } }), 403);
      await rejects(bob.call('deleteProject', { params: { id: p.id } }), 403);

      await alice.call('addMember', { params: { id: p.id }, body: { username: 'bob', role: 'developer' } });
      const updated = await bob.call('updateApp', { params: { id: app.id }, body: { replicas: 2 } });
      assert.equal(updated.replicas, 2);
      await rejects(bob.call('addMember', { params: { id: p.id }, body: { username: 'bob', role: 'owner' } }), 403);
      const members = await alice.call('listMembers', { params: { id: p.id } });
      assert.deepEqual(members.items.map((m) => [m.username, m.role]).sort(), [['alice', 'owner'], ['bob', 'developer']]);

      await alice.call('removeMember', { params: { id: p.id, user: 'bob' } });
      await rejects(bob.call('getApp', { params: { id: app.id } }), 404);
      await rejects(alice.call('deleteProject', { params: { id: p.id } }), 409);
      await alice.call('deleteApp', { params: { id: app.id } });
      await alice.call('deleteProject', { params: { id: p.id } });
      await rejects(alice.call('getProject', { params: { id: p.id } }), 404);
    });

    test('apps: default project, slug unique on the platform, name unique in a project, config and secrets', async () => {
      const a = await alice.call('createApp', { body: { name: 'web', slug: `web-${engine}` } });
      assert.equal(a.project.name, 'default');
      assert.equal(a.replicas, 1);
      assert.equal(a.memory, 512);
      assert.equal(a.strategy, 'rolling');
      assert.match(a.url, new RegExp(`^http://web-${engine}\\.localhost`));

      const slugTaken = await rejects(bob.call('createApp', { body: { name: 'web', slug: `web-${engine}` } }), 409);
      assert.equal((slugTaken.details as { field: string }).field, 'slug');
      const nameTaken = await rejects(alice.call('createApp', { body: { name: 'web', slug: `web2-${engine}` } }), 409);
      assert.equal((nameTaken.details as { field: string }).field, 'name');

      // An image on the engine that this project neither built nor pulled is refused (docs/security.md);
      // the test servers share the berth-test/ repository, the test app's, with every project (BERTH_SHARED_IMAGES).
      const foreign = await rejects(alice.call('updateApp', { params: { id: a.slug }, body: { image: 'example/web:1' } }), 400);
      assert.equal((foreign.details as { field: string }).field, 'image');
      const u = await alice.call('updateApp', {
        params: { id: a.slug },
        body: {
          image: await ensureTestAppImage(new DockerRuntime({})),
          replicas: 3,
          memory: 256,
          cpu: 0.5,
          port: 3000,
          strategy: 'blue-green',
          health_check: { path: '/health', timeout_s: 30, grace_s: 2 },
          env: { PLAIN: 'hello', DB_PASSWORD: 's3cr3t-value' },
          secret_env: ['DB_PASSWORD'],
        },
      });
      assert.equal(u.replicas, 3);
      assert.equal(u.cpu, 0.5);
      assert.equal(u.health_check.path, '/health');
      assert.equal(u.env.PLAIN, 'hello');
      assert.notEqual(u.env.DB_PASSWORD, 's3cr3t-value');
      assert.deepEqual(u.secret_env, ['DB_PASSWORD']);
      const rawGet = await raw(s, 'GET', `/api/v1/apps/${a.id}`, { token: alice.opts.token });
      assert.ok(!rawGet.text.includes('s3cr3t-value'), 'a secret value appeared in an API response');

      const unset = await alice.call('updateApp', { params: { id: a.id }, body: { env: { PLAIN: null } } });
      assert.deepEqual(Object.keys(unset.env), ['DB_PASSWORD']);

      const bad = await raw(s, 'PUT', `/api/v1/apps/${a.id}`, { token: alice.opts.token, body: '{"replicas":"3"}' });
      assert.equal(bad.status, 400, 'a string is not silently coerced to a number');
      assert.equal(bad.json.error.details.field, 'replicas');
      const neg = await raw(s, 'PUT', `/api/v1/apps/${a.id}`, { token: alice.opts.token, body: '{"health_check":{"path":"x","timeout_s":1,"grace_s":0}}' });
      assert.equal(neg.status, 400);
      assert.equal(neg.json.error.details.field, 'health_check.path');
      const badEnv = await raw(s, 'PUT', `/api/v1/apps/${a.id}`, { token: alice.opts.token, body: '{"env":{"1BAD":"x"}}' });
      assert.equal(badEnv.status, 400);

      await alice.call('deleteApp', { params: { id: a.id } });
      await rejects(alice.call('getApp', { params: { id: a.id } }), 404);
    });

    test('apps list is paginated and filtered by project', async () => {
      const p = await alice.call('createProject', { body: { name: 'many' } });
      for (let i = 0; i < 5; i++) await alice.call('createApp', { body: { name: `svc-${i}`, slug: `many-${engine}-${i}`, project: 'many' } });
      const page1 = await alice.call('listApps', { query: { project: p.id, limit: 2 } });
      assert.equal(page1.total, 5);
      assert.deepEqual(page1.items.map((a) => a.name), ['svc-0', 'svc-1']);
      const page3 = await alice.call('listApps', { query: { project: 'many', limit: 2, offset: 4 } });
      assert.deepEqual(page3.items.map((a) => a.name), ['svc-4']);
      const bad = await raw(s, 'GET', '/api/v1/apps?limit=0', { token: alice.opts.token });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error.details.field, 'limit');
      const unknown = await raw(s, 'GET', '/api/v1/apps?colour=red', { token: alice.opts.token });
      assert.equal(unknown.status, 400);
    });

    test('bad input is a 4xx JSON error: invalid JSON, wrong type, oversized body, unknown route', async () => {
      const t = alice.opts.token;
      const badJson = await raw(s, 'POST', '/api/v1/projects', { token: t, body: '{"name":' });
      assert.equal(badJson.status, 400);
      assert.equal(badJson.json.error.code, 'invalid_json');
      const noBody = await raw(s, 'POST', '/api/v1/projects', { token: t });
      assert.equal(noBody.status, 400);
      const arr = await raw(s, 'POST', '/api/v1/projects', { token: t, body: '[1,2]' });
      assert.equal(arr.status, 400);
      const big = await oversized(`${s.url}/api/v1/projects`, t!, 2 * 1024 * 1024);
      assert.equal(big.status, 413);
      assert.equal(big.json.error.code, 'payload_too_large');
      const xml = await raw(s, 'POST', '/api/v1/projects', { token: t, body: '<a/>', headers: { 'content-type': 'application/xml' } });
      assert.equal(xml.status, 415);
      const nope = await raw(s, 'GET', '/api/v1/nothing-here', { token: t });
      assert.equal(nope.status, 404);
      assert.equal(nope.json.error.code, 'not_found');
      const longId = await raw(s, 'GET', `/api/v1/apps/${'a'.repeat(129)}`, { token: t });
      assert.equal(longId.status, 400);
    });

    test('users and tokens: admin manages users, tokens are revocable, disabled users are locked out', async () => {
      await rejects(alice.call('listUsers'), 403);
      await rejects(alice.call('createUser', { body: { username: 'mallory', password: 'password123' } }), 403);
      const carol = await s.newUser('carol');
      await rejects(s.admin.call('createUser', { body: { username: 'carol', password: 'password123' } }), 409);
      const short = await rejects(s.admin.call('createUser', { body: { username: 'dave', password: 'short' } }), 400);
      assert.equal((short.details as { field: string }).field, 'password');
      assert.ok((await s.admin.call('listUsers')).items.some((u) => u.username === 'carol'));

      const created = await carol.call('createToken', { body: { name: 'ci' } });
      assert.match(created.token, /^berth_/);
      const ci = s.client(created.token);
      assert.equal((await ci.call('whoami')).username, 'carol');
      const listed = await carol.call('listTokens');
      assert.ok(listed.items.some((t) => t.id === created.id));
      assert.ok(!JSON.stringify(listed).includes(created.token), 'token values are never listed');
      await carol.call('revokeToken', { params: { id: created.id } });
      await rejects(ci.call('whoami'), 401);
      await rejects(alice.call('revokeToken', { params: { id: listed.items[0].id } }), 404);

      await carol.call('changePassword', { body: { current_password: 'pw-carol-secret', new_password: 'a-new-password' } });
      await rejects(s.login('carol', 'pw-carol-secret'), 401);
      const carol2 = await s.login('carol', 'a-new-password');
      await rejects(carol2.call('changePassword', { body: { current_password: 'wrong-one', new_password: 'whatever123' } }), 400);

      await s.admin.call('updateUser', { params: { id: 'carol' }, body: { disabled: true } });
      await rejects(carol2.call('whoami'), 401);
      await rejects(s.login('carol', 'a-new-password'), 403, 'user_disabled');
      await s.admin.call('updateUser', { params: { id: 'carol' }, body: { disabled: false } });
      await s.admin.call('deleteUser', { params: { id: 'carol' } });
      await rejects(s.login('carol', 'a-new-password'), 401);
      await rejects(s.admin.call('deleteUser', { params: { id: 'admin' } }), 400);
    });

    test('everything is still there after a restart, and after a crash', async () => {
      const p = await alice.call('createProject', { body: { name: 'durable' } });
      const a = await alice.call('createApp', { body: { name: 'keep', slug: `keep-${engine}`, project: p.id } });
      await alice.call('updateApp', { params: { id: a.id }, body: { env: { TOKEN: 'abc' }, secret_env: ['TOKEN'] } });
      await s.stop();
      await s.start();
      const again = await alice.call('getApp', { params: { id: a.slug } });
      assert.equal(again.project.name, 'durable');
      assert.deepEqual(again.secret_env, ['TOKEN']);
      await s.kill();
      await s.start();
      assert.equal((await alice.call('getProject', { params: { id: 'durable' } })).apps, 1);
      // The admin was created once; a restart does not reset its password.
      assert.match(s.output(), /Server listening/);
      assert.doesNotMatch(s.output(), /created the admin user/);
    });
  });
}

/**
 * A POST that announces a body of `size` bytes and sends its first 64 KB, then waits for the answer.
 * The server refuses on the announced length; a client that went on sending could see the
 * connection reset before it read the 413 (Node's server closes without draining), which is the
 * transport's race, not the answer's.
 */
function oversized(url: string, token: string, size: number): Promise<{ status: number; json: { error: { code: string } } }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': String(size) }, signal: AbortSignal.timeout(30_000) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        req.destroy();
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) });
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    req.on('error', reject);
    req.write(`{"name":"${'x'.repeat(64 * 1024)}`);
  });
}
