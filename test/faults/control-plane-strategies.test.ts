import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type Engine, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { withLoad, viaRouter, assertNoDrops } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { assertConsistent, assertOneLive, enginePs, healthy, settled, type Container } from './helpers.js';

type Strategy = 'rolling' | 'blue-green' | 'recreate';

/**
 * kill -9 of the control plane in the middle of each rollout strategy and of a scale-up, on both
 * databases: after the restart the rollout finishes, the release goes live, nothing is duplicated
 * or orphaned, and what promises no downtime lost no request.
 */
interface KillPoint {
  strategy: Strategy;
  /** The moment to kill at, read from the API: the rollout has started its new replicas but not finished. */
  moment: string;
  reached: (v2: Container[], v1: Container[]) => boolean;
}

const starting: KillPoint = {
  strategy: 'rolling',
  moment: 'a new replica is starting',
  reached: (v2, v1) => v2.length > 0 && v1.length === 3,
};
const shifted: KillPoint = {
  strategy: 'rolling',
  moment: 'a new replica took traffic and an old one is retiring',
  reached: (v2, v1) => v2.some((c) => c.in_rotation) && v1.filter((c) => c.in_rotation).length < 3,
};
const greenStarting: KillPoint = {
  strategy: 'blue-green',
  moment: 'the whole green set is in its grace period; blue takes all the traffic',
  reached: (v2, v1) => v2.length === 3 && !v2.some((c) => c.in_rotation) && v1.filter((c) => c.in_rotation).length === 3,
};
const recreating: KillPoint = {
  strategy: 'recreate',
  moment: 'the old set is gone and the new one is part-way up',
  reached: (v2, v1) => v1.length === 0 && v2.length > 0 && v2.filter((c) => c.status === 'healthy').length < 3,
};
const points: Record<Engine, KillPoint[]> = {
  sqlite: [starting, shifted, greenStarting, recreating],
  postgres: [shifted, greenStarting, recreating],
};

