import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { DockerSwarm } from '../../src/runtime/swarm/docker-swarm.js';
import { SwarmServices } from '../../src/runtime/swarm/services.js';
import { ensureTestAppImage } from '../support/images.js';
import { waitFor } from '../support/wait.js';
import { loadImage, startNodes, type DindNode } from './nodes-harness.js';

// The Swarm building blocks of running apps across nodes, on a real 3-node Swarm: a project's
// attachable overlay, a dnsrr service spread over nodes, its tasks' overlay addresses (what the
// router will be given: no IPVS here, so no VIP and no routing mesh), and isolation between projects.

/** From a throwaway container on `node`, attached to `network`: each address's answer, and what the name resolves to. */
async function probe(node: DindNode, image: string, network: string, name: string, addresses: string[]) {
  const script = `(async () => {
    const out = {};
    for (const a of process.argv.slice(1)) {
      try {
        const r = await fetch('http://' + a + ':8080/', { signal: AbortSignal.timeout(3000) });
        out[a] = (await r.json()).hostname;
      } catch (e) { out[a] = 'unreachable'; }
    }
    const dns = await require('node:dns').promises.lookup(${JSON.stringify(name)}, { all: true })
      .then((x) => x.map((y) => y.address).sort(), (e) => e.code);
    console.log(JSON.stringify({ out, dns }));
  })()`;
  const r = await node.docker(['run', '--rm', '--network', network, image, 'node', '-e', script, ...addresses], 120_000);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { out: Record<string, string>; dns: string[] | string };
}

test('overlay per project, dnsrr service over nodes, task addresses reachable in the project and not from another; placement constraints', async (t) => {
  const cluster = await startNodes(3);
  t.after(() => cluster.destroy());
  const [manager, w1, w2] = cluster.nodes as [DindNode, DindNode, DindNode];
  const image = await ensureTestAppImage(new DockerRuntime());
  await Promise.all(cluster.nodes.map((n) => loadImage(n, image)));

  const swarm = new DockerSwarm({ dockerHost: manager.dockerHost });
  await swarm.init(null);
  const { worker } = await swarm.joinTokens();
  for (const w of [w1, w2]) assert.equal((await w.docker(['swarm', 'join', '--token', worker, `${manager.ip}:2377`])).code, 0);
  await waitFor('3 ready nodes', async () => (await swarm.nodes()).filter((n) => n.state === 'ready').length === 3, { timeoutMs: 60_000, intervalMs: 500 });

  const services = new SwarmServices({ dockerHost: manager.dockerHost });
  await services.ensureOverlay('berth-p1', { 'berth.project': 'p1' });
  await services.ensureOverlay('berth-p1', { 'berth.project': 'p1' }); // again: no second network
  await services.ensureOverlay('berth-p2', { 'berth.project': 'p2' });
  assert.equal((await manager.docker(['network', 'ls', '-q', '--filter', 'name=berth-p1'])).stdout.trim().split('\n').length, 1);

  const web = await services.createService({ name: 'web', image, replicas: 4, network: 'berth-p1', labels: { 'berth.app': 'web' }, reservations: { memoryBytes: 32 * 1024 ** 2 } });
  const tasks = await waitFor('4 running tasks with overlay addresses', async () => {
    const list = await services.tasks(web);
    return list.length === 4 && list.every((x) => x.state === 'running' && x.addresses.length === 1) && list;
  }, { timeoutMs: 120_000, intervalMs: 500 });
  const nodesUsed = new Set(tasks.map((x) => x.node_id));
  assert.ok(nodesUsed.size >= 2, `replicas on ${nodesUsed.size} node(s)`);
  const addresses = tasks.map((x) => x.addresses[0]!).sort();

  // In the project, from a node: every task answers at its overlay address; the name resolves to all of them.
  const inside = await probe(w2, image, 'berth-p1', 'web', addresses);
  assert.deepEqual(Object.keys(inside.out).sort(), addresses);
  for (const a of addresses) assert.notEqual(inside.out[a], 'unreachable', `task ${a} from the project's network`);
  assert.equal(new Set(Object.values(inside.out)).size, 4, 'four different replicas answered');
  assert.deepEqual(inside.dns, addresses);

  // From another project's overlay, on any node: no answer and no name.
  for (const n of [manager, w1]) {
    const outside = await probe(n, image, 'berth-p2', 'web', addresses);
    for (const a of addresses) assert.equal(outside.out[a], 'unreachable', `task ${a} from another project on ${n.name}`);
    assert.equal(outside.dns, 'ENOTFOUND');
  }

  // Placement: a label constraint keeps every replica on the labelled node; one no node satisfies
  // leaves the replica pending with the scheduler's reason naming the constraints.
  const w1Id = (await swarm.nodes()).find((n) => n.addr === w1.ip)!.id;
  await swarm.updateNode(w1Id, { labels: { tier: 'web' } });
  const pinned = await services.createService({ name: 'pinned', image, replicas: 3, network: 'berth-p1', labels: { 'berth.app': 'pinned' }, constraints: ['node.labels.tier==web'] });
  const placed = await waitFor('3 pinned replicas running', async () => {
    const list = await services.tasks(pinned);
    return list.length === 3 && list.every((x) => x.state === 'running') && list;
  }, { timeoutMs: 120_000, intervalMs: 500 });
  assert.deepEqual([...new Set(placed.map((x) => x.node_id))], [w1Id]);
  const nowhere = await services.createService({ name: 'nowhere', image, replicas: 1, network: 'berth-p1', labels: { 'berth.app': 'nowhere' }, constraints: ['node.labels.tier==db'] });
  const stuck = await waitFor('the unplaceable replica explained', async () => {
    const list = await services.tasks(nowhere);
    return list.length === 1 && list[0]!.error !== null && list[0]!;
  }, { timeoutMs: 60_000, intervalMs: 500 });
  assert.equal(stuck.state, 'pending');
  assert.match(stuck.error!, /no suitable node \(scheduling constraints not satisfied/);
  await services.removeService(nowhere);
  // Swarm shuts a removed service's tasks down asynchronously.
  await waitFor('the removed service without tasks', async () => (await services.tasks(nowhere)).length === 0, { timeoutMs: 30_000, intervalMs: 250 });
});
