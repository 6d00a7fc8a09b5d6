import { after, before, describe, test } from 'node:test';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/client/index.js';
import { run } from '../../src/lib/exec.js';
import { CLI_MAIN, type TestServer } from '../support/server.js';
import { TEST_APP_SOURCE } from '../support/test-app.js';
import { BASE_IMAGE, ensureTestAppImage } from '../support/images.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { assertNoDrops, startLoad, viaRouter, withLoad } from '../support/load.js';
import { healthy, settled } from '../support/rollout.js';
import { waitFor } from '../support/wait.js';
import { buildArchive, logText, tarGz, waitBuild } from '../builds/helpers.js';
import { loadImage, startClusterServer, startNodes, type DindCluster, type DindNode } from './nodes-harness.js';

// Apps in cluster mode on a real 3-node Swarm (docs/cluster.md), as a user runs them: the app is
// built from source on the manager (only the node stack image is there beforehand; the workers
// have no image at all), each replica is a one-task service on the project's overlay, spread over
// the nodes by Swarm, pulled by the workers from Berth's registry, and reached by the host's
// HAProxy through the overlay anchor's network namespace. One cluster for the whole file: each
// test carries on from the state the one before left.

const SLUG = 'spread';
const HC = { path: '/health', timeout_s: 90, grace_s: 0 };

