import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import type { Route } from '../../src/router/types.js';
import { runOk } from '../../src/lib/exec.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { startLoad, withLoad, viaRouter, assertNoDrops } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { assertConsistent, haproxyPid, healthy, servedRoutes, settled, startTimes } from './helpers.js';

/**
 * Faults that leave the Docker Engine running: the control plane killed while idle, HAProxy killed,
 * an app container killed (kills mid-rollout are in control-plane-strategies.test.ts). After each, everything converges, nothing is lost or
 * duplicated, and the app kept answering through the router.
 */
describe('faults: control plane, router and app containers', () => {
  let s: TestServer;
  let dev: BerthClient;
  let image: string;
  const runtime = new DockerRuntime({});
  const host = (slug: string) => `${slug}.localhost`;
  const routerPid = () => haproxyPid(s);

  // One app with three live replicas of v1 that the tests share; each may run alone (--test-name-pattern).
  let steady: Promise<unknown> | undefined;
  const steadyApp = async () => {
    steady ??= (async () => {
      await dev.call('createApp', { body: { name: 'steady', project: 'faults', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
      await dev.call('deployApp', { params: { id: 'steady' }, body: { image_id: image, replicas: 3 } });
      assert.equal((await settled(dev, 'steady', 1)).status, 'live');
    })();
    await steady;
    return healthy(dev, 'steady', 3);
  };

  before(async () => {
    image = await ensureTestAppImage(runtime);
    s = await startServer();
    dev = await s.newUser('dev');
    await dev.call('createProject', { body: { name: 'faults' } });
  });
  after(async () => {
    await s?.destroy();
  });

  test('control plane down: the app keeps answering; after start, routes unchanged and no container restarted', async () => {
    const app = 'steady';
    const before = await steadyApp();
    const ids = before.map((c) => c.docker_id!);
    const started = await startTimes(ids);
    const config = await servedRoutes(s);
    const pid = routerPid();
    const res = await withLoad({ port: s.routerPort, host: host(app) }, async (load) => {
      await s.kill();
      const sentAtKill = load.result.sent;
      await waitFor('requests served while the control plane is down', () => load.result.sent > sentAtKill + 50, { timeoutMs: 10_000 });
      await s.start();
      const restartedAt = s.output().length;
      // Something observable that needs the controllers: a new app deployed after the restart goes
      // live and answers. The route controller's first pass and the app controller's first
      // reconcile of every app ran before it (they start in that order).
      await dev.call('createApp', { body: { name: 'probe', project: 'faults', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
      await dev.call('deployApp', { params: { id: 'probe' }, body: { image_id: image } });
      assert.equal((await settled(dev, 'probe', 1)).status, 'live');
      await waitFor('the probe app to answer', async () => (await viaRouter(s.routerPort, host('probe'))).status === 200);

      assert.equal(routerPid(), pid, 'the same HAProxy process kept serving');
      assert.doesNotMatch(s.output().slice(restartedAt), /haproxy started/);
      const now = await servedRoutes(s);
      const mine = (routes: Route[]) => routes.filter((r) => r.app === app);
      assert.deepEqual(mine(now), mine(config), 'the app’s route is the one HAProxy had before');
      assert.equal(now.length, config.length + 1, 'only the probe app’s route was added');
      const afterItems = await assertConsistent(s, dev, app, 3, 1);
      assert.deepEqual(afterItems.map((c) => c.docker_id).sort(), [...ids].sort(), 'the same containers');
      assert.deepEqual(await startTimes(ids), started, 'no container was restarted');
    });
    assertNoDrops(res, 'with the control plane down');
  });

  test('HAProxy killed: it is started again from its config file and serves the same routes within seconds', async (t) => {
    const app = 'steady';
    await steadyApp();
    const routesBefore = await servedRoutes(s);
    const pid = routerPid();
    process.kill(pid, 'SIGKILL');
    const t0 = Date.now();
    // The killed master's worker may still answer for a moment before it notices and exits, so an
    // answer alone proves nothing: wait for a new master (its pid file rewritten) that answers.
    const newMaster = () => {
      try {
        const now = routerPid();
        return Number.isInteger(now) && now > 0 && now !== pid;
      } catch {
        return false; // the pid file is being rewritten
      }
    };
    await waitFor(
      'the app to answer through a new HAProxy',
      async () => newMaster() && (await viaRouter(s.routerPort, host(app), '/', undefined, 2000)).status === 200,
      { timeoutMs: 12_000, intervalMs: 100 },
    );
    const downMs = Date.now() - t0;
    assert.ok(downMs < 10_000, `answered again after ${downMs} ms`);
    assert.deepEqual(await servedRoutes(s), routesBefore);
    t.diagnostic(`HAProxy answered again ${downMs} ms after kill -9 (restarted by the router's watch)`);
    // Steady again: a fresh load sees no failure.
    const load = startLoad({ port: s.routerPort, host: host(app) });
    await waitFor('some requests', () => load.result.sent > 200, { timeoutMs: 20_000 });
    const res = await load.stop();
    assertNoDrops(res, 'across the HAProxy restart');
    assert.equal(res.hostnames.size, 3, 'all three replicas in rotation');
  });

  test('a killed app container is restarted, rejoins rotation, and the app kept serving', async () => {
    const app = 'steady';
    const items = await steadyApp();
    const victim = items[0];
    const startedBefore = (await startTimes([victim.docker_id!]))[victim.docker_id!].split(' ')[0];
    const res = await withLoad({ port: s.routerPort, host: host(app) }, async (load) => {
      await waitFor('load running', () => load.result.sent > 50, { timeoutMs: 10_000 });
      await runOk('docker', ['kill', victim.docker_id!], { timeoutMs: 20_000 });
      // `docker kill` counts as a manual stop, so Docker's restart policy leaves it down: the controller
      // starts the same container again (its log stays) and returns it to rotation once healthy.
      await waitFor(
        'the killed replica to be healthy and in rotation again',
        async () => {
          const c = await dev.call('getContainer', { params: { id: victim.id } });
          const startedAt = (await startTimes([victim.docker_id!]))[victim.docker_id!].split(' ')[0];
          return c.status === 'healthy' && c.in_rotation && startedAt !== startedBefore;
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      const crashed = (await dev.call('listEvents', { query: { app } })).items.find((e) => e.kind === 'container.crashed');
      assert.ok(crashed, 'the crash is in the events');
      await assertConsistent(s, dev, app, 3, 1);
      const seen = load.result.hostnames.size;
      await waitFor('requests to reach all three replicas again', () => load.result.hostnames.size >= 3 && load.result.sent > seen, { timeoutMs: 10_000 });
    });
    // A GET that was inside the replica when it was SIGKILLed, or that the router sent on a pooled
    // connection to it, ends with no answer; the router sends it again to another replica (only safe
    // methods are resent, test/router/haproxy.test.ts), so the load sees no failure at all.
    assertNoDrops(res, 'across the killed replica');
    console.log(`# killed replica: ${res.failed} of ${res.sent} requests failed (${res.failures.join('; ') || 'none'})`);
  });
});
