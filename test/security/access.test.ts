import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { waitFor } from '../support/wait.js';
import { checkAnswer, explained, send, wsCollect, wsUrl } from './helpers.js';

/**
 * Who may do what, checked route by route from the OpenAPI document: no token or a bad one is a 401
 * everywhere but the public routes; a stranger gets 404 for everything of another user's (as if it
 * did not exist) and changes nothing; a viewer reads but cannot change. A route added to the
 * document without a case here fails the test, so the table cannot silently fall behind.
 */

interface DocOp {
  method: string;
  path: string;
  name: string;
  pathParams: string[];
}

async function docOps(s: TestServer): Promise<DocOp[]> {
  const doc = (await send(s.url, 'GET', '/api/openapi.json')).json as { paths: Record<string, Record<string, { operationId: string }>> };
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      name: op.operationId,
      pathParams: (path.match(/\{\w+\}/g) ?? []).map((p) => p.slice(1, -1)),
    })),
  );
}

// createSession is the browser's login (src/api/session.ts); Berth's CA certificate is public by
// nature: users fetch it before they have a token.
const PUBLIC = new Set(['login', 'createSession', 'getRouterCa', 'getRouterCaPem', 'getSso']);

describe('access control', () => {
  let s: TestServer;
  let alice: BerthClient;
  let bob: BerthClient;
  let vera: BerthClient;
  const ids: Record<string, string> = {};
  const runtime = new DockerRuntime({});

  /** What alice can see of her things; compared before and after the others try their luck. */
  async function snapshot() {
    const app = await alice.call('getApp', { params: { id: ids.app } });
    const containers = (await alice.call('listContainers', { query: { app: ids.app } })).items;
    return {
      project: await alice.call('getProject', { params: { id: ids.project } }).then((p) => [p.name, p.apps]),
      members: (await alice.call('listMembers', { params: { id: ids.project } })).items.map((m) => [m.username, m.role]),
      app: [app.name, app.image, app.replicas, app.env, app.secret_env, app.status, app.release, app.memory],
      releases: (await alice.call('listReleases', { params: { id: ids.app } })).items.map((r) => [r.version, r.status]),
      containers: containers.map((c) => [c.id, c.docker_id, c.status]),
      build: await alice.call('getBuild', { params: { id: ids.build } }).then((b) => b.status),
      builds: (await alice.call('listBuilds', { params: { id: ids.app } })).total,
      domains: (await alice.call('listDomains', { params: { id: ids.app } })).items.map((d) => d.hostname),
      tokens: (await alice.call('listTokens')).items.map((t) => t.id),
      vendors: (await alice.call('listVendors')).items.map((v) => v.id),
      registries: (await alice.call('listRegistries')).items.map((r) => r.id),
      notifications: (await alice.call('listNotifications', { params: { id: ids.app } })).items.map((n) => n.id),
      alerts: (await alice.call('listAlerts', { params: { id: ids.app } })).items.map((a) => [a.rule, a.enabled, a.threshold]),
      drains: (await alice.call('listDrains', { params: { id: ids.app } })).items.map((d) => [d.id, d.url]),
      source: await alice.call('getAppSource', { params: { id: ids.app } }).then((x) => [x.repo_url, x.branch, x.vendor?.id]),
      webhook: (await alice.call('getWebhook', { params: { id: ids.app } })).secret,
      whoami: await alice.call('whoami').then((u) => [u.username, u.disabled, u.is_admin]),
      volumes: (await alice.call('listVolumes', { query: {} })).items.map((v) => [v.id, v.name, v.backup_keep, v.backup_schedule]),
      addons: (await alice.call('listAddons', { query: {} })).items.map((a) => [a.id, a.attachments, a.backup_keep, a.backup_schedule]),
      runs: (await alice.call('listRuns', { params: { id: ids.app } })).items.length,
      cron: (await alice.call('listCron', { params: { id: ids.app } })).items.map((c) => c.id),
    };
  }

  before(async () => {
    const image = await ensureTestAppImage(runtime);
    s = await startServer();
    await explained(s.output, () => setUp(image));
  });
  async function setUp(image: string) {
    alice = await s.newUser('alice');
    bob = await s.newUser('bob');
    vera = await s.newUser('vera');
    const project = await alice.call('createProject', { body: { name: 'pa' } });
    await alice.call('addMember', { params: { id: project.id }, body: { username: 'vera', role: 'viewer' } });
    const app = await alice.call('createApp', { body: { name: 'web', slug: 'alice-web', project: project.id, health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    await alice.call('deployApp', { params: { id: app.id }, body: { image_id: image } });
    const container = await waitFor(
      'alice-web to be healthy',
      async () => (await alice.call('listContainers', { query: { app: app.id } })).items.find((c) => c.status === 'healthy'),
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    const build = await alice.call('createBuild', { params: { id: app.id } });
    await alice.call('addDomain', { params: { id: app.id }, body: { hostname: 'www.alice.example' } });
    const token = await alice.call('createToken', { body: { name: 'ci' } });
    const vendor = await alice.call('createVendor', { body: { vendor: 'github', token: 'ghp_alice' } });
    await alice.call('setAppSource', { params: { id: app.id }, body: { repo_url: 'https://github.com/alice/web.git', vendor: vendor.id } });
    ids.vendor = vendor.id;
    ids.notification = (await alice.call('addNotification', { params: { id: app.id }, body: { kind: 'webhook', url: 'https://hooks.alice.example/x' } })).id;
    ids.drain = (await alice.call('addDrain', { params: { id: app.id }, body: { url: 'https://logs.alice.invalid/x' } })).id;
    ids.registry = (await alice.call('createRegistry', { body: { host: 'registry.alice.example', username: 'alice', password: 'pw' } })).id;
    const me = await alice.call('whoami');
    // The stateful resources: a volume, a Redis add-on with a backup, a one-off run, a scheduled command.
    const volume = await alice.call('createVolume', { body: { name: 'files', project: project.id } });
    const addon = await alice.call('createAddon', { body: { type: 'redis', name: 'cache', project: project.id } });
    const backup = await alice.call('createBackup', { params: { id: addon.id } });
    const volumeBackup = await alice.call('createVolumeBackup', { params: { id: volume.id } });
    const run = await alice.call('runCommand', { params: { id: app.id }, body: { command: ['true'] } });
    const cron = await alice.call('addCron', { params: { id: app.id }, body: { schedule: '0 3 * * *', command: ['true'] } });
    Object.assign(ids, { volume: volume.id, volumeBackup: volumeBackup.id, addon: addon.id, backup: backup.id, run: run.id, cron: cron.id });
    Object.assign(ids, { project: project.id, projectName: 'pa', app: app.id, slug: app.slug, container: container.id, build: build.id, token: token.id, user: me.id, username: 'alice', host: 'www.alice.example', image });
    await bob.call('createApp', { body: { name: 'bob-web', slug: 'bob-web' } });
  }
  after(async () => {
    await s?.destroy();
  });

  test('no token, a wrong one, a malformed header or a revoked token: 401 on every route but the public ones', async () => {
    const revoked = await s.admin.call('createToken', { body: { name: 'soon-revoked' } });
    await s.admin.call('revokeToken', { params: { id: revoked.id } });
    const variants: [string, Record<string, string>][] = [
      ['none', {}],
      ['wrong', { authorization: 'Bearer berth_not-a-real-token' }],
      ['empty bearer', { authorization: 'Bearer ' }],
      ['two words', { authorization: `Bearer ${s.adminToken} x` }],
      ['basic', { authorization: `Basic ${Buffer.from(`admin:${s.adminToken}`).toString('base64')}` }],
      ['revoked', { authorization: `Bearer ${revoked.token}` }],
    ];
    const ops = await docOps(s);
    for (const op of ops) {
      if (PUBLIC.has(op.name)) continue;
      const path = op.path.replace(/\{\w+\}/g, 'x');
      for (const [what, headers] of variants) {
        const r = await send(s.url, op.method, path, { headers: { ...headers, 'content-type': 'application/json' }, body: op.method === 'GET' ? undefined : '{}' });
        assert.equal(r.status, 401, `${op.method} ${path} with ${what} token: ${r.status} ${r.text.slice(0, 200)}`);
        checkAnswer(r, `${op.method} ${path}`);
      }
    }
    // Routes outside the document: the upload, the sockets and the git remote.
    for (const [what, headers] of variants) {
      const up = await send(s.url, 'POST', `/api/v1/builds/${ids.build}/upload`, { headers: { ...headers, 'content-type': 'application/gzip' }, body: 'x' });
      assert.equal(up.status, 401, `upload with ${what}`);
      for (const path of ['/ws/events', `/ws/apps/${ids.app}/logs`, `/ws/containers/${ids.container}/logs`, `/ws/builds/${ids.build}/logs`, '/ws/addons/x/session?client=psql']) {
        const ws = await wsCollect(wsUrl(s.url, path), { headers });
        assert.equal(ws.status, 401, `${path} with ${what}: ${ws.status} ${ws.messages.join('|')}`);
      }
      // HTTP Basic is how git sends a token, so it is a valid scheme there (the admin is no member: 404).
      const git = await send(s.url, 'GET', `/git/${ids.slug}.git/info/refs?service=git-upload-pack`, { headers });
      assert.equal(git.status, what === 'basic' ? 404 : 401, `git with ${what}: ${git.status} ${git.text.slice(0, 100)}`);
    }
    for (const path of ['/ws/events', `/ws/apps/${ids.app}/logs`]) {
      assert.equal((await wsCollect(wsUrl(s.url, path), { queryToken: 'berth_wrong' })).status, 401);
      assert.equal((await wsCollect(wsUrl(s.url, path), { queryToken: revoked.token })).status, 401);
    }
    for (const path of ['/healthz', '/api/openapi.json', '/api/docs/']) assert.equal((await send(s.url, 'GET', path)).status, 200, path);
  });

  /** A request with alice's ids for each route that takes ids; `forAll` overrides the expected status for everyone. */
  function cases(): Record<string, { params: Record<string, string>; body?: unknown; query?: string; status?: number }[]> {
    const app = [{ id: ids.app }, { id: ids.slug }];
    const withApp = (extra: Record<string, string> = {}, body?: unknown) => app.map((p) => ({ params: { ...p, ...extra }, body }));
    const project = [{ id: ids.project }, { id: ids.projectName }];
    return {
      revokeToken: [{ params: { id: ids.token } }],
      updateUser: [{ params: { id: ids.user }, body: { disabled: true }, status: 403 }],
      deleteUser: [{ params: { id: ids.user }, status: 403 }],
      getUserQuota: [{ params: { id: ids.user }, status: 403 }],
      setUserQuota: [{ params: { id: ids.user }, body: { projects: 1000 }, status: 403 }],
      getProject: project.map((params) => ({ params })),
      updateProject: project.map((params) => ({ params, body: { name: 'pwned' } })),
      deleteProject: project.map((params) => ({ params })),
      listMembers: project.map((params) => ({ params })),
      addMember: project.map((params) => ({ params, body: { username: 'bob', role: 'owner' } })),
      removeMember: project.map((params) => ({ params: { ...params, user: ids.username } })),
      getApp: withApp(),
      updateApp: withApp({}, { replicas: 3, env: { PWNED: '1' } }),
      deleteApp: withApp(),
      deployApp: withApp({}, { image_id: ids.image }),
      scaleApp: withApp({}, { replicas: 5 }),
      restartApp: withApp(),
      stopApp: withApp(),
      startApp: withApp(),
      setEnv: withApp({}, { set: { PWNED: '1' } }),
      listReleases: withApp(),
      getRelease: withApp({ version: '1' }),
      diffRelease: withApp({ version: '1' }),
      rollbackApp: withApp({}, {}),
      appLogs: withApp(),
      getAppMetrics: withApp(),
      getFormation: withApp(),
      updateFormation: withApp({}, { web: 5 }),
      listDomains: withApp(),
      addDomain: withApp({}, { hostname: 'evil.example' }),
      verifyDomain: withApp({ hostname: ids.host }),
      removeDomain: withApp({ hostname: ids.host }),
      getContainer: [{ params: { id: ids.container } }],
      startContainer: [{ params: { id: ids.container } }],
      stopContainer: [{ params: { id: ids.container } }],
      containerLogs: [{ params: { id: ids.container } }],
      createBuild: withApp(),
      createGitBuild: withApp({}, { repo_url: 'https://example.com/r.git' }),
      createPushBuild: withApp({}, { commit: 'a'.repeat(40) }),
      listBuilds: withApp(),
      getBuild: [{ params: { id: ids.build } }],
      getBuildDockerfile: [{ params: { id: ids.build } }],
      cancelBuild: [{ params: { id: ids.build } }],
      getBuildLog: [{ params: { id: ids.build } }],
      deleteVendor: [{ params: { id: ids.vendor } }],
      deleteRegistry: [{ params: { id: ids.registry } }],
      addNotification: withApp({}, { kind: 'webhook', url: 'https://evil.example/' }),
      listNotifications: withApp(),
      removeNotification: withApp({ target: ids.notification }),
      listNotificationDeliveries: withApp({ target: ids.notification }),
      listAlerts: withApp(),
      updateAlerts: withApp({}, { rules: { http_5xx_rate: { enabled: false }, memory: { threshold: 1 } } }),
      listProjectAlerts: project.map((params) => ({ params })),
      listDrains: withApp(),
      addDrain: withApp({}, { url: 'https://evil.invalid/' }),
      removeDrain: withApp({ drain: ids.drain }),
      getAppSource: withApp(),
      setAppSource: withApp({}, { repo_url: 'https://example.com/r.git', vendor: null }),
      deleteAppSource: withApp(),
      buildAppSource: withApp(),
      getWebhook: withApp(),
      rotateWebhook: withApp(),
      getVolume: [{ params: { id: ids.volume } }],
      deleteVolume: [{ params: { id: ids.volume } }],
      updateVolume: [{ params: { id: ids.volume }, body: { backup_keep: 1 } }],
      createVolumeBackup: [{ params: { id: ids.volume } }],
      listVolumeBackups: [{ params: { id: ids.volume } }],
      restoreVolume: [{ params: { id: ids.volume }, body: { backup: ids.volumeBackup } }],
      getVolumeJob: [{ params: { id: ids.volume, job: ids.volumeBackup } }],
      runCommand: withApp({}, { command: ['true'] }),
      listRuns: withApp(),
      getRun: [{ params: { id: ids.run } }],
      addCron: withApp({}, { schedule: '* * * * *', command: ['true'] }),
      listCron: withApp(),
      removeCron: withApp({ cron: ids.cron }),
      getAddon: [{ params: { id: ids.addon } }],
      updateAddon: [{ params: { id: ids.addon }, body: { backup_keep: 1 } }],
      getAddonUrl: [{ params: { id: ids.addon } }],
      deleteAddon: [{ params: { id: ids.addon } }],
      attachAddon: [{ params: { id: ids.addon }, body: { app: ids.app } }],
      detachAddon: [{ params: { id: ids.addon }, body: { app: ids.app } }],
      createBackup: [{ params: { id: ids.addon } }],
      listBackups: [{ params: { id: ids.addon } }],
      restoreBackup: [{ params: { id: ids.addon }, body: { backup: ids.backup } }],
      getAddonJob: [{ params: { id: ids.addon, job: ids.backup } }],
      verifyAddonBackup: [{ params: { id: ids.addon, job: ids.backup } }],
      forkAddon: [{ params: { id: ids.addon }, body: { to: '2026-01-01 00:00:00' } }],
      rewindAddon: [{ params: { id: ids.addon }, body: { to: '2026-01-01 00:00:00', confirm: 'x' } }],
      // Routes without ids in the path, aimed at alice's things through the query or the body.
      listVolumes: [{ params: {}, query: `project=${ids.project}` }],
      listAddons: [{ params: {}, query: `project=${ids.project}` }],
      createVolume: [{ params: {}, body: { name: 'intruder', project: ids.project } }],
      createAddon: [{ params: {}, body: { type: 'redis', name: 'intruder', project: ids.project } }],
      listApps: [{ params: {}, query: `project=${ids.project}` }],
      listContainers: [{ params: {}, query: `app=${ids.slug}` }],
      listEvents: [{ params: {}, query: `app=${ids.app}` }],
      listImages: [{ params: {}, query: `app=${ids.slug}` }],
      pruneImages: [{ params: {}, body: { app: ids.slug } }],
      createApp: [{ params: {}, body: { name: 'intruder', project: ids.project } }],
      // Cluster mode is the admins' alone: for anyone else its routes answer as unknown ones do.
      ...Object.fromEntries(
        (
          [
            ['getCluster', {}],
            ['listControlPlanes', {}],
            ['initCluster', {}, {}],
            ['getJoinCommand', {}],
            ['listNodes', {}],
            ['getNode', { id: 'node0' }],
            ['drainNode', { id: 'node0' }],
            ['activateNode', { id: 'node0' }],
            ['setNodeLabels', { id: 'node0' }, { labels: { tier: 'x' } }],
            ['deleteNode', { id: 'node0' }],
          ] as [string, Record<string, string>, unknown?][]
        ).map(([name, params, body]) => [name, [{ params, body, status: 404 }]]),
      ),
    };
  }

  async function tryAll(who: BerthClient, expect: (op: DocOp, status: number | undefined) => number[]) {
    const table = cases();
    const seen: string[] = [];
    for (const op of await docOps(s)) {
      const list = table[op.name];
      if (!list) {
        assert.equal(op.pathParams.length, 0, `no access case for ${op.name} (${op.method} ${op.path}): add one`);
        continue;
      }
      for (const c of list) {
        const path = op.path.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(c.params[k])) + (c.query ? `?${c.query}` : '');
        const r = await send(s.url, op.method, path, {
          token: who.opts.token,
          body: c.body === undefined ? undefined : JSON.stringify(c.body),
          headers: c.body === undefined ? {} : { 'content-type': 'application/json' },
        });
        const want = expect(op, c.status);
        assert.ok(want.includes(r.status), `${op.name}: ${op.method} ${path} gave ${r.status}, expected ${want}: ${r.text.slice(0, 200)}`);
        seen.push(op.name);
      }
    }
    return seen;
  }

  test("a stranger gets 404 for every route aimed at another user's things, and changes nothing", async () => {
    const before = await snapshot();
    const seen = await tryAll(bob, (_op, status) => [status ?? 404]);
    assert.ok(seen.length > 40, `only ${seen.length} cases ran`);
    for (const up of ['x']) {
      const r = await send(s.url, 'POST', `/api/v1/builds/${ids.build}/upload`, { token: bob.opts.token, headers: { 'content-type': 'application/gzip' }, body: up });
      assert.equal(r.status, 404, 'upload');
    }
    // Lists never show alice's things.
    for (const path of ['/api/v1/projects', '/api/v1/apps', '/api/v1/containers', '/api/v1/events?limit=1000', `/api/v1/apps/bob-web/builds`]) {
      const r = await send(s.url, 'GET', path, { token: bob.opts.token });
      assert.equal(r.status, 200, path);
      for (const id of [ids.project, ids.app, ids.slug, ids.container, ids.build]) assert.ok(!r.text.includes(id), `${path} shows ${id}`);
    }
    // Sockets: the app and container log streams refuse, the build log is a 404, and the git remote hides the repository.
    for (const path of [`/ws/apps/${ids.slug}/logs`, `/ws/containers/${ids.container}/logs`]) {
      const ws = await wsCollect(wsUrl(s.url, path), { token: bob.opts.token });
      assert.ok(ws.status === 404 || (ws.status === 101 && ws.closeCode === 1008), `${path}: ${ws.status} ${ws.closeCode}`);
      assert.ok(ws.messages.every((m) => /"error"/.test(m)), `${path} sent ${ws.messages.join('|').slice(0, 300)}`);
    }
    assert.equal((await wsCollect(wsUrl(s.url, `/ws/builds/${ids.build}/logs`), { token: bob.opts.token })).status, 404);
    for (const q of ['service=git-upload-pack', 'service=git-receive-pack']) {
      const git = await send(s.url, 'GET', `/git/${ids.slug}.git/info/refs?${q}`, { token: bob.opts.token });
      assert.equal(git.status, 404, q);
    }
    assert.deepEqual(await snapshot(), before);
  });

  test('a viewer reads everything of the project but changes nothing (403)', async () => {
    const before = await snapshot();
    await tryAll(vera, (op, status) => {
      if (status) return [status];
      if (op.name === 'revokeToken' || op.name === 'deleteVendor' || op.name === 'deleteRegistry') return [404]; // tokens and vendor accounts belong to their user, not to a project
      if (op.name === 'getWebhook') return [403]; // the webhook secret triggers deploys: developers only
      if (op.name === 'getAddonUrl') return [403]; // the add-on's password is in it: developers only
      if (op.name === 'listRuns' || op.name === 'getRun') return [403]; // a command's output may print secrets: developers only
      if (op.name === 'listEvents' || op.name === 'listContainers' || op.name === 'listApps') return [200];
      return op.method === 'GET' ? [200] : [403];
    });
    const up = await send(s.url, 'POST', `/api/v1/builds/${ids.build}/upload`, { token: vera.opts.token, headers: { 'content-type': 'application/gzip' }, body: 'x' });
    assert.equal(up.status, 403, 'upload');
    const push = await send(s.url, 'GET', `/git/${ids.slug}.git/info/refs?service=git-receive-pack`, { token: vera.opts.token });
    assert.equal(push.status, 403, 'git push');
    const logs = await wsCollect(wsUrl(s.url, `/ws/apps/${ids.slug}/logs`), { token: vera.opts.token, ms: 500 });
    assert.equal(logs.status, 101);
    assert.ok(logs.messages.every((m) => !/"error"/.test(m)));
    assert.deepEqual(await snapshot(), before);
  });

  test("/ws/events never delivers another user's events", async () => {
    const bobEvents = wsCollect(wsUrl(s.url, '/ws/events'), { token: bob.opts.token, ms: 4000 });
    const veraEvents = wsCollect(wsUrl(s.url, '/ws/events'), { token: vera.opts.token, ms: 4000 });
    await new Promise((r) => setTimeout(r, 500)); // both sockets are open before the events happen
    await alice.call('addDomain', { params: { id: ids.app }, body: { hostname: 'secret-plans.alice.example' } });
    await alice.call('removeDomain', { params: { id: ids.app, hostname: 'secret-plans.alice.example' } });
    await bob.call('addDomain', { params: { id: 'bob-web' }, body: { hostname: 'www.bob.example' } });
    const [b, v] = await Promise.all([bobEvents, veraEvents]);
    assert.ok(b.messages.some((m) => m.includes('www.bob.example')), `bob sees his own event: ${b.messages.join('|')}`);
    assert.ok(!b.messages.some((m) => m.includes(ids.project) || m.includes('alice')), `bob saw: ${b.messages.join('|')}`);
    assert.ok(v.messages.some((m) => m.includes('secret-plans')), 'a member sees the project events');
    assert.ok(!v.messages.some((m) => m.includes('www.bob.example')));
  });
});
