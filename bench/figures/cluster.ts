import type { BerthClient } from '../../src/client/index.js';
import { run } from '../../src/lib/exec.js';
import { BASE_IMAGE } from '../../test/support/images.js';
import { startLoad, viaRouter } from '../../test/support/load.js';
import { waitFor } from '../../test/support/wait.js';
import { loadImage, startClusterServer, startNodes, type DindCluster } from '../../test/cluster/nodes-harness.js';
import { median, sleep, timeUntil, type Bench } from '../support/context.js';
import { row, type Row } from '../support/report.js';

const TRIALS = 3;
const TO = 12;
const HEALTH = { path: '/health', timeout_s: 90, grace_s: 0 };

/** One Berth side of a comparison: a client whose project `bench` exists, and its router's port. */
interface Side {
  dev: BerthClient;
  routerPort: number;
}

const status = (port: number, slug: string) => viaRouter(port, `${slug}.localhost`, '/', undefined, 2000).catch(() => ({ status: 0, body: '' }));

/**
 * From the deploy call (image present, project network made by an earlier deploy) to the first 200
 * through the router; the median of TRIALS, each app deleted after.
 */
async function deployToFirst200(b: Bench, side: Side, image: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const slug = b.appName('cdeploy');
    await side.dev.call('createApp', { body: { name: slug, project: 'bench', health_check: HEALTH } });
    const t0 = performance.now();
    await side.dev.call('deployApp', { params: { id: slug }, body: { image_id: image, replicas: 1 } });
    out.push(await timeUntil(t0, async () => (await status(side.routerPort, slug)).status === 200, `${slug} to answer`, 300_000));
    await side.dev.call('deleteApp', { params: { id: slug } });
  }
  return out;
}

/**
 * From the scale call (1 -> TO) until the API shows TO healthy replicas in rotation and TO distinct
 * replicas (the test app names its hostname) have answered the load through the router.
 */
async function scaleOut(side: Side, slug: string): Promise<{ ms: number; failed: number; sent: number }> {
  const load = startLoad({ port: side.routerPort, host: `${slug}.localhost`, concurrency: 4, maxMs: 400_000 });
  try {
    const t0 = performance.now();
    await side.dev.call('scaleApp', { params: { id: slug }, body: { replicas: TO } });
    const ms = await timeUntil(
      t0,
      async () => {
        if (load.result.hostnames.size < TO) return false;
        const items = (await side.dev.call('listContainers', { query: { app: slug } })).items;
        return items.length === TO && items.every((c) => c.status === 'healthy' && c.in_rotation);
      },
      `${TO} replicas healthy and answering through the router`,
      400_000,
      100,
    );
    const r = await load.stop();
    return { ms, failed: r.failed, sent: r.sent };
  } finally {
    await load.stop();
  }
}

/** Deploys one replica of the test app and waits until it serves through the router. */
async function deployOne(b: Bench, side: Side, slug: string, image: string) {
  await side.dev.call('createApp', { body: { name: slug, project: 'bench', health_check: HEALTH } });
  await side.dev.call('deployApp', { params: { id: slug }, body: { image_id: image, replicas: 1 } });
  await b.healthy(side.dev, slug, 1, 300_000);
  await waitFor(`${slug} through the router`, async () => (await status(side.routerPort, slug)).status === 200, { timeoutMs: 60_000, intervalMs: 50 });
}

/**
 * Three dind nodes in one Swarm, a Berth server in cluster mode on the first, the test image on
 * every node beforehand (a worker still pulls each release from Berth's registry, but finds its layers there).
 */
