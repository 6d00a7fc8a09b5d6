import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { openStore } from '../../src/store/db.js';
import { clusterRow, nodeChange, requestCluster, requestNodeChange } from '../../src/store/cluster.js';
import { NodeController } from '../../src/controllers/nodes.js';
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
  const ctl = new NodeController({ db: store.db, log: pino({ level: 'silent' }), cluster: swarm });

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
