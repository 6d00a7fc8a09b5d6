import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { CLI_MAIN, createDatabase, startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { viaRouter } from '../support/load.js';
import { healthy, settled } from '../support/rollout.js';
import { waitFor } from '../support/wait.js';
import type { BerthClient } from '../../src/client/index.js';

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI_MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c));
    p.stderr.on('data', (c: Buffer) => (stderr += c));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.once('error', reject);
    p.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/**
 * `berth admin migrate-db`: a real single-node install on SQLite (users, a project with a member,
 * an app with releases and a secret config var, an add-on, tokens) copied into an empty PostgreSQL
 * database; the control plane started again on PostgreSQL on the same data directory has it all,
 * and the sealed secret still opens (its replicas get the value).
 */
describe('berth admin migrate-db: SQLite to PostgreSQL', () => {
  let s: TestServer;
  let dev: BerthClient;
  let target: { url: string; drop: () => Promise<void> };
  let image: string;
  const runtime = new DockerRuntime({});
  const before_: { apps: string[]; releases: number[]; users: string[]; addons: string[]; members: string[] } = { apps: [], releases: [], users: [], addons: [], members: [] };

  before(async () => {
    image = await ensureTestAppImage(runtime);
    // No BERTH_SECRET_KEY: the key is the one generated into the data directory, as on a default install.
    s = await startServer({ engine: 'sqlite', env: { BERTH_SECRET_KEY: '' } });
    dev = await s.newUser('dev');
    await s.newUser('viewer-vi');
    await dev.call('createProject', { body: { name: 'shop' } });
    const shop = (await dev.call('listProjects', {})).items.find((p) => p.name === 'shop')!;
    await dev.call('addMember', { params: { id: shop.id }, body: { username: 'viewer-vi', role: 'viewer' } });
    await dev.call('createApp', { body: { name: 'web', project: 'shop', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    await dev.call('createApp', { body: { name: 'idle', project: 'shop' } });
    await dev.call('deployApp', { params: { id: 'web' }, body: { image_id: image } });
    assert.equal((await settled(dev, 'web', 1)).status, 'live');
    await dev.call('setEnv', { params: { id: 'web' }, body: { set: { API_KEY: 'sealed-value-42', MODE: 'one' }, secret: ['API_KEY'] } });
    assert.equal((await settled(dev, 'web', 2)).status, 'live');
    await dev.call('createAddon', { body: { type: 'redis', name: 'cache', project: 'shop' } });
    before_.apps = (await dev.call('listApps', {})).items.map((a) => a.name).sort();
    before_.releases = (await dev.call('listReleases', { params: { id: 'web' } })).items.map((r) => r.version).sort();
    before_.users = (await s.admin.call('listUsers', {})).items.map((u) => u.username).sort();
    before_.addons = (await dev.call('listAddons', {})).items.map((a) => a.name).sort();
    before_.members = (await dev.call('listMembers', { params: { id: shop.id } })).items.map((m) => `${m.username}:${m.role}`).sort();
    target = await createDatabase();
  });
  after(async () => {
    await s?.destroy();
    await target?.drop();
  });

  const migrate = () => cli(['admin', 'migrate-db', '--data-dir', s.dataDir, '--to', target.url, '--json']);

  test('refused while the control plane runs (its pid file names a live process)', async () => {
    writeFileSync(join(s.dataDir, 'berth.pid'), `${s.pid}\n`);
    const r = await migrate();
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /control plane is running \(pid \d+/);
    assert.match(JSON.parse(r.stdout).error.message, /stop it first/);
  });

  test('stopped: every row copied, with progress; a second run refuses the now non-empty target', async () => {
    await s.stop();
    const r = await migrate();
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { ok: boolean; rows: number; tables: Record<string, number>; target: string };
    assert.equal(out.ok, true);
    assert.ok(!out.target.includes(new URL(target.url).password || '\u0000'), 'no password printed');
    assert.equal(out.tables.apps, 2);
    assert.equal(out.tables.releases, 2);
    assert.equal(out.tables.addons, 1);
    assert.equal(out.tables.users, 3);
    assert.match(r.stderr, /^apps: 2 rows$/m);
    const again = await migrate();
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not empty \(table \w+ has rows\)/);
  });

  test("a database holding another application's tables is refused, and Berth creates nothing in it", async () => {
    const other = await createDatabase();
    try {
      const { default: pg } = await import('pg');
      const c = new pg.Client({ connectionString: other.url });
      await c.connect();
      try {
        await c.query('create table orders (id int primary key, total numeric)');
        await c.query('insert into orders values (1, 9.5)');
        const r = await cli(['admin', 'migrate-db', '--data-dir', s.dataDir, '--to', other.url, '--json']);
        assert.equal(r.code, 1, r.stderr);
        assert.match(JSON.parse(r.stdout).error.message, /holds tables that are not Berth's \(orders\)/);
        const tables = (await c.query<{ name: string }>("select relname as name from pg_class where relkind = 'r' and relnamespace = current_schema()::regnamespace")).rows.map((t) => t.name);
        assert.deepEqual(tables, ['orders'], 'no Berth table was created in it');
      } finally {
        await c.end();
      }
    } finally {
      await other.drop();
    }
  });

  test('started on PostgreSQL with the same data directory: everything is there, old tokens work, the secret opens', async () => {
    s.env.DATABASE_URL = target.url;
    await s.start();
    assert.equal((await s.admin.call('listControlPlanes', {})).engine, 'postgres');
    // The client made before the move: its token was copied with the rest.
    assert.deepEqual((await dev.call('listApps', {})).items.map((a) => a.name).sort(), before_.apps);
    assert.deepEqual((await dev.call('listReleases', { params: { id: 'web' } })).items.map((r) => r.version).sort(), before_.releases);
    assert.deepEqual((await s.admin.call('listUsers', {})).items.map((u) => u.username).sort(), before_.users);
    assert.deepEqual((await dev.call('listAddons', {})).items.map((a) => a.name).sort(), before_.addons);
    const shop = (await dev.call('listProjects', {})).items.find((p) => p.name === 'shop')!;
    assert.deepEqual((await dev.call('listMembers', { params: { id: shop.id } })).items.map((m) => `${m.username}:${m.role}`).sort(), before_.members);
    const viewer = await s.login('viewer-vi', 'pw-viewer-vi-secret');
    assert.deepEqual((await viewer.call('listApps', {})).items.map((a) => a.name).sort(), before_.apps);

    // A new release made on PostgreSQL opens the secret sealed on SQLite: its replica has the value.
    const env = await dev.call('setEnv', { params: { id: 'web' }, body: { set: { MODE: 'two' } } });
    assert.deepEqual(env.secret_env, ['API_KEY']);
    assert.notEqual(env.env.API_KEY, 'sealed-value-42', 'masked in the API');
    assert.equal((await settled(dev, 'web', 3)).status, 'live');
    await healthy(dev, 'web', 1, { release: 3 });
    const seen = await waitFor(
      'the release 3 replica through the router',
      async () => {
        const r = await viaRouter(s.routerPort, 'web.localhost');
        if (r.status !== 200) return undefined;
        const body = JSON.parse(r.body) as { env: Record<string, string> };
        return body.env.MODE === 'two' ? body.env : undefined;
      },
      { timeoutMs: 30_000 },
    );
    assert.equal(seen.API_KEY, 'sealed-value-42');
    // New rows get new ids after the copied ones (sequences moved past them): events keep flowing.
    const events = (await dev.call('listEvents', { query: { limit: 5 } })).items;
    assert.ok(events.length > 0);
  });
});
