import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DockerRuntime } from '../../src/runtime/docker.js';
import type { TestServer } from '../support/server.js';
import { BASE_IMAGE, ensureTestAppImage } from '../support/images.js';
import { assertNoDrops, viaRouter, withLoad } from '../support/load.js';
import { healthy, settled } from '../support/rollout.js';
import { waitFor } from '../support/wait.js';
import { loadImage, startClusterServer, startNodes, type DindCluster, type DindNode } from './nodes-harness.js';

// Moving replicas in cluster mode without the user seeing it: a node drained under load, and the
// control plane killed in the middle of a rolling deploy across nodes (docs/cluster.md). Same
// 3-node Swarm as apps.test.ts, started by the test.

describe('cluster mode: drain and kill -9', () => {
  let cluster: DindCluster;
  let manager: DindNode;
  let s: TestServer;
  let image: string;

  before(async () => {
    cluster = await startNodes(3);
    manager = cluster.nodes[0]!;
    image = await ensureTestAppImage(new DockerRuntime());
    // On the manager only: the workers pull each release from Berth's registry. (The overlay anchor
    // runs the base image, which scripts/up.sh builds on a real manager.)
    await Promise.all([loadImage(manager, image), loadImage(manager, BASE_IMAGE)]);
    s = await startClusterServer(cluster);
    await s.admin.call('createProject', { body: { name: 'moves' } });
  });
  after(async () => {
    await s?.destroy();
    await cluster?.destroy();
  });

  const appId = async (slug: string) => (await s.admin.call('getApp', { params: { id: slug } })).id;
  const replicasByNode = async (id: string) => {
    const out: Record<string, number> = {};
    for (const n of (await s.admin.call('listNodes', {})).items) out[n.hostname] = n.replicas.filter((r) => r.app === id && r.state === 'running').length;
    return out;
  };
  const services = async (id: string) => (await manager.docker(['service', 'ls', '-q', '--filter', `label=berth.app=${id}`])).stdout.split('\n').filter(Boolean);
  /** Distinct replicas answering through the router within `tries` requests. */
  const answering = async (slug: string, tries: number) => {
    const seen = new Set<string>();
    for (let i = 0; i < tries; i++) {
      const r = await viaRouter(s.routerPort, `${slug}.localhost`);
      assert.equal(r.status, 200, r.body);
      seen.add(JSON.parse(r.body).hostname);
    }
    return seen;
  };

  test('a worker drained under load: its replicas move to the other nodes, no request fails', async (t) => {
    // No CPU limit (admins only): Swarm reserves a replica's limit, and 6 replicas of the default 1 core would not fit on the nodes left after a drain.
    await s.admin.call('createApp', { body: { name: 'drained', project: 'moves', health_check: { path: '/health', timeout_s: 90, grace_s: 0 }, cpu: 0 } });
    await s.admin.call('deployApp', { params: { id: 'drained' }, body: { image_id: image, replicas: 6 } });
    assert.equal((await settled(s.admin, 'drained', 1, 300_000)).status, 'live');
    await healthy(s.admin, 'drained', 6, { timeoutMs: 120_000 });
    const id = await appId('drained');
    const before = await replicasByNode(id);
    const [victim, moving] = Object.entries(before).filter(([h]) => h !== 'node0').sort((a, b) => b[1] - a[1])[0]!;
    assert.ok(moving > 0, `no replica on a worker: ${JSON.stringify(before)}`);

    const t0 = Date.now();
    const result = await withLoad({ port: s.routerPort, host: 'drained.localhost', concurrency: 4 }, async () => {
      // Berth moves the replicas first: the API says so (Swarm has the node paused meanwhile).
      const answer = await s.admin.call('drainNode', { params: { id: victim } });
      assert.equal(answer.availability, 'draining');
      assert.equal(answer.last_change?.status, 'pending');
      await waitFor(`every replica off ${victim}, healthy and in rotation`, async () => {
        const by = await replicasByNode(id);
        const items = (await s.admin.call('listContainers', { query: { app: 'drained' } })).items;
        return by[victim] === 0 && Object.values(by).reduce((a, b) => a + b, 0) === 6 && items.length === 6 && items.every((c) => c.status === 'healthy' && c.in_rotation);
      }, { timeoutMs: 180_000, intervalMs: 250 });
    });
    t.diagnostic(`${victim} drained with ${moving} of 6 replicas: all 6 elsewhere, healthy and in rotation after ${Date.now() - t0} ms; ${result.failed} of ${result.sent} requests failed${result.failed ? `: ${result.failures.slice(0, 8).join('; ')}` : ''}`);
    // Swarm's own drain follows once Berth has moved every replica (the node controller's next pass).
    await waitFor(`${victim} drained in Swarm`, async () => (await s.admin.call('getNode', { params: { id: victim } })).availability === 'drain', { timeoutMs: 30_000, intervalMs: 500 });
    // Berth moved them (each replacement in rotation before the old one left it), not Swarm.
    const moved = (await s.admin.call('listEvents', { query: { app: 'drained' } })).items.filter((e) => e.kind === 'app.restarting');
    assert.equal(moved.length, 1, JSON.stringify(moved));
    assert.match(moved[0]!.message, new RegExp(`off node ${victim}`));
    assert.equal((await answering('drained', 60)).size, 6, 'not every replica answered through the router');
    await waitFor('6 services', async () => (await services(id)).length === 6, { timeoutMs: 60_000, intervalMs: 500 });
    assertNoDrops(result, `drain of ${victim}`);
    assert.ok(result.sent > 0);
    await s.admin.call('activateNode', { params: { id: victim } });
  });

  test('kill -9 of the control plane mid-rollout across nodes: the release goes live, no orphan service, the app answers', async (t) => {
    await s.admin.call('createApp', { body: { name: 'killed', project: 'moves', health_check: { path: '/health', timeout_s: 90, grace_s: 2 }, cpu: 0 } });
    await s.admin.call('deployApp', { params: { id: 'killed' }, body: { image_id: image, replicas: 3 } });
    assert.equal((await settled(s.admin, 'killed', 1, 300_000)).status, 'live');
    await healthy(s.admin, 'killed', 3, { timeoutMs: 120_000 });
    const id = await appId('killed');

    await s.admin.call('setEnv', { params: { id: 'killed' }, body: { set: { COLOR: 'blue' } } });
    await waitFor('a v2 replica started while v1 still serves', async () => {
      const items = (await s.admin.call('listContainers', { query: { app: 'killed' } })).items;
      return items.some((c) => c.release === 2) && items.filter((c) => c.release === 1).length === 3;
    }, { timeoutMs: 120_000, intervalMs: 50 });
    assert.equal((await s.admin.call('getRelease', { params: { id: 'killed', version: 2 } })).status, 'deploying');
    await s.kill();
    await s.start();

    const v2 = await settled(s.admin, 'killed', 2, 300_000);
    assert.equal(v2.status, 'live', v2.reason ?? '');
    const items = await healthy(s.admin, 'killed', 3, { release: 2, timeoutMs: 120_000 });
    assert.deepEqual(items.map((c) => c.replica).sort(), [0, 1, 2], 'one replica per index');
    // Retired replicas' services are scaled to 0, then removed once Swarm reaped their tasks.
    await waitFor('exactly 3 services for the app on the manager', async () => (await services(id)).length === 3, { timeoutMs: 90_000, intervalMs: 500 }).catch(async (err) => {
      throw new Error(`${(err as Error).message}: ${(await manager.docker(['service', 'ls', '--filter', `label=berth.app=${id}`])).stdout}`);
    });
    const by = await replicasByNode(id);
    assert.equal(Object.values(by).reduce((a, b) => a + b, 0), 3, JSON.stringify(by));
    const seen = await answering('killed', 30);
    assert.equal(seen.size, 3);
    assert.equal(JSON.parse((await viaRouter(s.routerPort, 'killed.localhost')).body).env.COLOR, 'blue');
    t.diagnostic(`after the kill and restart: v2 live, replicas by node ${JSON.stringify(by)}`);
  });
});
