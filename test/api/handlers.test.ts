import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { apiWorld, type ApiWorld } from '../support/inject.js';
import { appById, appBySlug } from '../../src/store/apps.js';
import { createRelease, snapshot } from '../../src/domain/releases.js';

// The API's handlers through the real server (fastify.inject) on SQLite and the in-memory engine:
// the rules every route shares (a token, a 4xx naming the field, the caller's role) and a handler
// writing desired state without touching the engine. Runs in `npm run check`, in well under a second.

let w: ApiWorld;
const appByIdOrSlug = async (slug: string) => appById(w.ctx.db, (await appBySlug(w.ctx.db, slug))!.id);
before(async () => {
  w = await apiWorld();
});
after(() => w.close());

test('a route needs a token: none, a malformed one and an unknown one are each a 401 in the error shape', async () => {
  for (const token of [undefined, 'not-a-token', 'b'.repeat(40)]) {
    const res = await w.request('GET', '/api/v1/apps', { token });
    assert.equal(res.status, 401, `token ${token}`);
    assert.equal(res.json.error.code, 'unauthorized');
    assert.match(res.json.error.message, /token/);
  }
  const headers = { authorization: `Basic ${Buffer.from('admin:x').toString('base64')}` };
  const basic = await w.app.inject({ method: 'GET', url: '/api/v1/apps', headers });
  assert.equal(basic.statusCode, 401);
  assert.match(basic.json().error.message, /Bearer/);
  // The same request with the token is served.
  assert.equal((await w.request('GET', '/api/v1/apps', { token: w.adminToken })).status, 200);
});

test('bad input is a 400 that names the field, never a 5xx', async () => {
  const cases: { body?: unknown; payload?: string; field: string; code: string }[] = [
    { body: { name: 'neg', replicas: -1 }, field: 'replicas', code: 'validation_failed' },
    { body: { name: 'Not A DNS Label' }, field: 'name', code: 'validation_failed' },
    { body: { replicas: 1 }, field: 'name', code: 'validation_failed' },
    { body: { name: 'extra', colour: 'blue' }, field: 'colour', code: 'validation_failed' },
    { body: { name: 'mem', memory: '512' }, field: 'memory', code: 'validation_failed' },
    { body: { name: 'nul\u0000byte' }, field: 'name', code: 'validation_failed' },
  ];
  for (const c of cases) {
    const res = await w.request('POST', '/api/v1/apps', { token: w.adminToken, body: c.body });
    assert.equal(res.status, 400, JSON.stringify(c.body));
    assert.equal(res.json.error.code, c.code);
    assert.equal(res.json.error.details.field, c.field, JSON.stringify(res.json));
    assert.match(res.json.error.message, new RegExp(c.field));
  }
  const broken = await w.request('POST', '/api/v1/apps', { token: w.adminToken, payload: '{"name": "x",' });
  assert.equal(broken.status, 400);
  assert.equal(broken.json.error.code, 'invalid_json');
  // None of them made an app.
  assert.deepEqual((await w.request('GET', '/api/v1/apps', { token: w.adminToken })).json.items, []);
});

test('a viewer of a project reads its apps but is refused a developer route (403), a stranger sees nothing (404)', async () => {
  const owner = await w.newUser('olga');
  const viewer = await w.newUser('victor');
  const stranger = await w.newUser('sam');
  const project = await w.request('POST', '/api/v1/projects', { token: owner, body: { name: 'shop' } });
  assert.equal(project.status, 201);
  const pid = project.json.id as string;
  assert.equal((await w.request('POST', `/api/v1/projects/${pid}/members`, { token: owner, body: { username: 'victor', role: 'viewer' } })).status, 200);
  const created = await w.request('POST', '/api/v1/apps', { token: owner, body: { name: 'storefront', project: pid } });
  assert.equal(created.status, 201);

  assert.equal((await w.request('GET', '/api/v1/apps/storefront', { token: viewer })).status, 200);
  const refused = await w.request('POST', '/api/v1/apps', { token: viewer, body: { name: 'sneaky', project: pid } });
  assert.equal(refused.status, 403);
  assert.match(refused.json.error.message, /viewer.*developer/);
  const scale = await w.request('POST', '/api/v1/apps/storefront/scale', { token: viewer, body: { replicas: 3 } });
  assert.equal(scale.status, 403);
  assert.equal((await w.request('GET', '/api/v1/apps/storefront', { token: owner })).json.replicas, created.json.replicas);

  assert.equal((await w.request('GET', '/api/v1/apps/storefront', { token: stranger })).status, 404);
  assert.equal((await w.request('POST', '/api/v1/apps/storefront/scale', { token: stranger, body: { replicas: 3 } })).status, 404);
  assert.deepEqual((await w.request('GET', '/api/v1/apps', { token: stranger })).json.items, []);
});

test('create then list and get: the app is desired state, the controller is told, the engine is untouched', async () => {
  const dev = await w.newUser('dana');
  const before = w.nudged.length;
  const created = await w.request('POST', '/api/v1/apps', { token: dev, body: { name: 'api', slug: 'dana-api', replicas: 2 } });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  assert.equal(created.json.slug, 'dana-api');
  assert.equal(created.json.replicas, 2);

  const listed = await w.request('GET', '/api/v1/apps', { token: dev });
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.json.items.map((a: { id: string }) => a.id), [created.json.id]);
  const got = await w.request('GET', '/api/v1/apps/dana-api', { token: dev });
  assert.equal(got.json.id, created.json.id);
  assert.equal(got.json.name, 'api');

  assert.deepEqual(w.nudged.slice(before), [created.json.id]);
  assert.deepEqual(w.runtime.calls, [], 'a handler writes desired state; the controllers change the engine');

  const again = await w.request('POST', '/api/v1/apps', { token: dev, body: { name: 'api2', slug: 'dana-api' } });
  assert.equal(again.status, 409);
  assert.equal(again.json.error.details.field, 'slug');
});