for (const engine of ['sqlite', 'postgres'] as Engine[]) {
  describe(`faults: kill -9 mid-rollout, per strategy (${engine})`, () => {
    let s: TestServer;
    let dev: BerthClient;
    let image: string;
    const runtime = new DockerRuntime({});
    const host = (slug: string) => `${slug}.localhost`;

    before(async () => {
      image = await ensureTestAppImage(runtime);
      s = await startServer({ engine });
      dev = await s.newUser('dev');
      await dev.call('createProject', { body: { name: 'strategies' } });
    });
    after(async () => {
      await s?.destroy();
    });

    for (const [i, { strategy, moment, reached }] of points[engine].entries()) {
      test(`${strategy}, killed when ${moment}: the rollout finishes after the restart, nothing duplicated${strategy === 'recreate' ? '' : ', no request failed'}`, async () => {
        const app = `kill-${i}-${strategy}`;
        // A grace period makes each new replica take seconds, which leaves room to kill mid-way.
        await dev.call('createApp', { body: { name: app, project: 'strategies', strategy, health_check: { path: '/health', timeout_s: 30, grace_s: 2 } } });
        await dev.call('deployApp', { params: { id: app }, body: { image_id: image, replicas: 3 } });
        assert.equal((await settled(dev, app, 1)).status, 'live');
        await healthy(dev, app, 3);

        const res = await withLoad({ port: s.routerPort, host: host(app) }, async (load) => {
          assert.equal((await dev.call('deployApp', { params: { id: app }, body: { image_id: image } })).version, 2);
          await waitFor(
            `the ${strategy} rollout to reach the moment where ${moment}`,
            async () => {
              const items = (await dev.call('listContainers', { query: { app } })).items;
              return reached(
                items.filter((c) => c.release === 2),
                items.filter((c) => c.release === 1),
              );
            },
            { timeoutMs: 60_000, intervalMs: 50 },
          );
          assert.equal((await dev.call('getRelease', { params: { id: app, version: 2 } })).status, 'deploying');
          await s.kill();
          const sentAtKill = load.result.sent;
          await waitFor('requests answered while the control plane is down', () => load.result.sent > sentAtKill + 20, { timeoutMs: 10_000 });
          await s.start();

          const rel = await settled(dev, app, 2);
          assert.equal(rel.status, 'live', rel.reason ?? '');
          assert.equal((await assertOneLive(dev, app)).version, 2);
          assert.equal((await dev.call('getRelease', { params: { id: app, version: 1 } })).status, 'superseded');
          if (strategy === 'blue-green') await assertBlueGreenSettled(s, dev, app);
          else await assertConsistent(s, dev, app, 3, 2);
          const r = await viaRouter(s.routerPort, host(app), '/');
          assert.equal(JSON.parse(r.body).env.BERTH_RELEASE, 'v2');
        });
        assert.ok(res.sent > 100, `the load ran (${res.sent} requests)`);
        // Recreate stops the old set before the new one starts: downtime is what it promises.
        if (strategy === 'recreate') console.log(`# recreate across a kill: ${res.failed} of ${res.sent} requests failed, by design`);
        else assertNoDrops(res, `${strategy} across the kill and the restart`);
      });
    }

    test('scale 1 -> 6, killed while the new replicas start: all six serve after the restart, none doubled, no request failed', async () => {
      const app = 'kill-scale';
      await dev.call('createApp', { body: { name: app, project: 'strategies', health_check: { path: '/health', timeout_s: 30, grace_s: 2 } } });
      await dev.call('deployApp', { params: { id: app }, body: { image_id: image, replicas: 1 } });
      assert.equal((await settled(dev, app, 1)).status, 'live');
      await healthy(dev, app, 1);
      const res = await withLoad({ port: s.routerPort, host: host(app) }, async () => {
        await dev.call('scaleApp', { params: { id: app }, body: { replicas: 6 } });
        await waitFor(
          'new replicas on their way, none in rotation yet',
          async () => {
            const items = (await dev.call('listContainers', { query: { app } })).items;
            return items.length > 1 && items.filter((c) => c.in_rotation).length === 1;
          },
          { timeoutMs: 60_000, intervalMs: 50 },
        );
        await s.kill();
        await s.start();
        await assertConsistent(s, dev, app, 6, 1);
        assert.equal((await assertOneLive(dev, app)).version, 1, 'scaling makes no release');
      });
      assertNoDrops(res, 'scale-up across the kill and the restart');
    });
  });
}

/**
 * After blue-green: v2 serves with three replicas, and v1's set is kept stopped for a fast rollback.
 * The API and the engine agree container for container; each release has one container per replica.
 */
async function assertBlueGreenSettled(s: TestServer, dev: BerthClient, app: string): Promise<void> {
  const appId = (await dev.call('getApp', { params: { id: app } })).id;
  const all = await waitFor(
    'v2 serving with three replicas and v1 kept stopped',
    async () => {
      const items = (await dev.call('listContainers', { query: { app } })).items;
      const green = items.filter((c) => c.release === 2);
      const blue = items.filter((c) => c.release === 1);
      const ok =
        items.length === 6 &&
        green.every((c) => c.status === 'healthy' && c.in_rotation) &&
        blue.every((c) => c.status === 'stopped' && !c.in_rotation);
      return ok ? { green, blue } : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  for (const set of [all.green, all.blue]) assert.deepEqual(set.map((c) => c.replica).sort(), [0, 1, 2], 'one container per replica index');
  const engine = await waitFor(
    'the engine to hold exactly the API’s containers',
    async () => {
      const e = await enginePs(s, appId);
      return e.length === 6 ? e : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  const byId = new Map(engine.map((e) => [e.id, e]));
  for (const c of all.green) assert.equal(byId.get(c.docker_id!)?.state, 'running', `v2 replica ${c.replica} runs`);
  for (const c of all.blue) assert.equal(byId.get(c.docker_id!)?.state, 'exited', `v1 replica ${c.replica} is stopped, kept for rollback`);
}