describe('cluster mode: apps on three nodes', () => {
  let cluster: DindCluster;
  let manager: DindNode;
  let workers: DindNode[];
  let s: TestServer;
  let appId: string;
  let registryAddr: string;

  before(async () => {
    cluster = await startNodes(3);
    [manager, ...workers] = cluster.nodes as [DindNode, ...DindNode[]];
    // On the manager only: the base image (the overlay anchor runs it) and what the node builder
    // builds FROM. The app reaches no node but through Berth. The node stack is the test image (the
    // host's Node 20), named by BERTH_STACK_NODE as an operator would: with Debian's Node 18 of
    // berth/stack-node the same steps saw requests through the router fail (docs/cluster.md).
    const stack = await ensureTestAppImage(new DockerRuntime());
    await Promise.all([loadImage(manager, BASE_IMAGE), loadImage(manager, stack)]);
    s = await startClusterServer(cluster, { BERTH_STACK_NODE: stack });
    registryAddr = (await s.admin.call('getJoinCommand', {})).registry_addr!;
    await s.admin.call('createProject', { body: { name: 'web' } });
  });
  after(async () => {
    await s?.destroy();
    await cluster?.destroy();
  });

  const admin = () => s.admin;
  const get = () => viaRouter(s.routerPort, `${SLUG}.localhost`);
  const env = async () => JSON.parse((await get()).body).env as Record<string, string>;
  /** Distinct replicas answering through the router within `tries` requests (every answer a 200). */
  const answering = async (tries: number) => {
    const seen = new Set<string>();
    for (let i = 0; i < tries; i++) {
      const r = await get();
      assert.equal(r.status, 200, r.body);
      seen.add(JSON.parse(r.body).hostname);
    }
    return seen;
  };
  /**
   * Waits until `n` distinct replicas answer through the router in one round of requests, every
   * answer a 200; says how long that took after the API showed them healthy in rotation (in these
   * runs some replicas on other nodes took seconds more to get requests: not explained yet).
   */
  const allAnswer = async (n: number, t?: { diagnostic(m: string): void }) => {
    const from = Date.now();
    let failed: unknown;
    await waitFor(`${n} replicas answering through the router`, async () => {
      try {
        return (await answering(n * 10)).size === n;
      } catch (err) {
        failed ??= err;
        return false;
      }
    }, { timeoutMs: 90_000, intervalMs: 250 });
    if (failed) assert.fail(`a request through the router failed: ${String(failed)}`);
    t?.diagnostic(`all ${n} replicas answered through the router ${Date.now() - from} ms after the API showed them in rotation`);
  };
  const replicasByNode = async () => {
    const out: Record<string, number> = {};
    for (const n of (await admin().call('listNodes', {})).items) out[n.hostname] = n.replicas.filter((r) => r.app === appId && r.state === 'running').length;
    return out;
  };
  /** The app's Swarm services on the manager (optionally of one release). */
  const services = async (version?: number) => {
    const filters = ['--filter', `label=berth.app=${appId}`, ...(version ? ['--filter', `label=berth.version=${version}`] : [])];
    return (await manager.docker(['service', 'ls', '-q', ...filters])).stdout.split('\n').filter(Boolean);
  };
  const images = async (n: DindNode) => (await n.docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])).stdout.split('\n').filter(Boolean);
  const live = async (version: number) => {
    const r = await settled(admin(), SLUG, version, 300_000);
    assert.equal(r.status, 'live', r.reason ?? '');
    return r;
  };
  /** A new release from a config var, live with `n` healthy replicas in rotation; returns its version. */
  const setColor = async (color: string, n: number) => {
    const res = await admin().call('setEnv', { params: { id: SLUG }, body: { set: { COLOR: color } } });
    const v = res.release!.version;
    await live(v);
    await healthy(admin(), SLUG, n, { release: v, timeoutMs: 120_000 });
    return v;
  };

  test('built from source on the manager: 6 replicas over the nodes, pulled by the workers from Berth’s registry, all through the router', async (t) => {
    for (const w of workers) assert.deepEqual(await images(w), [], `${w.name} has images before the deploy`);
    // No CPU limit (admins only): Swarm reserves a replica's CPU limit, and 6 replicas of the default 1 core
    // each would not fit on one 2-core node when the placement test pins them there.
    const app = await admin().call('createApp', { body: { name: SLUG, project: 'web', replicas: 6, health_check: HC, cpu: 0 } });
    appId = app.id;
    const source = await tarGz([
      { name: 'package.json', body: JSON.stringify({ name: SLUG, version: '1.0.0', private: true, main: 'server.js' }) },
      { name: 'server.js', body: TEST_APP_SOURCE },
    ]);
    const t0 = Date.now();
    const queued = await buildArchive(admin(), SLUG, source);
    const b = await waitBuild(admin(), queued.id, 600_000);
    assert.equal(b.status, 'succeeded', `${b.message}\n${await logText(admin(), b.id)}`);
    assert.equal(b.builder, 'node');
    const builtAt = Date.now();
    // The build deploys itself (auto-deploy), with the app's 6 replicas.
    await live(1);
    await healthy(admin(), SLUG, 6, { release: 1, timeoutMs: 120_000 });
    const allHealthy = Date.now();
    // The nodes list reads Swarm's tasks, a poll behind the API's replicas.
    const spread = await waitFor('6 running tasks in the nodes list', async () => {
      const by = await replicasByNode();
      return Object.values(by).reduce((a, c) => a + c, 0) === 6 && by;
    }, { timeoutMs: 30_000, intervalMs: 500 }).catch(async () => replicasByNode());
    t.diagnostic(
      `built from source in ${b.duration_s} s; 6 replicas healthy and in rotation ${allHealthy - t0} ms after the upload, ${allHealthy - builtAt} ms after the build succeeded; by node: ${JSON.stringify(spread)}`,
    );
    assert.equal(Object.values(spread).reduce((a, c) => a + c, 0), 6, JSON.stringify(spread));
    assert.ok(Object.values(spread).filter((c) => c > 0).length >= 2, `replicas on one node only: ${JSON.stringify(spread)}`);
    assert.equal((await services()).length, 6);

    // The services run the registry's copy of the release; a worker holding replicas pulled it from there.
    const ref = `${registryAddr}/berth/${appId}:v1`;
    const svc = JSON.parse((await manager.docker(['service', 'inspect', (await services())[0]!])).stdout)[0];
    const cs = svc.Spec.TaskTemplate.ContainerSpec;
    assert.ok(cs.Image === ref || cs.Image.startsWith(`${ref}@sha256:`), `service image ${cs.Image}, not ${ref}`);
    const busyWorkers = workers.filter((w) => (spread[`node${cluster.nodes.indexOf(w)}`] ?? 0) > 0);
    assert.ok(busyWorkers.length > 0, `no replica on a worker: ${JSON.stringify(spread)}`);
    for (const w of busyWorkers) {
      assert.deepEqual(await images(w), [ref], `${w.name} holds what it pulled from Berth's registry, and nothing else`);
      // How long the worker took to pull: from its first task's creation to the engine's pull event.
      const tasks = (await manager.docker(['node', 'ps', '-q', `node${cluster.nodes.indexOf(w)}`])).stdout.split('\n').filter(Boolean);
      const created = Math.min(...(await manager.docker(['inspect', '-f', '{{.CreatedAt.UnixNano}}', ...tasks])).stdout.split('\n').filter(Boolean).map((x) => Number(x) / 1e6));
      const pulled = (await w.docker(['events', '--since', String(Math.floor(t0 / 1000) - 1), '--until', String(Math.ceil(Date.now() / 1000)), '--filter', 'type=image', '--filter', 'event=pull', '--format', '{{.TimeNano}}'])).stdout.split('\n').filter(Boolean).map((x) => Number(x) / 1e6);
      if (pulled.length && Number.isFinite(created)) t.diagnostic(`${w.name.replace(/.*-/, 'node')}: the release pulled from Berth's registry ${Math.round(pulled[0]! - created)} ms after its first task was created`);
    }

    await allAnswer(6, t);
    // No replica died on its way: Swarm gives a task's container the service's labels, and replicas on
    // the manager were once taken for stray containers there and killed seconds after each start.
    const crashed = (await admin().call('listEvents', { query: { app: appId } })).items.filter((e) => e.kind === 'container.crashed');
    assert.deepEqual(crashed.map((e) => e.message), []);

    // Each replica says which node it runs on, as the nodes list does; the logs come from every node.
    const rows = (await admin().call('listContainers', { query: { app: SLUG } })).items;
    const rowNodes: Record<string, number> = {};
    for (const r of rows) rowNodes[r.node] = (rowNodes[r.node] ?? 0) + 1;
    assert.deepEqual(rowNodes, Object.fromEntries(Object.entries(spread).filter(([, c]) => c > 0)));
    // (A replica's log on a worker reaches the manager a moment later: seen 5 of 6 on the first look.)
    await waitFor('every replica’s first log line', async () => {
      const logs = (await admin().call('appLogs', { params: { id: SLUG }, query: { tail: 10000 } })).lines;
      return new Set(logs.filter((l) => /listening on 8080/.test(l.line)).map((l) => l.container)).size === 6;
    }, { timeoutMs: 30_000, intervalMs: 500 });

    // A replica's service is hardened like a container: non-root, no capabilities, limits, no published port.
    assert.ok(cs.User && !/^(root|0)(:|$)/.test(cs.User), `user ${cs.User}`);
    assert.deepEqual(cs.CapabilityDrop, ['ALL']);
    assert.equal(svc.Spec.TaskTemplate.Resources.Limits.MemoryBytes, 512 * 1024 * 1024);
    assert.ok(svc.Spec.TaskTemplate.Resources.Limits.Pids > 0);
    assert.equal(svc.Spec.EndpointSpec.Mode, 'dnsrr');
    assert.deepEqual(svc.Endpoint?.Ports ?? [], []);
  });

  test('commands in the image built from source run to their end: a one-off that sleeps, a scheduled one', async () => {
    // The built image carries the app's label; its command containers once passed for stray replicas and were killed at start.
    const ended = (id: string) =>
      waitFor(`run ${id} to finish`, async () => {
        const r = await admin().call('getRun', { params: { id } });
        return r.status === 'succeeded' || r.status === 'failed' ? r : undefined;
      }, { timeoutMs: 90_000, intervalMs: 250 });
    const one = await admin().call('runCommand', { params: { id: SLUG }, body: { command: ['sh', '-c', 'echo started; sleep 3; echo done'] } });
    const r = await ended(one.id);
    assert.equal(r.status, 'succeeded', `${r.reason} ${r.output}`);
    assert.equal(r.output, 'started\ndone\n');
    const c = await admin().call('addCron', { params: { id: SLUG }, body: { schedule: '*/2 * * * * *', command: ['sh', '-c', 'echo tick; sleep 3; echo tock'] } });
    try {
      const done = await waitFor('a scheduled run to finish', async () =>
        (await admin().call('listRuns', { params: { id: SLUG } })).items.find((x) => x.kind === 'cron' && (x.status === 'succeeded' || x.status === 'failed') && !/still under way|were missed/.test(x.reason ?? '')),
      { timeoutMs: 90_000, intervalMs: 300 });
      assert.equal(done.status, 'succeeded', `${done.reason} ${done.output}`);
      assert.equal(done.output, 'tick\ntock\n');
    } finally {
      await admin().call('removeCron', { params: { id: SLUG, cron: c.id } });
    }
    await healthy(admin(), SLUG, 6, { release: 1, timeoutMs: 60_000 });
  });

  test('scale down and up; a rolling deploy under load fails no request', async (t) => {
    await admin().call('scaleApp', { params: { id: SLUG }, body: { replicas: 3 } });
    await healthy(admin(), SLUG, 3, { timeoutMs: 120_000 });
    await waitFor('3 services', async () => (await services()).length === 3, { timeoutMs: 60_000, intervalMs: 500 });
    await allAnswer(3, t);
    await admin().call('scaleApp', { params: { id: SLUG }, body: { replicas: 4 } });
    await healthy(admin(), SLUG, 4, { timeoutMs: 120_000 });
    await allAnswer(4, t);

    const result = await withLoad({ port: s.routerPort, host: `${SLUG}.localhost`, concurrency: 4 }, () => setColor('blue', 4).then(() => undefined));
    assertNoDrops(result, 'rolling deploy across nodes');
    assert.ok(result.sent > 0);
    t.diagnostic(`rolling deploy of 4 replicas across nodes: ${result.sent} requests, ${result.failed} failed`);
    assert.equal((await env()).COLOR, 'blue');
  });

  test('a release whose health check fails is rolled back on its own; a manual rollback; blue-green and recreate; stop/start; restart', async (t) => {
    await admin().call('scaleApp', { params: { id: SLUG }, body: { replicas: 2 } });
    await healthy(admin(), SLUG, 2, { timeoutMs: 120_000 });
    const good = (await admin().call('getApp', { params: { id: SLUG } })).release!;
    // A shorter health check from the next release on: the broken one fails sooner.
    await admin().call('updateApp', { params: { id: SLUG }, body: { health_check: { path: '/health', timeout_s: 20, grace_s: 0 } } });

    // Automatic rollback: the broken release fails with the reason, the good one never stops serving.
    let bad = 0;
    const load = await withLoad({ port: s.routerPort, host: `${SLUG}.localhost`, concurrency: 2 }, async () => {
      bad = (await admin().call('setEnv', { params: { id: SLUG }, body: { set: { HEALTH_FAIL: '1' } } })).release!.version;
      const failed = await settled(admin(), SLUG, bad, 300_000);
      assert.equal(failed.status, 'failed');
      assert.match(failed.reason ?? '', /no healthy answer from \/health within 20 s/);
    });
    assertNoDrops(load, 'while the broken release was tried');
    assert.equal((await admin().call('getApp', { params: { id: SLUG } })).release, good);
    await healthy(admin(), SLUG, 2, { release: good, timeoutMs: 120_000 });
    assert.equal((await env()).COLOR, 'blue');
    assert.equal((await env()).HEALTH_FAIL, undefined);
    // No service of the failed release is left on any node.
    await waitFor('no service of the failed release', async () => (await services(bad)).length === 0 && (await services()).length === 2, { timeoutMs: 120_000, intervalMs: 500 });
    const failedEvent = (await admin().call('listEvents', { query: { app: appId } })).items.find((e) => e.kind === 'release.failed');
    assert.match(failedEvent?.message ?? '', new RegExp(`v${bad} failed; v${good} keeps serving`));
    t.diagnostic(`the broken v${bad} tried and rolled back under load: ${load.sent} requests, ${load.failed} failed`);

    // A manual rollback to v1 (no COLOR): a new release from its snapshot.
    const rb = await admin().call('rollbackApp', { params: { id: SLUG }, body: { release: 1 } });
    assert.match(rb.description, /Rollback to v1/);
    await live(rb.version);
    await healthy(admin(), SLUG, 2, { release: rb.version, timeoutMs: 120_000 });
    assert.equal((await env()).COLOR, undefined);
    assert.equal((await env()).HEALTH_FAIL, undefined);

    // Blue-green under load: the new set starts beside the old one, then takes all the traffic at once.
    await admin().call('updateApp', { params: { id: SLUG }, body: { strategy: 'blue-green' } });
    let green = 0;
    const bg = await withLoad({ port: s.routerPort, host: `${SLUG}.localhost`, concurrency: 2 }, async () => {
      green = (await admin().call('setEnv', { params: { id: SLUG }, body: { set: { COLOR: 'green' } } })).release!.version;
      await live(green);
    });
    assertNoDrops(bg, 'blue-green deploy across nodes');
    assert.ok(bg.sent > 0);
    // The previous set stays, stopped, for a fast rollback: its services are scaled to 0.
    const sets = (await admin().call('listContainers', { query: { app: SLUG } })).items;
    assert.deepEqual(sets.filter((c) => c.release === green).map((c) => `${c.status}:${c.in_rotation}`), ['healthy:true', 'healthy:true']);
    assert.ok(sets.filter((c) => c.release !== green).every((c) => c.status === 'stopped' && !c.in_rotation), JSON.stringify(sets));
    assert.equal((await env()).COLOR, 'green');
    t.diagnostic(`blue-green deploy of 2 replicas across nodes: ${bg.sent} requests, ${bg.failed} failed`);

    // Recreate: the old set stops, then the new one starts.
    await admin().call('updateApp', { params: { id: SLUG }, body: { strategy: 'recreate' } });
    const rec = await setColor('red', 2);
    assert.equal((await env()).COLOR, 'red');
    await waitFor('only the recreated release’s services', async () => (await services()).length === 2 && (await services(rec)).length === 2, { timeoutMs: 120_000, intervalMs: 500 });
    await admin().call('updateApp', { params: { id: SLUG }, body: { strategy: 'rolling' } });

    // Stop: the router answers 503 naming the app, no service is left; start serves again.
    await admin().call('stopApp', { params: { id: SLUG } });
    const stopped = await waitFor('503', async () => {
      const r = await get();
      return r.status === 503 ? r : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    assert.match(stopped.body, new RegExp(SLUG));
    assert.equal((await admin().call('getApp', { params: { id: SLUG } })).status, 'stopped');
    await waitFor('no service left', async () => (await services()).length === 0, { timeoutMs: 120_000, intervalMs: 500 });
    await admin().call('startApp', { params: { id: SLUG } });
    const before = await healthy(admin(), SLUG, 2, { release: rec, timeoutMs: 120_000 });
    await allAnswer(2, t);

    // Restart under load: every replica replaced by a fresh one, no request failed.
    const restart = await withLoad({ port: s.routerPort, host: `${SLUG}.localhost`, concurrency: 2 }, async () => {
      await admin().call('restartApp', { params: { id: SLUG } });
      await waitFor('fresh replicas', async () => {
        const items = (await admin().call('listContainers', { query: { app: SLUG } })).items;
        return items.length === 2 && items.every((c) => c.status === 'healthy' && c.in_rotation && !before.some((b) => b.id === c.id));
      }, { timeoutMs: 180_000, intervalMs: 250 });
    });
    assertNoDrops(restart, 'restart across nodes');
    await waitFor('2 services after the restart', async () => (await services()).length === 2, { timeoutMs: 120_000, intervalMs: 500 });
    await allAnswer(2, t);
    t.diagnostic(`restart of 2 replicas across nodes: ${restart.sent} requests, ${restart.failed} failed`);
    await admin().call('updateApp', { params: { id: SLUG }, body: { health_check: HC } });
    await admin().call('scaleApp', { params: { id: SLUG }, body: { replicas: 4 } });
    await healthy(admin(), SLUG, 4, { timeoutMs: 120_000 });
  });

  test('the anchor restarted: the router reaches every replica through its new namespace', async (t) => {
    // As with an engine restart on the manager: a new namespace, bound again, and the router reloads into it on its own.
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
  });

  test('placement: a bad constraint is a 400; a node label pins replicas; a constraint no node meets fails the release', async (t) => {
    const bad = await admin().call('updateApp', { params: { id: SLUG }, body: { placement: { constraints: ['node.labels.tier=web'] } } }).then(
      () => assert.fail('a constraint without == or != was accepted'),
      (err: ApiError) => err,
    );
    assert.equal(bad.status, 400);
    assert.match(String((bad.details as { field?: string }).field), /^placement\.constraints/);
    await admin().call('setNodeLabels', { params: { id: 'node1' }, body: { labels: { tier: 'web' } } });
    // Through the CLI, as an operator would.
    const home = mkdtempSync(join(tmpdir(), 'berth-cli-'));
    t.after(() => rmSync(home, { recursive: true, force: true }));
    const placedBy = await run(process.execPath, [CLI_MAIN, 'apps', 'update', SLUG, '--constraint', 'node.labels.tier==web', '--json'], {
      timeoutMs: 60_000,
      env: { ...process.env, BERTH_CONFIG: join(home, 'config.json'), BERTH_URL: s.url, BERTH_TOKEN: admin().opts.token },
    });
    assert.equal(placedBy.code, 0, placedBy.stderr);
    assert.deepEqual(JSON.parse(placedBy.stdout).placement, { constraints: ['node.labels.tier==web'] });
    await setColor('olive', 4);
    await waitFor('every replica on node1', async () => {
      const by = await replicasByNode();
      return by.node1 === 4 && by.node0 === 0 && by.node2 === 0;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    await allAnswer(4, t);

    // A placement no node meets: the release fails naming why, and the app keeps serving the last one.
    const liveBefore = (await admin().call('getApp', { params: { id: SLUG } })).release!;
    await admin().call('updateApp', { params: { id: SLUG }, body: { placement: { constraints: ['node.labels.tier==db'] } } });
    const v = (await admin().call('setEnv', { params: { id: SLUG }, body: { set: { COLOR: 'red' } } })).release!.version;
    const failed = await settled(admin(), SLUG, v, 300_000);
    assert.equal(failed.status, 'failed');
    assert.match(failed.reason ?? '', /node\.labels\.tier==db/);
    assert.match(failed.reason ?? '', /no suitable node/);
    assert.equal((await env()).COLOR, 'olive');
    await healthy(admin(), SLUG, 4, { release: liveBefore, timeoutMs: 120_000 });
    await admin().call('updateApp', { params: { id: SLUG }, body: { placement: null } });
  });

  test('without its registry running, a release fails saying so and the live one keeps serving; with it back, the next one goes live', async () => {
    const liveBefore = (await admin().call('getApp', { params: { id: SLUG } })).release!;
    // The registry is a process of its own that outlives the control plane: stop both, and start the
    // control plane with a registry binary that is not there (as when docker-registry is not installed).
    const pid = Number(readFileSync(join(s.dataDir, 'registry', 'registry.pid'), 'utf8'));
    await s.kill();
    process.kill(pid, 'SIGKILL');
    s.env.BERTH_REGISTRY_BIN = '/nonexistent/docker-registry';
    await s.start();
    try {
      const v = (await admin().call('setEnv', { params: { id: SLUG }, body: { set: { COLOR: 'teal' } } })).release!.version;
      const failed = await settled(admin(), SLUG, v, 300_000);
      assert.equal(failed.status, 'failed');
      assert.match(failed.reason ?? '', /^the nodes cannot get berth\/app_[a-z0-9]+:\d+: Berth's registry cannot start: docker-registry did not start: spawn \/nonexistent\/docker-registry ENOENT/);
      assert.equal((await admin().call('getApp', { params: { id: SLUG } })).release, liveBefore);
      await healthy(admin(), SLUG, 4, { release: liveBefore, timeoutMs: 120_000 });
      await allAnswer(4);
      assert.equal((await services(v)).length, 0);
    } finally {
      await s.kill();
      delete s.env.BERTH_REGISTRY_BIN;
      await s.start();
    }
    await setColor('teal', 4);
    assert.equal((await env()).COLOR, 'teal');
  });

  test('a worker killed under load: its replicas start elsewhere and serve again', async (t) => {
    // Measured, with the requests that failed meanwhile (those on the dead node).
    await admin().call('scaleApp', { params: { id: SLUG }, body: { replicas: 6 } });
    await setColor('any', 6);
    const before = await replicasByNode();
    const [victimHost, lost] = Object.entries(before).filter(([h]) => h !== 'node0').sort((a, b) => b[1] - a[1])[0]!;
    assert.ok(lost > 0, `no replica on a worker: ${JSON.stringify(before)}`);
    const victim = cluster.nodes[Number(victimHost.slice(4))]!;
    const addressesBefore = (await admin().call('listContainers', { query: { app: SLUG } })).items.map((c) => c.address);
    const load = startLoad({ port: s.routerPort, host: `${SLUG}.localhost`, concurrency: 4 });
    const killedAt = Date.now();
    let berthSaysBackMs: number | null = null;
    assert.equal((await run('docker', ['kill', victim.name], { timeoutMs: 60_000 })).code, 0);
    // Serving again = what a user sees: every replica answering through the router. (In one run, 60
    // requests right after the API showed all 6 in rotation reached only 5 of them.)
    await waitFor('every replica serving again on the nodes left', async () => {
      const by = await replicasByNode();
      const items = (await admin().call('listContainers', { query: { app: SLUG } })).items;
      const placed = by[victimHost] === 0 && Object.values(by).reduce((a, b) => a + b, 0) === 6;
      if (!placed || items.length !== 6 || !items.every((c) => c.status === 'healthy' && c.in_rotation)) return false;
      berthSaysBackMs ??= Date.now() - killedAt;
      return (await answering(30).catch(() => new Set())).size === 6;
    }, { timeoutMs: 180_000, intervalMs: 250 });
    const backMs = Date.now() - killedAt;
    const during = await load.stop();
    // The API says which node went away.
    await waitFor(`${victimHost} down`, async () => (await admin().call('getNode', { params: { id: victimHost } })).state === 'down', { timeoutMs: 60_000, intervalMs: 500 });
    t.diagnostic(`${victimHost} killed with ${lost} of 6 replicas: the API showed all 6 healthy in rotation after ${berthSaysBackMs} ms, all 6 answered through the router after ${backMs} ms; ${during.failed} of ${during.sent} requests failed meanwhile`);
    const addressesAfter = (await admin().call('listContainers', { query: { app: SLUG } })).items.map((c) => c.address);
    t.diagnostic(`replica addresses before ${JSON.stringify(addressesBefore.sort())}, after ${JSON.stringify(addressesAfter.sort())}`);
  });
});
