import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { routes } from '../../src/api/contract/index.js';
import type { Access, RouteDef } from '../../src/api/contract/route-def.js';
import { sockets, type SocketDef } from '../../src/api/contract/sockets.js';
import { rawRoutes, type RawRouteDef } from '../../src/api/contract/raw.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { waitFor } from '../support/wait.js';
import { explained, send, wsCollect, wsUrl, type RawAnswer } from './helpers.js';

/**
 * The authorization matrix, generated from the contract: every route, socket and raw route declares
 * the rule it needs (`access`, src/api/contract/route-def.ts), and this test tries each one as each kind of
 * caller, aimed at alice's things: a stranger, a viewer, a developer, the owner, and an admin who
 * is no member. Whoever the rule refuses is refused (404 for non-members, 403 for a member with too
 * low a role, before anything changes); whoever it lets in is not refused. A route added without a
 * rule does not compile; one whose path names something this test cannot fill, or whose body it
 * cannot make, fails here until a value is added below.
 */

type Who = 'stranger' | 'viewer' | 'developer' | 'owner' | 'admin';
const WHO: Who[] = ['stranger', 'viewer', 'developer', 'owner', 'admin'];
const RANK = { viewer: 0, developer: 1, owner: 2 } as const;
/** Admins manage every user's vendor and registry accounts (src/api/handlers/vendors.ts, registries.ts). */
const ADMIN_MANAGES = new Set(['deleteVendor', 'deleteRegistry']);
/** Admins read every project's audit log without being a member. */
const ADMIN_READS = new Set(['listAudit']);

type Verdict = 'allowed' | 403 | 404 | 'hidden';

/** What the rule says for this caller. `hidden`: refused as if the route did not exist (403 or 404). */
function verdict(name: string, access: Access, who: Who, hasIds: boolean): Verdict | null {
  if (access === 'public') return null;
  if (access === 'admin') return who === 'admin' ? 'allowed' : 'hidden';
  if (access === 'user') {
    if (!hasIds || who === 'owner') return 'allowed';
    return who === 'admin' && ADMIN_MANAGES.has(name) ? 'allowed' : 404;
  }
  if (who === 'admin' && ADMIN_READS.has(name)) return 'allowed';
  if (who === 'stranger' || who === 'admin') return 404;
  return RANK[who] >= RANK[access] ? 'allowed' : 403;
}

