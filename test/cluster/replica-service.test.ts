import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failures, replicaService, toContainerInfo, type EngineService, type EngineTask } from '../../src/runtime/swarm/replica-service.js';

// How a one-task Swarm service reads as a container to the app controller (no engine needed: the
// shapes are the Engine API's; test/cluster/apps.test.ts runs the same against a real Swarm).

const svc = (replicas: number, updatedAt = '2026-01-01T00:00:10.5Z'): EngineService => ({
  ID: 'svc1',
  Version: { Index: 7 },
  CreatedAt: '2026-01-01T00:00:00Z',
  UpdatedAt: updatedAt,
  Spec: { Name: 'web-v1-r0-g0', Labels: { 'berth.app': 'app1' }, TaskTemplate: { ContainerSpec: { Image: 'img:1' } }, Mode: { Replicated: { Replicas: replicas } } },
});

const task = (id: string, createdAt: string, state: string, desired = 'running', extra: Partial<EngineTask> = {}): EngineTask => ({
  ID: id,
  ServiceID: 'svc1',
  CreatedAt: createdAt,
  DesiredState: desired,
  Status: { State: state, Timestamp: createdAt, ...(extra.Status ?? {}) },
  NetworksAttachments: [
    { Network: { Spec: { Name: 'berth-p1' } }, Addresses: ['10.0.1.7/24'] },
    { Network: { Spec: { Name: 'ingress' } }, Addresses: ['10.0.0.9/24'] },
  ],
  ...extra,
});

test('a running task: running, with its overlay address by network name and its node', () => {
  const info = toContainerInfo(svc(1), [task('t1', '2026-01-01T00:00:11Z', 'running', 'running', { NodeID: 'n2' })], (id) => ({ n2: 'node2' })[id]);
  assert.equal(info.state, 'running');
  assert.equal(info.node, 'node2');
  assert.equal(info.addresses['berth-p1'], '10.0.1.7');
  assert.equal(info.restartCount, 0);
  assert.equal(info.name, 'web-v1-r0-g0');
});

test('scaled to 0: exited, with the last task exit code; no address', () => {
  const info = toContainerInfo(svc(0), [task('t1', '2026-01-01T00:00:11Z', 'shutdown', 'remove', { Status: { State: 'shutdown', ContainerStatus: { ExitCode: 143 } } })]);
  assert.equal(info.state, 'exited');
  assert.equal(info.exitCode, 143);
  assert.deepEqual(info.addresses, {});
});

test('a task the scheduler cannot place: created, with the reason as start error', () => {
  const info = toContainerInfo(svc(1), [task('t1', '2026-01-01T00:00:11Z', 'pending', 'running', { Status: { State: 'pending', Err: 'no suitable node (scheduling constraints not satisfied on 3 nodes)' } })]);
  assert.equal(info.state, 'created');
  assert.match(info.startError ?? '', /no suitable node/);
});

test('failures count as restarts only since the last scale (a start begins the count again)', () => {
  const tasks = [
    task('old', '2026-01-01T00:00:05Z', 'failed', 'shutdown'),
    task('t1', '2026-01-01T00:00:11Z', 'failed', 'shutdown', { Status: { State: 'failed', Err: 'task: non-zero exit (1)', ContainerStatus: { ExitCode: 1 } } }),
    task('t2', '2026-01-01T00:00:13Z', 'starting'),
  ];
  assert.deepEqual(failures(svc(1), tasks).map((t) => t.ID), ['t1']);
  const info = toContainerInfo(svc(1), tasks);
  assert.equal(info.state, 'restarting');
  assert.equal(info.restartCount, 1);
  assert.equal(info.exitCode, 1);
});

test('the replica service: hardened, dnsrr, placement, and no instance label on its containers', () => {
  const body = replicaService(
    {
      name: 'web-v1-r0-g0',
      image: 'img:1',
      env: { PORT: '8080' },
      labels: { 'berth.instance': 'i1', 'berth.app': 'app1' },
      network: 'berth-p1',
      aliases: ['web'],
      memoryMb: 256,
      cpu: 0.5,
      placement: { constraints: ['node.labels.tier==web'] },
    },
    'root',
    10,
  ) as any;
  const cs = body.TaskTemplate.ContainerSpec;
  assert.equal(cs.User, '65534:65534');
  assert.deepEqual(cs.CapabilityDrop, ['ALL']);
  assert.equal(cs.Labels['berth.instance'], undefined, 'the manager would list the task container as a Berth container');
  assert.equal(cs.Labels['berth.app'], 'app1');
  assert.equal(body.Labels['berth.instance'], 'i1');
  assert.equal(body.TaskTemplate.Resources.Limits.MemoryBytes, 256 * 1024 * 1024);
  assert.equal(body.TaskTemplate.Resources.Limits.NanoCPUs, 5e8);
  assert.deepEqual(body.TaskTemplate.Placement.Constraints, ['node.labels.tier==web']);
  assert.deepEqual(body.TaskTemplate.Networks, [{ Target: 'berth-p1', Aliases: ['web'] }]);
  assert.equal(body.EndpointSpec.Mode, 'dnsrr');
  assert.equal(body.Mode.Replicated.Replicas, 0, 'made stopped: started by scaling to 1');
});

test('a worker replica (a Procfile type besides web): its line as the service’s args, no DNS alias, restarted like web', () => {
  const body = replicaService(
    {
      name: 'jobs-v1-worker-r0-g0',
      image: 'img:1',
      cmd: ['sh', '-c', 'node worker.js'],
      env: { PORT: '8080', BERTH_PROCESS_TYPE: 'worker' },
      labels: { 'berth.instance': 'i1', 'berth.app': 'app1', 'berth.process': 'worker' },
      network: 'berth-p1',
      aliases: [],
      memoryMb: 256,
      cpu: 0,
    },
    'app',
    10,
  ) as any;
  const cs = body.TaskTemplate.ContainerSpec;
  assert.deepEqual(cs.Args, ['sh', '-c', 'node worker.js'], 'Args replace the image’s CMD, as Cmd does on one engine');
  assert.equal(cs.Labels['berth.process'], 'worker');
  assert.deepEqual(body.TaskTemplate.Networks, [{ Target: 'berth-p1', Aliases: [] }]);
  assert.equal(cs.StopGracePeriod, 10e9);
  assert.equal(body.TaskTemplate.RestartPolicy.Condition, 'any');
});