async function startClusterSide(image: string) {
  const cluster = await startNodes(3);
  try {
    const manager = cluster.nodes[0]!;
    await Promise.all([...cluster.nodes.map((n) => loadImage(n, image)), loadImage(manager, BASE_IMAGE)]);
    const s = await startClusterServer(cluster, { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' });
    try {
      await s.admin.call('createProject', { body: { name: 'bench' } });
      return { cluster, s };
    } catch (err) {
      await s.destroy();
      throw err;
    }
  } catch (err) {
    await cluster.destroy();
    throw err;
  }
}

/** `docker` against the Swarm manager's engine (its socket is on this machine). */
const swarm = (cluster: DindCluster, args: string[]) => run('docker', ['-H', cluster.nodes[0]!.dockerHost, ...args], { timeoutMs: 30_000 });

/**
 * A worker holding replicas is killed (`docker kill` of its node container) under load. Berth's
 * figure: until the API shows every replica healthy in rotation on the nodes left and every one
 * answers through the router. Baseline, from the Swarm API in the same run: until the manager marks
 * the node down, and until every replica's service has a running task on another node.
 */
async function nodeLoss(cluster: DindCluster, side: Side, slug: string) {
  const { dev, routerPort } = side;
  const app = (await dev.call('getApp', { params: { id: slug } })).id;
  const byNode = async () => {
    const out: Record<string, number> = {};
    for (const n of (await dev.call('listNodes', {})).items) out[n.hostname] = n.replicas.filter((r) => r.app === app && r.state === 'running').length;
    return out;
  };
  const before = await byNode();
  const [victimHost, lost] = Object.entries(before).filter(([h]) => h !== 'node0').sort((a, b) => b[1] - a[1])[0]!;
  if (!lost) throw new Error(`no replica on a worker: ${JSON.stringify(before)}`);
  const victim = cluster.nodes[Number(victimHost.slice(4))]!;
  const services = (await swarm(cluster, ['service', 'ls', '-q', '--filter', `label=berth.app=${app}`])).stdout.split('\n').filter(Boolean);
  if (services.length !== TO) throw new Error(`expected ${TO} services, found ${services.length}`);

  const load = startLoad({ port: routerPort, host: `${slug}.localhost`, concurrency: 4, maxMs: 400_000 });
  try {
    const t0 = performance.now();
    const killed = await run('docker', ['kill', victim.name], { timeoutMs: 60_000 });
    if (killed.code !== 0) throw new Error(`docker kill ${victim.name}: ${killed.stderr}`);
    const poll = { timeoutMs: 400_000, intervalMs: 250 };
    const downP = timeUntil(t0, async () => (await swarm(cluster, ['node', 'inspect', '-f', '{{.Status.State}}', victimHost])).stdout.trim() === 'down', 'Swarm to mark the node down', poll.timeoutMs, poll.intervalMs);
    const rescheduledP = timeUntil(
      t0,
      async () => {
        const r = await swarm(cluster, ['service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Node}}\t{{.CurrentState}}', ...services]);
        const running = r.stdout.split('\n').filter((l) => l && !l.startsWith(`${victimHost}\t`) && /\tRunning/.test(l));
        return running.length === TO;
      },
      'Swarm to run every replica on the nodes left',
      poll.timeoutMs,
      poll.intervalMs,
    );
    let apiBackMs: number | undefined;
    const servingP = timeUntil(
      t0,
      async () => {
        const items = (await dev.call('listContainers', { query: { app: slug } })).items;
        const by = await byNode();
        const placed = by[victimHost] === 0 && Object.values(by).reduce((a, x) => a + x, 0) === TO;
        if (!placed || items.length !== TO || !items.every((c) => c.status === 'healthy' && c.in_rotation)) return false;
        apiBackMs ??= performance.now() - t0;
        const seen = new Set<string>();
        for (let i = 0; i < TO * 4 && seen.size < TO; i++) {
          const r = await status(routerPort, slug);
          if (r.status !== 200) return false;
          seen.add((JSON.parse(r.body) as { hostname: string }).hostname);
        }
        return seen.size === TO;
      },
      'every replica serving through the router again',
      poll.timeoutMs,
      poll.intervalMs,
    );
    const [downMs, rescheduledMs, servingMs] = await Promise.all([downP, rescheduledP, servingP]);
    const r = await load.stop();
    return { victimHost, lost, downMs, rescheduledMs, servingMs, apiBackMs: apiBackMs!, failed: r.failed, sent: r.sent, failures: r.failures.slice(0, 3) };
  } finally {
    await load.stop();
  }
}

const secs = (ms: number) => (ms / 1000).toFixed(1);

/**
 * Cluster mode on three Docker-in-Docker nodes beside single-node mode on the host engine, both
 * measured in this run while the nodes are up: deploy to first 200, scale 1 -> 12; then a worker
 * killed, against what Swarm itself takes to notice and reschedule.
 */
export async function cluster(b: Bench): Promise<Row[]> {
  const image = await b.image();
  const { cluster: nodes, s } = await startClusterSide(image);
  try {
    const multi: Side = { dev: s.admin, routerPort: s.routerPort };
    const { s: single, dev } = await b.shared();
    const one: Side = { dev, routerPort: single.routerPort };

    // One app each first: it makes the project's network (an overlay in cluster mode), so the deploy
    // trials pay for neither, and it is the app scaled afterwards.
    const multiApp = b.appName('cscale');
    const singleApp = b.appName('cscale');
    await deployOne(b, multi, multiApp, image);
    await deployOne(b, one, singleApp, image);

    const deployMulti = await deployToFirst200(b, multi, image);
    const deploySingle = await deployToFirst200(b, one, image);
    const scaleMulti = await scaleOut(multi, multiApp);
    const scaleSingle = await scaleOut(one, singleApp);
    await dev.call('deleteApp', { params: { id: singleApp } });
    const spread = (await s.admin.call('listNodes', {})).items.map((n) => `${n.hostname}: ${n.replicas.filter((r) => r.state === 'running').length}`).join(', ');
    // Let the load of scaling settle before a node dies.
    await sleep(5000);
    const loss = await nodeLoss(nodes, multi, multiApp);

    const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
    return [
      row({
        group: 'cluster',
        figure: 'cluster: deploy call to first 200',
        unit: 's',
        berth: median(deployMulti) / 1000,
        baseline: median(deploySingle) / 1000,
        baselineName: 'single-node Berth, same run',
        better: 'lower',
        note: `median of ${TRIALS}: 3-node cluster ${ms(deployMulti)} ms; single node ${ms(deploySingle)} ms`,
      }),
      row({
        group: 'cluster',
        figure: `cluster: scale 1 -> ${TO}, all healthy and answering`,
        unit: 's',
        berth: scaleMulti.ms / 1000,
        baseline: scaleSingle.ms / 1000,
        baselineName: 'single-node Berth, same run',
        better: 'lower',
        note: `replicas by node after: ${spread}; failed requests while scaling: cluster ${scaleMulti.failed} of ${scaleMulti.sent}, single node ${scaleSingle.failed} of ${scaleSingle.sent}`,
      }),
      row({
        group: 'cluster',
        figure: `cluster: worker killed, all ${TO} serving again`,
        unit: 's',
        berth: loss.servingMs / 1000,
        baseline: loss.rescheduledMs / 1000,
        baselineName: 'Swarm: every task running on the nodes left',
        better: 'lower',
        note:
          `${loss.victimHost} killed holding ${loss.lost} of ${TO}; Swarm marked it down after ${secs(loss.downMs)} s; ` +
          `the API showed all ${TO} healthy in rotation after ${secs(loss.apiBackMs)} s; ${loss.failed} of ${loss.sent} requests failed meanwhile${loss.failures.length ? ` (first: ${loss.failures.join('; ')})` : ''}`,
      }),
    ];
  } finally {
    await s.destroy().catch((e) => console.error(`bench: cleanup of the cluster server failed: ${e}`));
    await nodes.destroy().catch((e) => console.error(`bench: cleanup of the nodes failed: ${e}`));
  }
}
