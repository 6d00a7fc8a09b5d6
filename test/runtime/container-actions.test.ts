import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { dockerInspect } from '../support/docker.js';
import { viaRouter } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { healthy, settled } from '../support/rollout.js';

// POST /containers/{id}/stop and /start only mark the container; the app controller acts on the
// real engine and router. What a user sees: the container stops, the app keeps answering from the
// other replica, the stopped one is not replaced, and a start brings it back into rotation.

let s: TestServer;
let dev: BerthClient;
const runtime = new DockerRuntime({});

before(async () => {
  const image = await ensureTestAppImage(runtime);
  s = await startServer();
  dev = await s.newUser('dev');
  await dev.call('createApp', { body: { name: 'pair', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
  await dev.call('deployApp', { params: { id: 'pair' }, body: { image_id: image, replicas: 2 } });
  assert.equal((await settled(dev, 'pair', 1, 90_000)).status, 'live');
});
after(async () => {
  await s?.destroy();
});

test('a container stopped through the API is stopped by the controller and not replaced; a start brings it back into rotation', async () => {
  const [one, other] = await healthy(dev, 'pair', 2, { timeoutMs: 90_000 });
  const stopped = await dev.call('stopContainer', { params: { id: one.id } });
  assert.equal(stopped.status, 'stopped');
  assert.equal(stopped.in_rotation, false);
  await waitFor('the engine container to stop', async () => (await dockerInspect(one.docker_id!)).State.Running === false, { timeoutMs: 60_000 });
  // The other replica serves; the stopped one is neither restarted nor replaced.
  for (let i = 0; i < 5; i++) assert.equal((await viaRouter(s.routerPort, 'pair.localhost', '/health')).status, 200);
  const list = (await dev.call('listContainers', { query: { app: 'pair' } })).items;
  assert.deepEqual(list.map((c) => [c.id, c.status]).sort(), [[one.id, 'stopped'], [other.id, 'healthy']].sort());

  const started = await dev.call('startContainer', { params: { id: one.id } });
  assert.equal(started.status, 'starting');
  await waitFor(
    'the started container to be healthy and in rotation',
    async () => {
      const c = await dev.call('getContainer', { params: { id: one.id } }).catch(() => undefined);
      return c?.status === 'healthy' && c.in_rotation;
    },
    { timeoutMs: 90_000 },
  );
  assert.equal((await dockerInspect(one.docker_id!)).State.Running, true);
  const events = (await dev.call('listEvents', { query: { app: 'pair' } })).items.map((e) => e.kind);
  assert.ok(!events.includes('container.crashed'), `a stop and start by hand is no crash: ${events}`);
});
