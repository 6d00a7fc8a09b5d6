import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/lib/exec.js';
import { ApiError } from '../../src/client/index.js';
import { CLI_MAIN, freePort, raw, startServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';
import { BASE_IMAGE } from '../support/images.js';
import { clusterEnv, loadImage, startNodes } from './nodes-harness.js';

// Cluster mode against a real Swarm: three Docker-in-Docker nodes (one becomes the manager through
// Berth's API, two join with the command Berth prints). The control plane's DOCKER_HOST is the
// manager node's engine; the host engine's Swarm state is never touched.

async function refusal(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  assert.fail('expected the API to refuse');
}

test('cluster init, join, nodes: list, label, drain, activate, remove (3 real Swarm nodes)', async (t) => {
  const cluster = await startNodes(3);
  t.after(() => cluster.destroy());
  const [manager, w1, w2] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]];
  const s = await startServer({ env: clusterEnv(cluster, await freePort()) });
  t.after(() => s.destroy());
  const admin = s.admin;
  const bob = await s.newUser('bob');

  // Single-node until an admin asks: no cluster, no nodes; other users see no such routes.
  assert.deepEqual(await admin.call('getCluster', {}), { status: 'none', message: null, advertise_addr: null, node_id: null, enabled: true });
  assert.equal((await refusal(admin.call('listNodes', {}))).status, 409);
  for (const [method, path] of [['GET', '/api/v1/nodes'], ['POST', '/api/v1/cluster/init'], ['GET', '/api/v1/cluster/join'], ['POST', '/api/v1/nodes/node1/drain']] as const) {
    const r = await raw(s, method, path, { token: bob.opts.token, ...(method === 'POST' ? { body: '{}' } : {}) });
    assert.equal(r.status, 404, `${method} ${path} as a non-admin`);
    assert.match(r.json.error.message, /no route/);
  }
  assert.equal((await manager.docker(['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim(), 'inactive');

  // A wrong advertise address: a 400 naming the field, and no swarm made.
  const bad = await refusal(admin.call('initCluster', { body: { advertise_addr: 'no-such-interface0' } }));
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.details, { field: 'advertise_addr' });
  assert.equal((await admin.call('getCluster', {})).status, 'failed');
  assert.equal((await manager.docker(['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim(), 'inactive');

  // Init through the CLI; the engine picks the node's one address.
  const home = mkdtempSync(join(tmpdir(), 'berth-cli-'));
  const cli = async (...args: string[]) => {
    const r = await run(process.execPath, [CLI_MAIN, ...args, '--json'], {
      timeoutMs: 60_000,
      env: { ...process.env, BERTH_CONFIG: join(home, 'config.json'), BERTH_URL: s.url, BERTH_TOKEN: admin.opts.token },
    });
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const init = await cli('cluster', 'init');
  assert.equal(init.status, 'active');
  assert.equal((await manager.docker(['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'])).stdout.trim(), 'active true');
  // Asking again changes nothing.
  assert.equal((await admin.call('initCluster', { body: {} })).node_id, init.node_id);

  const join1 = await cli('cluster', 'join-command');
  assert.equal(join1.manager_addr, `${manager.ip}:2377`);
  assert.match(join1.token, /^SWMTKN-1-/);
  // The trust step for Berth's registry (test/cluster/registry.test.ts), then the join.
  assert.equal(join1.command, `${join1.trust_command} && docker swarm join --token ${join1.token} ${manager.ip}:2377`);
  const asManager = await admin.call('getJoinCommand', { query: { role: 'manager' } });
  assert.notEqual(asManager.token, join1.token);

  // A wrong token is refused by the manager; the printed command joins.
  const wrong = await w1.docker(['swarm', 'join', '--token', `${join1.token.slice(0, -4)}abcd`, join1.manager_addr], 60_000);
  assert.notEqual(wrong.code, 0);
  for (const w of [w1, w2]) {
    const joined = await w.docker(['swarm', 'join', '--token', join1.token, join1.manager_addr], 60_000);
    assert.equal(joined.code, 0, joined.stderr);
  }

  const nodes = await waitFor('three ready nodes', async () => {
    const list = (await admin.call('listNodes', {})).items;
    return list.length === 3 && list.every((n) => n.state === 'ready') && list;
  }, { timeoutMs: 60_000, intervalMs: 500 });
  assert.deepEqual(nodes.map((n) => n.hostname), ['node0', 'node1', 'node2']);
  const [m, n1, n2] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0]];
  assert.equal(m.role, 'manager');
  assert.equal(m.leader, true);
  assert.equal(m.id, init.node_id);
  assert.deepEqual([n1.role, n2.role], ['worker', 'worker']);
  assert.deepEqual(n1.addresses, [w1.ip]);
  assert.ok(m.addresses.includes(manager.ip));
  for (const n of nodes) {
    assert.equal(n.availability, 'active');
    assert.match(n.engine_version, /^20\.10\./);
    assert.ok(n.capacity.cpus >= 1 && n.capacity.memory_bytes > 1024 ** 3, JSON.stringify(n.capacity));
  }
  // By hostname or id, through the CLI too.
  assert.equal((await cli('nodes', 'info', 'node1')).id, n1.id);
  assert.equal((await admin.call('getNode', { params: { id: n2.id } })).hostname, 'node2');
  assert.equal((await refusal(admin.call('getNode', { params: { id: 'nosuchnode' } }))).status, 404);

  // Labels: replaced as a set, seen by the engine; a bad key is a 400 naming the field.
  const labelled = await cli('nodes', 'label', 'node1', 'tier=web', 'zone=a');
  assert.deepEqual(labelled.labels, { tier: 'web', zone: 'a' });
  assert.equal((await manager.docker(['node', 'inspect', '-f', '{{json .Spec.Labels}}', n1.id])).stdout.trim(), '{"tier":"web","zone":"a"}');
  const badLabel = await raw(s, 'PUT', `/api/v1/nodes/${n1.id}/labels`, { token: admin.opts.token, body: JSON.stringify({ labels: { 'bad key!': 'x' } }) });
  assert.equal(badLabel.status, 400);
  assert.match(badLabel.json.error.details.field, /^labels/);

  // A replica with reservations placed by a label constraint: the node shows it and counts it as allocated.
  await loadImage(w1, BASE_IMAGE);
  const created = await manager.docker([
    'service', 'create', '--detach', '--no-resolve-image', '--name', 'probe', '--endpoint-mode', 'dnsrr',
    '--container-label', 'berth.app=probe', '--reserve-memory', '64m', '--reserve-cpu', '0.25',
    '--constraint', 'node.labels.tier==web', BASE_IMAGE, 'sleep', 'infinity',
  ]);
  assert.equal(created.code, 0, created.stderr);
  const onW1 = await waitFor('the probe replica running on node1', async () => {
    const n = await admin.call('getNode', { params: { id: 'node1' } });
    return n.replicas.some((r) => r.state === 'running') && n;
  }, { timeoutMs: 90_000, intervalMs: 500 });
  assert.equal(onW1.replicas.length, 1);
  assert.equal(onW1.replicas[0]!.app, 'probe');
  // Not one of Berth's replicas (no container of this installation carries it): no app, release or status of Berth's.
  assert.deepEqual([onW1.replicas[0]!.app_slug, onW1.replicas[0]!.release, onW1.replicas[0]!.status, onW1.replicas[0]!.in_rotation], [null, null, null, null]);
  assert.deepEqual(onW1.allocated, { cpus: 0.25, memory_bytes: 64 * 1024 ** 2 });
  assert.deepEqual((await admin.call('getNode', { params: { id: 'node2' } })).allocated, { cpus: 0, memory_bytes: 0 });

  // Drain: the engine takes the replica off node1 (the constraint leaves it nowhere else to go).
  const drained = await cli('nodes', 'drain', 'node1');
  assert.equal(drained.availability, 'drain');
  assert.equal(drained.last_change.status, 'done');
  await waitFor('node1 emptied by the drain', async () => (await admin.call('getNode', { params: { id: 'node1' } })).replicas.length === 0, { timeoutMs: 60_000, intervalMs: 500 });
  assert.equal((await admin.call('drainNode', { params: { id: 'node2' } })).availability, 'drain');
  // The last node that can take replicas is not drained.
  const last = await refusal(admin.call('drainNode', { params: { id: 'node0' } }));
  assert.equal(last.status, 409);
  assert.match(last.message, /last active node/);
  assert.equal((await admin.call('getNode', { params: { id: 'node0' } })).availability, 'active');
  const active = await cli('nodes', 'activate', 'node1');
  assert.equal(active.availability, 'active');
  await waitFor('the probe replica back on node1', async () => (await admin.call('getNode', { params: { id: 'node1' } })).replicas.some((r) => r.state === 'running'), { timeoutMs: 90_000, intervalMs: 500 });

  // Removal: not the control plane's own node; not a node that is up; a node that left, yes.
  assert.equal((await refusal(admin.call('deleteNode', { params: { id: 'node0' }, query: {} }))).status, 400);
  const up = await refusal(admin.call('deleteNode', { params: { id: 'node2' }, query: {} }));
  assert.equal(up.status, 409);
  assert.match(up.message, /is ready/);
  // A server that dies: the API shows it down (Swarm's heartbeats), and then it can be removed.
  const killedAt = Date.now();
  assert.equal((await run('docker', ['kill', w2.name], { timeoutMs: 60_000 })).code, 0);
  await waitFor('node2 down', async () => (await admin.call('getNode', { params: { id: 'node2' } })).state === 'down', { timeoutMs: 60_000, intervalMs: 500 });
  console.log(`# a killed node was shown down after ${Date.now() - killedAt} ms`);
  assert.deepEqual((await admin.call('listNodes', {})).items.map((n) => [n.hostname, n.state]), [['node0', 'ready'], ['node1', 'ready'], ['node2', 'down']]);
  assert.deepEqual(await cli('nodes', 'rm', 'node2'), { ok: true });
  assert.deepEqual((await admin.call('listNodes', {})).items.map((n) => n.hostname), ['node0', 'node1']);
  assert.equal((await manager.docker(['node', 'ls', '-q'])).stdout.trim().split('\n').length, 2);

  // Desired state survives a control plane restart; the controller finds the swarm already there.
  await s.kill();
  await s.start();
  assert.equal((await admin.call('getCluster', {})).status, 'active');
  assert.equal((await admin.call('listNodes', {})).items.length, 2);
});

test('without BERTH_CLUSTER=1 cluster mode stays off and the engine is not touched', async (t) => {
  const swarmState = async () => (await run('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'], { timeoutMs: 30_000 })).stdout.trim();
  const before = await swarmState();
  const s = await startServer();
  t.after(() => s.destroy());
  const init = await refusal(s.admin.call('initCluster', { body: {} }));
  assert.equal(init.status, 409);
  assert.match(init.message, /BERTH_CLUSTER=1/);
  assert.equal((await refusal(s.admin.call('listNodes', {}))).status, 409);
  assert.deepEqual(await s.admin.call('getCluster', {}), { status: 'none', message: null, advertise_addr: null, node_id: null, enabled: false });
  assert.equal(await swarmState(), before);
});
