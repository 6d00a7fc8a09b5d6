import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { openStore } from '../../src/store/db.js';
import { clusterRow, nodeChange, requestCluster, requestNodeChange } from '../../src/store/cluster.js';
import { NodeController } from '../../src/controllers/nodes.js';
import { Events } from '../../src/domain/events.js';
import { createUser } from '../../src/store/users.js';
import { createProject } from '../../src/store/projects.js';
import { appById, insertApp } from '../../src/store/apps.js';
import { deleteContainer, insertContainer } from '../../src/store/containers.js';
import { now } from '../../src/store/db.js';
import { SwarmRefused, type Cluster, type NodeAvailability, type SwarmNode } from '../../src/runtime/swarm/types.js';

// The node controller's bookkeeping in milliseconds, against an in-memory Swarm behind the Cluster
// interface (the real engine is exercised by nodes.test.ts): what is written first is applied
// later when the engine did not answer, an engine already a manager is adopted, refusals are recorded.

class FakeSwarm implements Cluster {
  down = false;
  inits = 0;
  state = 'inactive';
  nodeList: SwarmNode[] = [];
  private check() {
    if (this.down) throw new Error('connect ECONNREFUSED /var/run/docker.sock');
  }
  async status() {
    this.check();
    return { state: this.state, node_id: this.state === 'active' ? 'n0' : null, node_addr: null, manager: this.state === 'active' };
  }
  async init() {
    this.check();
    this.inits++;
    this.state = 'active';
    this.nodeList = [{ id: 'n0', hostname: 'node0', addr: '10.0.0.2', role: 'manager', leader: true, manager_addr: '10.0.0.2:2377', availability: 'active', state: 'ready', engine_version: '20.10.24', labels: {}, cpus: 2, memory_bytes: 2 ** 31, version: 1 }];
    return 'n0';
  }
  async joinTokens() {
    return { worker: 'w', manager: 'm' };
  }
  async nodes() {
    this.check();
    return this.nodeList;
  }
  async node(id: string) {
    this.check();
    return this.nodeList.find((n) => n.id === id) ?? null;
  }
  async updateNode(id: string, change: { availability?: NodeAvailability; labels?: Record<string, string> }) {
    this.check();
    const n = this.nodeList.find((x) => x.id === id);
    if (!n) throw new SwarmRefused(404, `node ${id} not found`);
    Object.assign(n, change.availability ? { availability: change.availability } : {}, change.labels ? { labels: change.labels } : {});
  }
  async removeNode(id: string) {
    this.check();
    throw new SwarmRefused(400, `rpc error: node ${id} is not down and can't be removed`);
  }
  async tasks() {
    return [];
  }
}

test('node controller: intent first, applied when the engine answers, adopted when already done, refusals recorded', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-nodes-'));
  const store = await openStore({ dataDir: dir, databaseUrl: null });
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const swarm = new FakeSwarm();
  const ctl = new NodeController({ db: store.db, log: pino({ level: 'silent' }), cluster: swarm, events: new Events(store.db), apps: { nudge: () => {} } });

  // No cluster row: the pass makes no engine call at all.
  swarm.down = true;
  await ctl.reconcile();

  // Asked while the engine is down: the row waits, the pass fails, nothing is lost.
  await requestCluster(store.db, null);
  await assert.rejects(ctl.reconcile(), /ECONNREFUSED/);
  assert.equal((await clusterRow(store.db))?.status, 'initializing');
  swarm.down = false;
  await ctl.reconcile();
  assert.deepEqual([(await clusterRow(store.db))?.status, swarm.inits], ['active', 1]);

  // A control plane killed between the engine's init and its own write: the next pass adopts the swarm.
  await requestCluster(store.db, null);
  await ctl.reconcile();
  assert.deepEqual([(await clusterRow(store.db))?.status, (await clusterRow(store.db))?.swarm_node_id, swarm.inits], ['active', 'n0', 1]);

  // A node change written while the engine is down is applied on a later pass.
  // Two changes asked while it is down both apply.
  swarm.down = true;
  await requestNodeChange(store.db, 'n0', { availability: 'pause' });
  await requestNodeChange(store.db, 'n0', { labels: { tier: 'web' } });
  await assert.rejects(ctl.reconcile());
  assert.equal((await nodeChange(store.db, 'n0'))?.status, 'pending');
  swarm.down = false;
  await ctl.reconcile();
  assert.equal((await nodeChange(store.db, 'n0'))?.status, 'done');
  assert.deepEqual([swarm.nodeList[0]!.labels, swarm.nodeList[0]!.availability], [{ tier: 'web' }, 'pause']);

  // The engine's refusal is recorded with its reason, and not retried.
  await requestNodeChange(store.db, 'n0', { remove: true });
  await ctl.reconcile();
  const refused = await nodeChange(store.db, 'n0');
  assert.equal(refused?.status, 'failed');
  assert.match(refused?.message ?? '', /is not down/);
});

