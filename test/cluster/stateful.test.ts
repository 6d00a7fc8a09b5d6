import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { run } from '../../src/lib/exec.js';
import { engineVolume } from '../../src/domain/volumes.js';
import { BASE_IMAGE, ensureTestAppImage } from '../support/images.js';
import { viaRouter } from '../support/load.js';
import { healthy, settled } from '../support/rollout.js';
import { waitFor } from '../support/wait.js';
import { cli, rejectsWith } from '../stateful/helpers.js';
import { loadImage, startClusterServer, startNodes, type DindNode } from './nodes-harness.js';

// Stateful apps in cluster mode on a real Swarm of two Docker-in-Docker nodes (a manager and a
// worker): an app with a volume is pinned to the manager, where Berth's volumes live, and keeps its
// data across a restart and a redeploy; an app on the worker reaches a PostgreSQL add-on (on the
// manager's engine, on the project's overlay) by DATABASE_URL; a release command and `berth run`
// (both on the manager's engine) reach it too. Images are loaded into the nodes (docs/cluster.md).

// A new PostgreSQL add-on's image (17 by default: docs/stateful.md, Versions).
const ADDON_IMAGE = process.env.BERTH_ADDON_POSTGRES17_IMAGE ?? 'berth/addon-postgres:17';

/** The test app plus psql: GET /health, /file?path=P[&write=T], /sql?q=Q (psql on DATABASE_URL), / (hostname). */
const SERVER = String.raw`
const http = require('node:http');
const os = require('node:os');
const fs = require('node:fs');
const { execFile } = require('node:child_process');
http.createServer((req, res) => {
  const url = new URL(req.url, 'http://app');
  const json = (status, body) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
  if (url.pathname === '/health') return json(200, { ok: true });
  if (url.pathname === '/file') {
    const p = url.searchParams.get('path');
    const text = url.searchParams.get('write');
    try {
      if (text !== null) fs.writeFileSync(p, text);
      return json(200, { hostname: os.hostname(), content: fs.readFileSync(p, 'utf8') });
    } catch (err) {
      return json(err.code === 'ENOENT' ? 404 : 500, { error: String(err.message) });
    }
  }
  if (url.pathname === '/sql') {
    return execFile('psql', [process.env.DATABASE_URL, '-v', 'ON_ERROR_STOP=1', '-tAc', url.searchParams.get('q')], { timeout: 20000 }, (err, stdout, stderr) =>
      json(err ? 500 : 200, { out: stdout.trim(), err: stderr.trim() }));
  }
  return json(200, { hostname: os.hostname() });
}).listen(Number(process.env.PORT || 8080), '0.0.0.0', () => console.log('listening'));
`;

