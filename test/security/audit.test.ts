import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { run } from '../../src/lib/exec.js';
import { CLI_MAIN, ENGINES, startServer, type TestServer } from '../support/server.js';
import { send } from './helpers.js';

const SECRET_VALUE = 'sk_live_audit_must_not_see_this';
const NEW_PASSWORD = 'new-password-never-logged';

/** The audit log: who did what, when, from where; owners see their project's, admins everything; no secrets. */
for (const engine of ENGINES) describe(`audit log (${engine})`, () => {
  let s: TestServer;
  let home: string;
  let alice: BerthClient;
  let bob: BerthClient;
  let vera: BerthClient;
  let projectId: string;

  before(async () => {
    s = await startServer({ engine });
    home = mkdtempSync(join(tmpdir(), 'berth-audit-'));
    alice = await s.newUser('alice');
    bob = await s.newUser('bob');
    vera = await s.newUser('vera');
    await send(s.url, 'POST', '/api/v1/auth/login', { body: JSON.stringify({ username: 'alice', password: 'a-wrong-guess' }), headers: { 'content-type': 'application/json' } });
    projectId = (await alice.call('createProject', { body: { name: 'pa' } })).id;
    await alice.call('addMember', { params: { id: projectId }, body: { username: 'vera', role: 'viewer' } });
    await alice.call('createApp', { body: { name: 'web', slug: 'alice-web', project: projectId, auto_deploy: false } });
    await alice.call('setEnv', { params: { id: 'alice-web' }, body: { set: { STRIPE_KEY: SECRET_VALUE }, secret: ['STRIPE_KEY'] } });
    // The attacker's attempts are recorded in the project they aimed at.
    assert.equal((await send(s.url, 'DELETE', '/api/v1/apps/alice-web', { token: bob.opts.token })).status, 404);
    assert.equal((await send(s.url, 'POST', '/api/v1/apps/alice-web/scale', { token: vera.opts.token, body: '{"replicas":3}', headers: { 'content-type': 'application/json' } })).status, 403);
    await bob.call('changePassword', { body: { current_password: 'pw-bob-secret', new_password: NEW_PASSWORD } });
  });
  after(async () => {
    await s?.destroy();
    rmSync(home, { recursive: true, force: true });
  });

  test('an admin reads every state-changing call and login attempt, with who, when, from where and the outcome', async () => {
    const { items } = await s.admin.call('listAudit', { query: { limit: 1000 } });
    const find = (action: string, user: string, status: number) => items.find((e) => e.action === action && e.user?.username === user && e.status === status);
    const failed = find('login', 'alice', 401);
    assert.ok(failed, `the failed login: ${JSON.stringify(items.filter((e) => e.action === 'login'))}`);
    assert.equal(failed.user?.id, null, 'a failed login has no user id, only the name it gave');
    assert.equal(failed.address, '127.0.0.1');
    assert.ok(find('login', 'alice', 200), 'a successful login');
    const created = find('createApp', 'alice', 201);
    assert.ok(created);
    assert.equal(created.project, projectId);
    assert.equal(created.credential, 'token');
    assert.ok(Date.now() - Date.parse(created.at) < 600_000);
    assert.ok(find('setEnv', 'alice', 200));
    const attack = find('deleteApp', 'bob', 404);
    assert.ok(attack, 'a stranger’s refused delete');
    assert.equal(attack.project, projectId);
    assert.equal(attack.path, '/api/v1/apps/alice-web');
    assert.ok(find('scaleApp', 'vera', 403));
    assert.ok(find('changePassword', 'bob', 200));
    assert.ok(!items.some((e) => e.method === 'GET'), 'reads are not audited');
    // Newest first, and paging by id.
    assert.ok(items.every((e, i) => i === 0 || items[i - 1].id > e.id));
    const page = await s.admin.call('listAudit', { query: { limit: 2, before: items[1].id } });
    assert.deepEqual(page.items.map((e) => e.id), [items[2].id, items[3].id]);
  });

  test('no secret reaches the audit log: no bodies, passwords, config values or tokens', async () => {
    const r = await send(s.url, 'GET', '/api/v1/audit?limit=1000', { token: s.adminToken });
    assert.equal(r.status, 200);
    for (const secret of [SECRET_VALUE, NEW_PASSWORD, 'pw-bob-secret', 'a-wrong-guess', alice.opts.token!, bob.opts.token!, s.adminToken]) {
      assert.ok(!r.text.includes(secret), `the audit log holds ${secret.slice(0, 8)}...`);
    }
    const stored = await send(s.url, 'GET', `/api/v1/audit?project=${projectId}`, { token: alice.opts.token });
    assert.ok(!stored.text.includes(SECRET_VALUE));
  });

  test("an owner reads their project's entries only; viewers, strangers and owners without a project are refused", async () => {
    const own = await alice.call('listAudit', { query: { project: 'pa' } });
    assert.ok(own.items.length >= 4);
    assert.ok(own.items.every((e) => e.project === projectId));
    assert.ok(own.items.some((e) => e.action === 'deleteApp' && e.user?.username === 'bob'), 'the owner sees the attempt on their app');
    assert.ok(!own.items.some((e) => e.action === 'login' || e.action === 'changePassword'));
    assert.equal((await send(s.url, 'GET', `/api/v1/audit?project=${projectId}`, { token: vera.opts.token })).status, 403);
    assert.equal((await send(s.url, 'GET', `/api/v1/audit?project=${projectId}`, { token: bob.opts.token })).status, 404);
    assert.equal((await send(s.url, 'GET', '/api/v1/audit', { token: alice.opts.token })).status, 403);
  });

  test('berth audit prints the log', async () => {
    const env = { ...process.env, BERTH_CONFIG: join(home, 'config.json'), BERTH_URL: s.url, BERTH_TOKEN: alice.opts.token! };
    const out = await run(process.execPath, [CLI_MAIN, 'audit', '--project', 'pa'], { timeoutMs: 30_000, env });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /createApp/);
    assert.match(out.stdout, /deleteApp\s+DELETE\s+\/api\/v1\/apps\/alice-web\s+404/);
    const denied = await run(process.execPath, [CLI_MAIN, 'audit'], { timeoutMs: 30_000, env });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /only an admin/);
  });
});