test('node controller: a drain pauses the node, restarts each app with a replica there once, and drains once none is left', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-nodes-'));
  const store = await openStore({ dataDir: dir, databaseUrl: null });
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const db = store.db;
  const swarm = new FakeSwarm();
  const nudged: (string | undefined)[] = [];
  const ctl = new NodeController({ db, log: pino({ level: 'silent' }), cluster: swarm, events: new Events(db), apps: { nudge: (id) => nudged.push(id) } });
  await requestCluster(db, null);
  await ctl.reconcile();
  swarm.nodeList.push({ ...swarm.nodeList[0]!, id: 'n1', hostname: 'node1', role: 'worker', leader: false, manager_addr: null });

  const user = await createUser(db, { username: 'admin', passwordHash: 'x', isAdmin: true });
  const projectId = await createProject(db, user.id, 'default');
  const ts = now();
  const app = { id: 'app_1', project_id: projectId, name: 'web', slug: 'web', image: null, replicas: 2, memory_mb: 256, cpu: 0, port: 8080, strategy: 'rolling' as const, health_check: { path: '/', timeout_s: 60, grace_s: 0 }, env: {}, release_id: 'rel_1', live_release_id: 'rel_1', stopped: 0, restart_seq: 0, auto_deploy: 1, created_at: ts, updated_at: ts };
  await insertApp(db, app);
  await db.insertInto('releases').values({ id: 'rel_1', app_id: 'app_1', version: 1, image: 'img', config: '{}', status: 'live', reason: null, description: '', build_id: null, created_by: null, created_at: ts, updated_at: ts }).execute();
  const row = (id: string, replica: number, node: string) => ({ id, app_id: 'app_1', release_id: 'rel_1', replica, gen: 0, name: id, docker_id: id, node, address: null, port: 8080, status: 'healthy' as const, in_rotation: 1, message: null, process_type: 'web', created_at: ts, updated_at: ts });
  await insertContainer(db, row('ctr_a', 0, 'node0'));
  await insertContainer(db, row('ctr_b', 1, 'node1'));

  // First pass: paused (Swarm puts nothing new there), the app restarted to move its replica, the drain still pending.
  await requestNodeChange(db, 'n1', { availability: 'drain' });
  await ctl.reconcile();
  assert.equal(swarm.nodeList[1]!.availability, 'pause');
  assert.equal((await nodeChange(db, 'n1'))?.status, 'pending');
  assert.equal((await appById(db, 'app_1'))?.restart_seq, 1);
  assert.deepEqual(nudged, ['app_1']);
  // While the replacement runs, another pass does not restart the app again.
  await ctl.reconcile();
  assert.equal((await appById(db, 'app_1'))?.restart_seq, 1);
  // The old replica gone from the node: Swarm's drain follows and the change is done.
  await deleteContainer(db, 'ctr_b');
  await ctl.reconcile();
  assert.equal(swarm.nodeList[1]!.availability, 'drain');
  assert.equal((await nodeChange(db, 'n1'))?.status, 'done');
  assert.equal(swarm.nodeList[0]!.availability, 'active');
});