/** The image, built once per input (Debian's postgresql-client over the test app image). */
async function psqlAppImage(): Promise<string> {
  const from = await ensureTestAppImage(new DockerRuntime());
  const dockerfile = `FROM ${from}\nRUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-client && rm -rf /var/lib/apt/lists/*\nCOPY pg.js /app/pg.js\nCMD ["node", "/app/pg.js"]\n`;
  const tag = `berth-test/psql-app:${createHash('sha256').update(dockerfile + SERVER).digest('hex').slice(0, 16)}`;
  if ((await run('docker', ['image', 'inspect', tag], { timeoutMs: 30_000 })).code === 0) return tag;
  const dir = mkdtempSync(join(tmpdir(), 'berth-psql-app-'));
  try {
    writeFileSync(join(dir, 'Dockerfile'), dockerfile);
    writeFileSync(join(dir, 'pg.js'), SERVER);
    const built = await run('docker', ['build', '-q', '-t', tag, dir], { timeoutMs: 600_000 });
    assert.equal(built.code, 0, built.stderr);
    return tag;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('cluster mode: a volume app pinned to the manager keeps its data; an app on the worker, a release command and berth run reach a PostgreSQL add-on', async (t) => {
  const started = Date.now();
  const cluster = await startNodes(2);
  t.after(() => cluster.destroy());
  const [manager, worker] = cluster.nodes as [DindNode, DindNode];
  const image = await psqlAppImage();
  // Volume helpers (the base image) and the add-on run on the manager's engine only.
  // On the manager only, as after a build there: the worker pulls the app from Berth's registry.
  await loadImage(manager, image).then(() => loadImage(manager, ADDON_IMAGE)).then(() => loadImage(manager, BASE_IMAGE));
  t.diagnostic(`nodes up and images loaded after ${Date.now() - started} ms`);

  // Cluster init, then the whole printed join command on the worker (trust for the registry, then the join).
  const s = await startClusterServer(cluster);
  t.after(() => s.destroy());
  const admin = s.admin;
  const home = mkdtempSync(join(tmpdir(), 'berth-cli-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const berth = cli(() => s, () => admin, () => home);
  const managerId = (await admin.call('getCluster', {})).node_id!;
  assert.ok(managerId);
  await admin.call('createProject', { body: { name: 'st' } });
  const nodesOf = async (app: string) => (await admin.call('listContainers', { query: { app } })).items.map((c) => c.node).sort();

  // An app with a volume: pinned to the manager, shown so in the API and the CLI.
  await admin.call('createVolume', { body: { name: 'data', project: 'st' } });
  // No CPU limit (admins only): Swarm reserves a replica's limit, and the new 1-core default would not let a
  // restart's extra replica fit on the 2-core manager the volume pins it to.
  await admin.call('createApp', { body: { name: 'keeper', project: 'st', strategy: 'recreate', replicas: 2, health_check: { path: '/health', timeout_s: 90, grace_s: 0 }, cpu: 0 } });
  const keeper = await admin.call('updateApp', { params: { id: 'keeper' }, body: { volumes: [{ volume: 'data', path: '/data' }] } });
  assert.deepEqual(keeper.pinned && { node: keeper.pinned.node, constraint: keeper.pinned.constraint }, { node: 'node0', constraint: `node.id==${managerId}` });
  const info = await berth(['apps', 'info', 'keeper']);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, new RegExp(`Pinned to:\\s+node0 \\(node\\.id==${managerId}\\): its volumes live on this node`));
  // A placement the volumes' node cannot meet: a 400 naming the constraint.
  await rejectsWith(admin.call('updateApp', { params: { id: 'keeper' }, body: { placement: { constraints: ['node.role==worker'] } } }), 400, 'placement.constraints.0');
  await rejectsWith(admin.call('updateApp', { params: { id: 'keeper' }, body: { placement: { constraints: ['node.role==manager', 'node.hostname!=node0'] } } }), 400, 'placement.constraints.1');

  await admin.call('deployApp', { params: { id: 'keeper' }, body: { image_id: image } });
  const k1 = await settled(admin, 'keeper', 1, 300_000);
  assert.equal(k1.status, 'live', k1.reason ?? '');
  await healthy(admin, 'keeper', 2, { timeoutMs: 120_000 });
  assert.deepEqual(await nodesOf('keeper'), ['node0', 'node0'], 'every replica of an app with a volume runs on the manager');
  // The manager holds its volumes: draining it would leave the app nowhere to run, so it is refused, naming the app.
  const drainRefused = await admin.call('drainNode', { params: { id: 'node0' } }).then(() => assert.fail('the manager was drained'), (e: Error & { status?: number }) => e);
  assert.equal(drainRefused.status, 409, drainRefused.message);
  assert.match(drainRefused.message, /holds the volumes of keeper/);
  assert.equal((await admin.call('getNode', { params: { id: 'node0' } })).availability, 'active');
  const svcId = (await manager.docker(['service', 'ls', '-q', '--filter', `label=berth.app=${keeper.id}`])).stdout.split('\n').filter(Boolean)[0]!;
  const constraints = JSON.parse((await manager.docker(['service', 'inspect', svcId])).stdout)[0].Spec.TaskTemplate.Placement.Constraints as string[];
  assert.deepEqual(constraints, [`node.id==${managerId}`]);
  const file = async (query: string) => {
    const r = await viaRouter(s.routerPort, 'keeper.localhost', `/file?path=/data/kept.txt${query}`);
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body) as { hostname: string; content: string };
  };
  assert.equal((await file('&write=written-in-v1')).content, 'written-in-v1');
  /** Every replica (reached through the router) reads the same file from the one volume. */
  const everyReplicaReads = async (what: string) => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await file('');
      assert.equal(r.content, what);
      seen.add(r.hostname);
    }
    assert.equal(seen.size, 2, 'both replicas answered');
  };
  await everyReplicaReads('written-in-v1');

  // A restart replaces every replica; a redeploy (a config var) makes v2: the data is still there, still on the manager.
  const before = (await admin.call('listContainers', { query: { app: 'keeper' } })).items.map((c) => c.id);
  await admin.call('restartApp', { params: { id: 'keeper' } });
  await waitFor('the restart to replace both replicas', async () => {
    const items = (await admin.call('listContainers', { query: { app: 'keeper' } })).items;
    return items.length === 2 && items.every((c) => !before.includes(c.id) && c.status === 'healthy' && c.in_rotation);
  }, { timeoutMs: 180_000, intervalMs: 300 });
  assert.deepEqual(await nodesOf('keeper'), ['node0', 'node0']);
  await everyReplicaReads('written-in-v1');
  await admin.call('setEnv', { params: { id: 'keeper' }, body: { set: { COLOR: 'blue' } } });
  const k2 = await settled(admin, 'keeper', 2, 300_000);
  assert.equal(k2.status, 'live', k2.reason ?? '');
  await healthy(admin, 'keeper', 2, { release: 2, timeoutMs: 120_000 });
  assert.deepEqual(await nodesOf('keeper'), ['node0', 'node0']);
  await everyReplicaReads('written-in-v1');
  // The file is in Berth's volume on the manager's engine (where backups read it).
  const vol = await admin.call('getVolume', { params: { id: 'data' }, query: { project: 'st' } });
  const onManager = await manager.docker(['run', '--rm', '-v', `${engineVolume(vol.id)}:/v:ro`, BASE_IMAGE, 'cat', '/v/kept.txt']);
  assert.equal(onManager.stdout, 'written-in-v1', onManager.stderr);
  assert.ok(!(await worker.docker(['volume', 'ls', '-q'])).stdout.includes(engineVolume(vol.id)), 'no empty copy of the volume on the worker');

  // A PostgreSQL add-on (on the manager's engine, on the project's overlay) and an app placed on the worker.
  await admin.call('createAddon', { body: { type: 'postgres', name: 'db', project: 'st' } });
  await waitFor('the add-on to run', async () => (await admin.call('getAddon', { params: { id: 'db' }, query: { project: 'st' } })).status === 'running', { timeoutMs: 180_000, intervalMs: 500 });
  await admin.call('createApp', {
    body: { name: 'remote', project: 'st', placement: { constraints: ['node.role==worker'] }, health_check: { path: '/health', timeout_s: 90, grace_s: 0 }, cpu: 0 },
  });
  await admin.call('attachAddon', { params: { id: 'db' }, query: { project: 'st' }, body: { app: 'remote' } });
  const remote = await admin.call('updateApp', {
    params: { id: 'remote' },
    body: { release_command: ['sh', '-c', 'psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -c "CREATE TABLE IF NOT EXISTS notes (body text NOT NULL)" && echo "release on $(hostname)"'] },
  });
  assert.equal(remote.pinned, null, 'an app without volumes is not pinned');
  // Mounting a volume into an app placed on the workers contradicts where volumes live.
  await rejectsWith(admin.call('updateApp', { params: { id: 'remote' }, body: { strategy: 'recreate', volumes: [{ volume: 'data', path: '/data' }] } }), 400, 'volumes');

  await admin.call('deployApp', { params: { id: 'remote' }, body: { image_id: image } });
  const r1 = await settled(admin, 'remote', 1, 300_000);
  assert.equal(r1.status, 'live', `${r1.reason ?? ''}\n${s.output().slice(-3000)}`);
  await healthy(admin, 'remote', 1, { timeoutMs: 120_000 });
  assert.deepEqual(await nodesOf('remote'), ['node1'], 'the app runs on the worker');
  const release = (await admin.call('listRuns', { params: { id: 'remote' } })).items.find((r) => r.kind === 'release');
  assert.equal(release?.status, 'succeeded', release?.output ?? '');
  assert.equal(release?.exit_code, 0);
  assert.match(release?.output ?? '', /CREATE TABLE/);
  const sql = async (q: string) => {
    const r = await viaRouter(s.routerPort, 'remote.localhost', `/sql?q=${encodeURIComponent(q)}`);
    assert.equal(r.status, 200, r.body);
    return (JSON.parse(r.body) as { out: string }).out;
  };
  await sql("INSERT INTO notes (body) VALUES ('from-the-worker')");
  assert.equal(await sql('SELECT body FROM notes'), 'from-the-worker', 'the worker reached the add-on on the manager by DATABASE_URL');

  // `berth run`: a one-off command of the live release (on the manager's engine) reaches the add-on too.
  const oneOff = await berth(['run', 'remote', '--', 'sh', '-c', 'psql "$DATABASE_URL" -tAc "SELECT body FROM notes"']);
  assert.equal(oneOff.code, 0, oneOff.stdout + oneOff.stderr);
  assert.match(oneOff.stdout, /from-the-worker/);
  const failing = await berth(['run', 'remote', '--', 'sh', '-c', 'psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -tAc "SELECT nothing FROM nowhere"']);
  assert.notEqual(failing.code, 0, 'a failing one-off command exits non-zero');

  // A user constraint that stops holding later (the manager's label removed): the release fails naming it.
  await admin.call('setNodeLabels', { params: { id: 'node0' }, body: { labels: { disk: 'ssd' } } });
  await admin.call('updateApp', { params: { id: 'keeper' }, body: { placement: { constraints: ['node.labels.disk==ssd'] } } });
  await admin.call('setNodeLabels', { params: { id: 'node0' }, body: { labels: {} } });
  await admin.call('setEnv', { params: { id: 'keeper' }, body: { set: { COLOR: 'green' } } });
  const k3 = await settled(admin, 'keeper', 3, 300_000);
  assert.equal(k3.status, 'failed');
  assert.match(k3.reason ?? '', /node\.labels\.disk==ssd/);
  assert.match(k3.reason ?? '', new RegExp(`node\\.id==${managerId}`));
  // Recreate had stopped v2's replicas first: the last good release comes back, with its data, on the manager.
  await healthy(admin, 'keeper', 2, { release: 2, timeoutMs: 180_000 });
  assert.deepEqual(await nodesOf('keeper'), ['node0', 'node0']);
  await everyReplicaReads('written-in-v1');
  t.diagnostic(`the whole test took ${Date.now() - started} ms`);
});