test('an authenticated list reads the write count once (its token check and its cached page share it) and still sees a write made before it', async () => {
  const dev = await w.newUser('cora');
  const counter = w.ctx.store.generation;
  const read = counter.read;
  let reads = 0;
  counter.read = () => {
    reads++;
    return read.call(counter);
  };
  try {
    const names = async () => (await w.request('GET', '/api/v1/apps', { token: dev })).json.items.map((a: { name: string }) => a.name);
    assert.deepEqual(await names(), []);
    reads = 0;
    assert.deepEqual(await names(), [], 'the cached page');
    assert.equal(reads, 1, 'one reading of the count for the token check and the page');
    await w.request('POST', '/api/v1/apps', { token: dev, body: { name: 'counted' } });
    reads = 0;
    assert.deepEqual(await names(), ['counted'], 'the create committed before the list arrived: not the cached page');
    assert.equal(reads, 1);
  } finally {
    counter.read = read;
  }
});

test("renaming an app to a name its project already has is a 409 naming name, not slug", async () => {
  const token = await w.newUser('rena');
  assert.equal((await w.request('POST', '/api/v1/projects', { token, body: { name: 'renames' } })).status, 201);
  for (const name of ['first', 'second']) {
    assert.equal((await w.request('POST', '/api/v1/apps', { token, body: { name, project: 'renames' } })).status, 201);
  }
  const res = await w.request('PUT', '/api/v1/apps/second', { token, body: { name: 'first' } });
  assert.equal(res.status, 409, JSON.stringify(res.json));
  assert.equal(res.json.error.details.field, 'name');
  assert.equal((await w.request('PUT', '/api/v1/apps/second', { token, body: { name: 'third' } })).status, 200);
});

test('formation: web and the release’s process types scale apart; a type the release lacks is a 400 naming it', async () => {
  const token = await w.newUser('fern');
  const viewer = await w.newUser('vera');
  const project = await w.request('POST', '/api/v1/projects', { token, body: { name: 'queues' } });
  assert.equal((await w.request('POST', `/api/v1/projects/${project.json.id}/members`, { token, body: { username: 'vera', role: 'viewer' } })).status, 200);
  assert.equal((await w.request('POST', '/api/v1/apps', { token, body: { name: 'jobs', project: 'queues' } })).status, 201);
  // Never deployed: web only.
  assert.deepEqual((await w.request('GET', '/api/v1/apps/jobs/formation', { token })).json, { web: 1 });
  // A release whose build's Procfile had a worker line (as the build queue makes it).
  const app = (await appByIdOrSlug('jobs'))!;
  await createRelease(w.ctx.db, w.ctx.events, app, { image: 'jobs:1', description: 'deploy', config: { ...snapshot(app), processes: { worker: 'node worker.js' } } });
  assert.deepEqual((await w.request('GET', '/api/v1/apps/jobs/formation', { token: viewer })).json, { web: 1, worker: 1 });

  const before = w.nudged.length;
  const scaled = await w.request('PUT', '/api/v1/apps/jobs/formation', { token, body: { worker: 3 } });
  assert.equal(scaled.status, 200, JSON.stringify(scaled.json));
  assert.deepEqual(scaled.json, { web: 1, worker: 3 });
  assert.deepEqual(w.nudged.slice(before), [app.id]);
  const both = await w.request('PUT', '/api/v1/apps/jobs/formation', { token, body: { web: 2, worker: 0 } });
  assert.deepEqual(both.json, { web: 2, worker: 0 });
  assert.equal((await w.request('GET', '/api/v1/apps/jobs', { token })).json.replicas, 2, 'web is the app’s replicas');

  const bad: [unknown, string][] = [
    [{ worker: 1, clock: 1 }, 'clock'],
    [{ 'bad name': 1 }, 'bad name'],
    [{ worker: 101 }, 'worker'],
    [{ worker: '2' }, 'worker'],
  ];
  for (const [body, field] of bad) {
    const res = await w.request('PUT', '/api/v1/apps/jobs/formation', { token, body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.json.error.details.field, field, JSON.stringify(res.json));
  }
  assert.deepEqual((await w.request('GET', '/api/v1/apps/jobs/formation', { token })).json, { web: 2, worker: 0 }, 'a refused change changes nothing');
  // The replicas quota (20 per app by default) counts every type together, whichever route scales.
  assert.equal((await w.request('PUT', '/api/v1/apps/jobs/formation', { token, body: { worker: 18 } })).status, 200);
  const over = await w.request('PUT', '/api/v1/apps/jobs/formation', { token, body: { worker: 19 } });
  assert.equal(over.status, 403);
  assert.equal(over.json.error.code, 'quota_exceeded');
  assert.equal((await w.request('POST', '/api/v1/apps/jobs/scale', { token, body: { replicas: 3 } })).json.error.code, 'quota_exceeded');
  assert.equal((await w.request('PUT', '/api/v1/apps/jobs/formation', { token: viewer, body: { worker: 1 } })).status, 403);
  assert.deepEqual(w.runtime.calls, [], 'the controllers change the engine, not the handler');
});
