import { test } from 'node:test';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { CLI_MAIN, startServer } from '../support/server.js';
import { BASE_IMAGE, ensureTestAppImage } from '../support/images.js';
import { assertNoDrops, startLoad, viaRouter, withLoad } from '../support/load.js';
import { run } from '../../src/lib/exec.js';
import { healthy, settled } from '../support/rollout.js';
import { waitFor } from '../support/wait.js';
import { loadImage, startNodes, type DindNode } from './nodes-harness.js';

// Apps in cluster mode on a real 3-node Swarm: each replica is a one-task service on the project's
// overlay, spread over the nodes by Swarm, and the host's HAProxy reaches every one of them through
// the overlay anchor's network namespace (docs/cluster.md). The image is loaded into every node
// (no registry here: Berth's own is another piece of work).

test('cluster mode: 6 replicas over the nodes, all through the router; scale; rolling deploy under load; placement; a worker killed', async (t) => {
  const cluster = await startNodes(3);
  t.after(() => cluster.destroy());
  const [manager, w1, w2] = cluster.nodes as [DindNode, DindNode, DindNode];
  const image = await ensureTestAppImage(new DockerRuntime());
  await Promise.all([...cluster.nodes.map((n) => loadImage(n, image)), loadImage(manager, BASE_IMAGE)]);

  const s = await startServer({ env: { DOCKER_HOST: manager.dockerHost, BERTH_CLUSTER: '1' } });
  t.after(() => s.destroy());
  const admin = s.admin;
  await admin.call('initCluster', { body: {} });
  const joinCmd = await admin.call('getJoinCommand', {});
  for (const w of [w1, w2]) assert.equal((await w.docker(['swarm', 'join', '--token', joinCmd.token, joinCmd.manager_addr], 60_000)).code, 0);
  await waitFor('3 ready nodes', async () => (await admin.call('listNodes', {})).items.filter((n) => n.state === 'ready').length === 3, { timeoutMs: 60_000, intervalMs: 500 });

  await admin.call('createProject', { body: { name: 'web' } });
  const app = await admin.call('createApp', { body: { name: 'spread', project: 'web', health_check: { path: '/health', timeout_s: 90, grace_s: 0 } } });
  const get = () => viaRouter(s.routerPort, 'spread.localhost');
  /** Distinct replicas answering through the router within `tries` requests. */
  const answering = async (tries: number) => {
    const seen = new Set<string>();
    for (let i = 0; i < tries; i++) {
      const r = await get();
      assert.equal(r.status, 200, r.body);
      seen.add(JSON.parse(r.body).hostname);
    }
    return seen;
  };
  const replicasByNode = async () => {
    const out: Record<string, number> = {};
    for (const n of (await admin.call('listNodes', {})).items) out[n.hostname] = n.replicas.filter((r) => r.app === app.id && r.state === 'running').length;
    return out;
  };
  const services = async () => (await manager.docker(['service', 'ls', '-q', '--filter', `label=berth.app=${app.id}`])).stdout.split('\n').filter(Boolean);

  // Six replicas: live, spread over at least two nodes, every one answering through the host's router.
  const t0 = Date.now();
  await admin.call('deployApp', { params: { id: 'spread' }, body: { image_id: image, replicas: 6 } });
  const v1 = await settled(admin, 'spread', 1, 300_000);
  assert.equal(v1.status, 'live', v1.reason ?? '');
  await healthy(admin, 'spread', 6, { timeoutMs: 120_000 });
  const spread = await replicasByNode();
  t.diagnostic(`6 replicas live and in rotation ${Date.now() - t0} ms after the deploy call; by node: ${JSON.stringify(spread)}`);
  assert.equal(Object.values(spread).reduce((a, b) => a + b, 0), 6, JSON.stringify(spread));
  assert.ok(Object.values(spread).filter((n) => n > 0).length >= 2, `replicas on one node only: ${JSON.stringify(spread)}`);
  assert.equal((await answering(60)).size, 6, 'not every replica answered through the router');
  assert.equal((await services()).length, 6);
  // Each replica says which node it runs on, as the nodes list does; the logs come from every node.
  const rows = (await admin.call('listContainers', { query: { app: 'spread' } })).items;
  const rowNodes: Record<string, number> = {};
  for (const r of rows) rowNodes[r.node] = (rowNodes[r.node] ?? 0) + 1;
  assert.deepEqual(rowNodes, Object.fromEntries(Object.entries(spread).filter(([, n]) => n > 0)));
  const logs = (await admin.call('appLogs', { params: { id: 'spread' }, query: { tail: 10000 } })).lines;
  assert.equal(new Set(logs.filter((l) => /listening on 8080/.test(l.line)).map((l) => l.container)).size, 6, JSON.stringify(logs.slice(0, 20)));

  // A replica's service is hardened like a container: non-root, no capabilities, limits, no published port.
  const svc = JSON.parse((await manager.docker(['service', 'inspect', (await services())[0]!])).stdout)[0];
  const cs = svc.Spec.TaskTemplate.ContainerSpec;
  assert.ok(cs.User && !/^(root|0)(:|$)/.test(cs.User), `user ${cs.User}`);
  assert.deepEqual(cs.CapabilityDrop, ['ALL']);
  assert.equal(svc.Spec.TaskTemplate.Resources.Limits.MemoryBytes, 512 * 1024 * 1024);
  assert.ok(svc.Spec.TaskTemplate.Resources.Limits.Pids > 0);
  assert.equal(svc.Spec.EndpointSpec.Mode, 'dnsrr');
  assert.deepEqual(svc.Endpoint?.Ports ?? [], []);

  // Scale down and up: the router follows.
  await admin.call('scaleApp', { params: { id: 'spread' }, body: { replicas: 3 } });
  await healthy(admin, 'spread', 3, { timeoutMs: 120_000 });
  await waitFor('3 services', async () => (await services()).length === 3, { timeoutMs: 60_000, intervalMs: 500 });
  assert.equal((await answering(30)).size, 3);
  await admin.call('scaleApp', { params: { id: 'spread' }, body: { replicas: 4 } });
  await healthy(admin, 'spread', 4, { timeoutMs: 120_000 });
  assert.equal((await answering(40)).size, 4);

  // A rolling deploy (a config var makes v2) under load: every request answered.
  const result = await withLoad({ port: s.routerPort, host: 'spread.localhost', concurrency: 4 }, async () => {
    await admin.call('setEnv', { params: { id: 'spread' }, body: { set: { COLOR: 'blue' } } });
    const v2 = await settled(admin, 'spread', 2, 300_000);
    assert.equal(v2.status, 'live', v2.reason ?? '');
    await healthy(admin, 'spread', 4, { release: 2, timeoutMs: 120_000 });
  });
  assertNoDrops(result, 'rolling deploy across nodes');
  assert.ok(result.sent > 0);
  t.diagnostic(`rolling deploy of 4 replicas across nodes: ${result.sent} requests, ${result.failed} failed`);
  assert.equal(JSON.parse((await get()).body).env.COLOR, 'blue');

  // The anchor restarts (as with an engine restart on the manager): a new namespace, bound again,
  // and the router reloads into it on its own.
  const anchor = `berth-anchor-${s.instance}`;
  const netns = () => statSync(`/var/run/netns/berth-${s.instance}`).ino;
  const boundBefore = netns();
  const restartedAt = Date.now();
  const restarted = await manager.docker(['restart', '-t', '0', anchor]);
  // Seen once (in an earlier run, its words not kept): the engine refused the restart. What counts is
  // what follows: a new namespace bound and every replica reached through it.
  if (restarted.code !== 0) t.diagnostic(`docker restart of the anchor: ${restarted.stderr.trim()}`);
  await waitFor('the replicas answering through the restarted anchor', async () => {
    try {
      return netns() !== boundBefore && (await answering(40)).size === 4;
    } catch {
      return false;
    }
  }, { timeoutMs: 60_000, intervalMs: 250 });
  t.diagnostic(`anchor restarted: every replica answered through the router again ${Date.now() - restartedAt} ms after the restart began`);

  // Placement: a bad constraint is a 400 naming the field; a node label pins the next release's replicas.
  const bad = await admin.call('updateApp', { params: { id: 'spread' }, body: { placement: { constraints: ['node.labels.tier=web'] } } }).then(
    () => assert.fail('a constraint without == or != was accepted'),
    (err: ApiError) => err,
  );
  assert.equal(bad.status, 400);
  assert.match(String((bad.details as { field?: string }).field), /^placement\.constraints/);
  await admin.call('setNodeLabels', { params: { id: 'node1' }, body: { labels: { tier: 'web' } } });
  // Through the CLI, as an operator would.
  const home = mkdtempSync(join(tmpdir(), 'berth-cli-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const placedBy = await run(process.execPath, [CLI_MAIN, 'apps', 'update', 'spread', '--constraint', 'node.labels.tier==web', '--json'], {
    timeoutMs: 60_000,
    env: { ...process.env, BERTH_CONFIG: join(home, 'config.json'), BERTH_URL: s.url, BERTH_TOKEN: admin.opts.token },
  });
  assert.equal(placedBy.code, 0, placedBy.stderr);
  assert.deepEqual(JSON.parse(placedBy.stdout).placement, { constraints: ['node.labels.tier==web'] });
  await admin.call('setEnv', { params: { id: 'spread' }, body: { set: { COLOR: 'green' } } });
  assert.equal((await settled(admin, 'spread', 3, 300_000)).status, 'live');
  await healthy(admin, 'spread', 4, { release: 3, timeoutMs: 120_000 });
  await waitFor('every replica on node1', async () => {
    const by = await replicasByNode();
    return by.node1 === 4 && by.node0 === 0 && by.node2 === 0;
  }, { timeoutMs: 60_000, intervalMs: 500 });
  assert.equal((await answering(40)).size, 4);

  // A placement no node meets: the release fails naming why, and the app keeps serving the last one.
  await admin.call('updateApp', { params: { id: 'spread' }, body: { placement: { constraints: ['node.labels.tier==db'] } } });
  await admin.call('setEnv', { params: { id: 'spread' }, body: { set: { COLOR: 'red' } } });
  const v4 = await settled(admin, 'spread', 4, 300_000);
  assert.equal(v4.status, 'failed');
  assert.match(v4.reason ?? '', /node\.labels\.tier==db/);
  assert.match(v4.reason ?? '', /no suitable node/);
  assert.equal(JSON.parse((await get()).body).env.COLOR, 'green');
  await healthy(admin, 'spread', 4, { release: 3, timeoutMs: 120_000 });

  // A worker dies under load: its replicas' tasks start on the other nodes, are checked and put back
  // in rotation. Measured, with the requests that failed meanwhile (those on the dead node).
  await admin.call('updateApp', { params: { id: 'spread' }, body: { placement: null } });
  await admin.call('scaleApp', { params: { id: 'spread' }, body: { replicas: 6 } });
  await admin.call('setEnv', { params: { id: 'spread' }, body: { set: { COLOR: 'any' } } });
  assert.equal((await settled(admin, 'spread', 5, 300_000)).status, 'live');
  await healthy(admin, 'spread', 6, { release: 5, timeoutMs: 120_000 });
  const before = await replicasByNode();
  const [victimHost, lost] = Object.entries(before).filter(([h]) => h !== 'node0').sort((a, b) => b[1] - a[1])[0]!;
  assert.ok(lost > 0, `no replica on a worker: ${JSON.stringify(before)}`);
  const victim = cluster.nodes[Number(victimHost.slice(4))]!;
  const addressesBefore = (await admin.call('listContainers', { query: { app: 'spread' } })).items.map((c) => c.address);
  const load = startLoad({ port: s.routerPort, host: 'spread.localhost', concurrency: 4 });
  const killedAt = Date.now();
  let berthSaysBackMs: number | null = null;
  assert.equal((await run('docker', ['kill', victim.name], { timeoutMs: 60_000 })).code, 0);
  // Serving again = what a user sees: every replica answering through the router. (In one run, 60
  // requests right after the API showed all 6 in rotation reached only 5 of them.)
  await waitFor('every replica serving again on the nodes left', async () => {
    const by = await replicasByNode();
    const items = (await admin.call('listContainers', { query: { app: 'spread' } })).items;
    const placed = by[victimHost] === 0 && Object.values(by).reduce((a, b) => a + b, 0) === 6;
    if (!placed || items.length !== 6 || !items.every((c) => c.status === 'healthy' && c.in_rotation)) return false;
    berthSaysBackMs ??= Date.now() - killedAt;
    return (await answering(30).catch(() => new Set())).size === 6;
  }, { timeoutMs: 180_000, intervalMs: 250 });
  const backMs = Date.now() - killedAt;
  const during = await load.stop();
  t.diagnostic(`${victimHost} killed with ${lost} of 6 replicas: the API showed all 6 healthy in rotation after ${berthSaysBackMs} ms, all 6 answered through the router after ${backMs} ms; ${during.failed} of ${during.sent} requests failed meanwhile`);
  const addressesAfter = (await admin.call('listContainers', { query: { app: 'spread' } })).items.map((c) => c.address);
  t.diagnostic(`replica addresses before ${JSON.stringify(addressesBefore.sort())}, after ${JSON.stringify(addressesAfter.sort())}`);
});
