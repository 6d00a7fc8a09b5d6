import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import type { TestServer } from '../support/server.js';
import { BASE_IMAGE, ensureTestAppImage } from '../support/images.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { settled } from '../support/rollout.js';
import { listSourceFiles, packTarGz } from '../../src/cli/pack.js';
import { buildArchive, logText, waitBuild } from '../builds/helpers.js';
import { loadImage, startClusterServer, startNodes, type DindCluster } from '../cluster/nodes-harness.js';
import { NODE_WORKER, crashReported, formed as formedIn, heard as heardBy } from './helpers.js';

/**
 * Process types in cluster mode, on a real 2-node Swarm: a worker replica is a one-task Swarm
 * service like a web replica, running its Procfile line; it scales apart from web, rolls with a
 * new release, and a worker task killed on its node comes back.
 */
describe('process types in cluster mode', () => {
  let cluster: DindCluster;
  let s: TestServer;
  let admin: BerthClient;
  const formed = (web: number, worker: number, release: number) => formedIn(admin, 'jobs', web, worker, release, 180_000);
  const heard = (n: number, release: string) => heardBy(s.routerPort, 'jobs.localhost', n, release, 60_000);
  const services = async (type: string) =>
    (await cluster.nodes[0]!.docker(['service', 'ls', '-q', '--filter', `label=berth.process=${type}`])).stdout.split('\n').filter(Boolean);

  before(async () => {
    cluster = await startNodes(2);
    // As test/cluster/apps.test.ts: the node stack is the test image (the host's Node), on the manager only.
    const stack = await ensureTestAppImage(new DockerRuntime());
    await Promise.all([loadImage(cluster.nodes[0]!, BASE_IMAGE), loadImage(cluster.nodes[0]!, stack)]);
    s = await startClusterServer(cluster, { BERTH_STACK_NODE: stack });
    admin = s.admin;
    await admin.call('createProject', { body: { name: 'procs' } });
    await admin.call('createApp', { body: { name: 'jobs', project: 'procs', cpu: 0, health_check: { path: '/workers', timeout_s: 90, grace_s: 0 } } });
    await admin.call('setEnv', { params: { id: 'jobs' }, body: { set: { BEAT_HOST: 'jobs' } } });
  });
  after(async () => {
    await s?.destroy();
    await cluster?.destroy();
  });

  test('a worker is a Swarm service running its Procfile line; it scales apart from web, rolls with a release, and comes back when killed', async () => {
    const b = await waitBuild(admin, (await buildArchive(admin, 'jobs', await packTarGz(NODE_WORKER, await listSourceFiles(NODE_WORKER)))).id, 600_000);
    assert.equal(b.status, 'succeeded', `${b.message}\n${await logText(admin, b.id)}`);
    const v1 = await settled(admin, 'jobs', 1, 300_000).catch(async (err: Error) => {
      const ctrs = (await admin.call('listContainers', { query: { app: 'jobs' } })).items.map((x) => `${x.name} ${x.status} ${x.message ?? ''}`);
      const events = (await admin.call('listEvents', { query: { app: 'jobs', limit: 1000 } })).items.map((e) => `${e.kind}: ${e.message}`);
      throw new Error(`${err.message}\ncontainers: ${ctrs.join('; ')}\nevents: ${events.slice(-15).join('\n')}\nserver: ${s.output().slice(-4000)}`);
    });
    assert.equal(v1.status, 'live', v1.reason ?? '');
    await formed(1, 1, 1);
    await heard(1, 'v1');
    const [svc] = await services('worker');
    const spec = JSON.parse((await cluster.nodes[0]!.docker(['service', 'inspect', svc!])).stdout)[0].Spec;
    assert.deepEqual(spec.TaskTemplate.ContainerSpec.Args, ['sh', '-c', 'node worker.js']);
    assert.deepEqual(spec.TaskTemplate.Networks[0].Aliases ?? [], []);

    await admin.call('updateFormation', { params: { id: 'jobs' }, body: { worker: 3 } });
    const three = await formed(1, 3, 1);
    await heard(3, 'v1');
    assert.equal((await services('worker')).length, 3);
    assert.equal((await services('web')).length, 1);
    const nodes = new Set(three.filter((x) => x.process_type === 'worker').map((x) => x.node));
    assert.ok(nodes.size >= 1, JSON.stringify([...nodes]));

    await admin.call('setEnv', { params: { id: 'jobs' }, body: { set: { MARK: 'two' } } });
    assert.equal((await settled(admin, 'jobs', 2, 300_000)).status, 'live');
    const v2 = await formed(1, 3, 2);
    await heard(3, 'v2');
    assert.equal((await services('worker')).length, 3, 'the old release’s worker services are gone');

    // A worker's task container killed on its node: Swarm starts a new task, Berth reports the crash and shows it running again.
    const victim = v2.find((x) => x.process_type === 'worker')!;
    const node = cluster.nodes.find((n) => n.name.endsWith(`-${victim.node.replace(/^node/, '')}`))!;
    const task = (await node.docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${victim.name}`])).stdout.trim();
    assert.ok(task, `the task of ${victim.name} on ${victim.node}`);
    await node.docker(['kill', task]);
    await crashReported(admin, 'jobs', victim.id, 60_000);
    const back = await formed(1, 3, 2);
    assert.ok(back.some((x) => x.id === victim.id), 'the same replica (its service) runs again');
    await heard(3, 'v2');
  });
});