describe('authorization matrix (from the contract)', () => {
  let s: TestServer;
  const as = {} as Record<Who, BerthClient>;
  const ids: Record<string, string> = {};
  const runtime = new DockerRuntime({});

  before(async () => {
    const image = await ensureTestAppImage(runtime);
    s = await startServer();
    await explained(s.output, async () => {
      as.owner = await s.newUser('alice');
      as.stranger = await s.newUser('bob');
      as.viewer = await s.newUser('vera');
      as.developer = await s.newUser('dave');
      as.admin = s.admin;
      const alice = as.owner;
      const project = await alice.call('createProject', { body: { name: 'pa' } });
      await alice.call('addMember', { params: { id: project.id }, body: { username: 'vera', role: 'viewer' } });
      await alice.call('addMember', { params: { id: project.id }, body: { username: 'dave', role: 'developer' } });
      const app = await alice.call('createApp', { body: { name: 'web', slug: 'alice-web', project: project.id, health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
      await alice.call('deployApp', { params: { id: app.id }, body: { image_id: image } });
      const container = await waitFor(
        'alice-web to be healthy',
        async () => (await alice.call('listContainers', { query: { app: app.id } })).items.find((c) => c.status === 'healthy'),
        { timeoutMs: 90_000, intervalMs: 250 },
      );
      const build = await alice.call('createBuild', { params: { id: app.id } });
      await alice.call('addDomain', { params: { id: app.id }, body: { hostname: 'www.alice.example' } });
      const vendor = await alice.call('createVendor', { body: { vendor: 'github', token: 'ghp_alice' } });
      await alice.call('setAppSource', { params: { id: app.id }, body: { repo_url: 'https://github.com/alice/web.git', vendor: vendor.id } });
      const volume = await alice.call('createVolume', { body: { name: 'files', project: project.id } });
      const addon = await alice.call('createAddon', { body: { type: 'redis', name: 'cache', project: project.id } });
      Object.assign(ids, {
        project: project.id,
        app: app.id,
        slug: app.slug,
        container: container.id,
        build: build.id,
        image,
        host: 'www.alice.example',
        user: (await alice.call('whoami')).id,
        token: (await alice.call('createToken', { body: { name: 'ci' } })).id,
        vendor: vendor.id,
        registry: (await alice.call('createRegistry', { body: { host: 'registry.alice.example', username: 'alice', password: 'pw' } })).id,
        notification: (await alice.call('addNotification', { params: { id: app.id }, body: { kind: 'webhook', url: 'https://hooks.alice.example/x' } })).id,
        drain: (await alice.call('addDrain', { params: { id: app.id }, body: { url: 'https://logs.alice.invalid/x' } })).id,
        volume: volume.id,
        volumeBackup: (await alice.call('createVolumeBackup', { params: { id: volume.id } })).id,
        addon: addon.id,
        backup: (await alice.call('createBackup', { params: { id: addon.id } })).id,
        run: (await alice.call('runCommand', { params: { id: app.id }, body: { command: ['true'] } })).id,
        cron: (await alice.call('addCron', { params: { id: app.id }, body: { schedule: '0 3 * * *', command: ['true'] } })).id,
      });
    });
  });
  after(async () => {
    await s?.destroy();
  });

  /** A value of alice's for each path parameter, by the collection the path names. */
  function fill(path: string): string {
    return path.replace(/[:{](\w+)\}?/g, (_m, param: string) => {
      const collection = /\/(\w+)\/[:{]id/.exec(path)?.[1];
      const byCollection: Record<string, string> = {
        apps: ids.slug,
        projects: ids.project,
        builds: ids.build,
        containers: ids.container,
        volumes: ids.volume,
        addons: ids.addon,
        runs: ids.run,
        tokens: ids.token,
        vendors: ids.vendor,
        registries: ids.registry,
        users: ids.user,
        nodes: 'node0',
        webhooks: ids.app,
      };
      const value =
        param === 'id'
          ? byCollection[collection ?? '']
          : ({
              version: '1',
              hostname: ids.host,
              target: ids.notification,
              drain: ids.drain,
              cron: ids.cron,
              user: 'alice',
              job: collection === 'volumes' ? ids.volumeBackup : ids.backup,
              slug: ids.slug,
            } as Record<string, string>)[param];
      assert.ok(value, `no value of alice's for {${param}} in ${path}: add one to fill()`);
      return encodeURIComponent(value);
    });
  }

  /** Valid bodies (a refusal must not be a 400) and queries aimed at alice's things. */
  const BODIES: Record<string, () => unknown> = {
    changePassword: () => ({ current_password: 'wrong-password', new_password: 'x'.repeat(12) }),
    createToken: () => ({ name: 'mine' }),
    updateFormation: () => ({ web: 5 }),
    createProject: () => ({ name: 'own' }),
    createRegistry: () => ({ host: 'registry.own.example', username: 'u', password: 'p' }),
    createVendor: () => ({ vendor: 'github', token: 'ghp_own' }),
    createUser: () => ({ username: 'intruder', password: 'intruder-password' }),
    updateUser: () => ({ disabled: true }),
    setUserQuota: () => ({ projects: 1000 }),
    initCluster: () => ({}),
    setNodeLabels: () => ({ labels: { tier: 'x' } }),
    updateProject: () => ({ name: 'pwned' }),
    addMember: () => ({ username: 'bob', role: 'owner' }),
    createApp: () => ({ name: 'intruder', project: ids.project }),
    updateApp: () => ({ replicas: 3, env: { PWNED: '1' } }),
    scaleApp: () => ({ replicas: 5 }),
    setEnv: () => ({ set: { PWNED: '1' } }),
    deployApp: () => ({ image_id: ids.image }),
    rollbackApp: () => ({}),
    createGitBuild: () => ({ repo_url: 'https://example.com/r.git' }),
    createPushBuild: () => ({ commit: 'a'.repeat(40) }),
    addDomain: () => ({ hostname: 'evil.example' }),
    pruneImages: () => ({ app: ids.slug }),
    addNotification: () => ({ kind: 'webhook', url: 'https://evil.example/' }),
    updateAlerts: () => ({ rules: { http_5xx_rate: { enabled: false } } }),
    addDrain: () => ({ url: 'https://evil.invalid/' }),
    setAppSource: () => ({ repo_url: 'https://example.com/r.git', vendor: null }),
    createVolume: () => ({ name: 'intruder', project: ids.project }),
    updateVolume: () => ({ backup_keep: 1 }),
    restoreVolume: () => ({ backup: ids.volumeBackup }),
    runCommand: () => ({ command: ['true'] }),
    addCron: () => ({ schedule: '* * * * *', command: ['true'] }),
    createAddon: () => ({ type: 'redis', name: 'intruder', project: ids.project }),
    updateAddon: () => ({ backup_keep: 1 }),
    attachAddon: () => ({ app: ids.app }),
    detachAddon: () => ({ app: ids.app }),
    restoreBackup: () => ({ backup: ids.backup }),
    forkAddon: () => ({ to: new Date().toISOString() }),
    rewindAddon: () => ({ to: new Date().toISOString(), confirm: 'x' }),
  };
  const QUERIES: Record<string, () => string> = {
    listApps: () => `project=${ids.project}`,
    listContainers: () => `app=${ids.slug}`,
    listEvents: () => `app=${ids.app}`,
    listImages: () => `app=${ids.slug}`,
    listVolumes: () => `project=${ids.project}`,
    listAddons: () => `project=${ids.project}`,
    listAudit: () => `project=${ids.project}`,
  };

  async function call(who: Who, name: string, def: RouteDef): Promise<RawAnswer> {
    const bodyOf = BODIES[name];
    if (def.body) assert.ok(bodyOf, `${name} takes a body: add a valid one to BODIES`);
    const query = QUERIES[name]?.();
    const path = fill(def.path) + (query ? `?${query}` : '');
    const body = bodyOf ? JSON.stringify(bodyOf()) : undefined;
    return send(s.url, def.method, path, { token: as[who].opts.token, body, headers: body ? { 'content-type': 'application/json' } : {} });
  }

  /** What alice (and the admin) can see: unchanged by everything the matrix refuses. */
  async function snapshot() {
    const alice = as.owner;
    const app = await alice.call('getApp', { params: { id: ids.app } });
    return {
      project: await alice.call('getProject', { params: { id: ids.project } }).then((p) => [p.name, p.apps]),
      members: (await alice.call('listMembers', { params: { id: ids.project } })).items.map((m) => [m.username, m.role]),
      app: [app.name, app.image, app.replicas, app.env, app.status, app.release],
      domains: (await alice.call('listDomains', { params: { id: ids.app } })).items.map((d) => d.hostname),
      tokens: (await alice.call('listTokens')).items.map((t) => t.id),
      vendors: (await alice.call('listVendors')).items.map((v) => v.id),
      volumes: (await alice.call('listVolumes', { query: {} })).items.map((v) => [v.id, v.backup_keep]),
      addons: (await alice.call('listAddons', { query: {} })).items.map((a) => [a.id, a.attachments, a.backup_keep]),
      runs: (await alice.call('listRuns', { params: { id: ids.app } })).items.length,
      cron: (await alice.call('listCron', { params: { id: ids.app } })).items.map((c) => c.id),
      users: (await s.admin.call('listUsers')).items.map((u) => [u.username, u.disabled, u.is_admin]),
    };
  }

  const refusedAs = (v: Verdict, r: RawAnswer) => (v === 'hidden' ? r.status === 403 || r.status === 404 : r.status === v);

  test('every contract route refuses whom its rule refuses, for every role, and changes nothing', async () => {
    const before = await snapshot();
    let checked = 0;
    for (const [name, def] of Object.entries(routes) as [string, RouteDef][]) {
      const hasIds = /:\w+/.test(def.path);
      // A project-scoped route must be aimed at alice's project through its path, query or body, or the check proves nothing.
      if (def.access in RANK && !hasIds) assert.ok(QUERIES[name] || BODIES[name], `${name}: name alice's project or app in QUERIES or BODIES`);
      for (const who of WHO) {
        const v = verdict(name, def.access, who, hasIds);
        if (v === null || v === 'allowed') continue;
        const r = await call(who, name, def);
        assert.ok(refusedAs(v, r), `${name} (${def.access}) as ${who}: ${def.method} ${def.path} gave ${r.status}, expected ${v}: ${r.text.slice(0, 200)}`);
        checked++;
      }
    }
    assert.ok(checked > 150, `only ${checked} refusals checked`);
    assert.deepEqual(await snapshot(), before);
  });

  test('every reading route lets in whom its rule lets in', async () => {
    for (const [name, def] of Object.entries(routes) as [string, RouteDef][]) {
      if (def.method !== 'GET') continue;
      for (const who of WHO) {
        if (verdict(name, def.access, who, /:\w+/.test(def.path)) !== 'allowed') continue;
        const r = await call(who, name, def);
        if (def.access === 'admin') {
          // Cluster reads answer 409/404 on a machine that is not a cluster: anything but a refusal.
          assert.ok(![401, 403].includes(r.status) && !/no route/.test(r.text), `${name} as ${who}: ${r.status} ${r.text.slice(0, 200)}`);
        } else {
          assert.equal(r.status, 200, `${name} (${def.access}) as ${who}: ${r.status} ${r.text.slice(0, 200)}`);
        }
      }
    }
  });

  test('every socket refuses whom its rule refuses before it sends anything, and opens for the others', async () => {
    for (const [name, def] of Object.entries(sockets) as [string, SocketDef][]) {
      const path = fill(def.path) + (name === 'addonSession' ? '?client=redis-cli' : '');
      for (const who of WHO) {
        const v = verdict(name, def.access, who, /:\w+/.test(def.path));
        const ws = await wsCollect(wsUrl(s.url, path), { token: as[who].opts.token, ms: 300 });
        const what = `${name} (${def.access}) as ${who}: ${ws.status} ${ws.closeCode} ${ws.messages.join('|').slice(0, 200)}`;
        if (v === 'allowed') {
          // attachRun needs a run on a terminal (409 otherwise); an add-on session needs a running add-on: past the access check either way.
          assert.ok(![401, 403, 404].includes(ws.status) && ws.closeCode !== 1008, what);
        } else {
          const refused = v === 'hidden' ? [403, 404] : [v];
          assert.ok(refused.includes(ws.status as 403 | 404) || (ws.status === 101 && ws.closeCode === 1008 && v === 404), what);
          assert.ok(ws.messages.every((m) => /"error"/.test(m)), what);
        }
      }
    }
  });

  test('raw routes (upload, backup downloads, git) follow their declared rule', async () => {
    for (const [name, def] of Object.entries(rawRoutes) as [string, RawRouteDef][]) {
      if (def.access === 'public') continue;
      for (const who of WHO) {
        const v = verdict(name, def.access, who, true)!;
        // An upload as text/plain is refused (415) only after the access check: nothing is consumed.
        const r = await send(s.url, def.method, fill(def.path), {
          token: as[who].opts.token,
          ...(def.method === 'POST' ? { body: 'x', headers: { 'content-type': 'text/plain' } } : {}),
        });
        const what = `${name} (${def.access}) as ${who}: ${r.status} ${r.text.slice(0, 200)}`;
        if (v === 'allowed') assert.ok(![401, 403, 404].includes(r.status), what);
        else assert.ok(refusedAs(v, r), what);
      }
    }
  });
});
