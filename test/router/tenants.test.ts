import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { startLoad, viaRouter, assertNoDrops } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { healthy, settled } from '../support/rollout.js';
import { openEventStream, openWebSocket, type Stream } from '../support/streams.js';

/**
 * Tenants never feel each other: while app A goes through everything an app can go through, app B's
 * WebSockets, SSE streams and keep-alive requests (Node's http.Agent, which resends nothing) see
 * not one failure and not one closed connection. With Caddy, creating A alone closed all of B's
 * WebSockets.
 */
describe('tenants never feel each other', () => {
  let s: TestServer;
  let dev: BerthClient;
  let image: string;
  const streams: Stream[] = [];

  before(async () => {
    image = await ensureTestAppImage(new DockerRuntime({}));
    // Custom domains here are *.localhost names proven by the router's HTTP answer (TXT proofs: test/security/domains.test.ts).
    s = await startServer({ env: { BERTH_DOMAIN_VERIFY: 'http' } });
    dev = await s.newUser('tenant');
    await dev.call('createApp', { body: { name: 'bee', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    const rel = await dev.call('deployApp', { params: { id: 'bee' }, body: { image_id: image, replicas: 2 } });
    assert.equal((await settled(dev, 'bee', rel.version)).status, 'live');
  });
  after(async () => {
    for (const st of streams) st.close();
    await s?.destroy();
  });

  test("app A's whole life leaves app B's requests, WebSockets and SSE streams untouched", async (t) => {
    const port = s.routerPort;
    for (let i = 0; i < 20; i++) streams.push(await openWebSocket(port, 'bee.localhost'));
    for (let i = 0; i < 5; i++) streams.push(await openEventStream(port, 'bee.localhost'));
    const load = startLoad({ port, host: 'bee.localhost', concurrency: 4, maxMs: 600_000 });
    const steps: string[] = [];
    const step = (what: string) => steps.push(`${what} (B: ${load.result.sent} sent, ${load.result.failed} failed)`);

    await dev.call('createApp', { body: { name: 'ay', health_check: { path: '/health', timeout_s: 30, grace_s: 0 }, drain_timeout_s: 2 } });
    step('A created');
    let version = (await dev.call('deployApp', { params: { id: 'ay' }, body: { image_id: image } })).version;
    assert.equal((await settled(dev, 'ay', version)).status, 'live');
    // Ten deploys in all, across the three strategies.
    for (const strategy of ['rolling', 'blue-green', 'recreate'] as const) {
      await dev.call('updateApp', { params: { id: 'ay' }, body: { strategy } });
      for (let i = 0; i < 3; i++) {
        version = (await dev.call('setEnv', { params: { id: 'ay' }, body: { set: { STEP: `${strategy}-${i}` } } })).release!.version;
        assert.equal((await settled(dev, 'ay', version)).status, 'live', `A v${version} (${strategy})`);
      }
      step(`A deployed 3x ${strategy}`);
    }
    await dev.call('scaleApp', { params: { id: 'ay' }, body: { replicas: 5 } });
    await healthy(dev, 'ay', 5);
    await dev.call('scaleApp', { params: { id: 'ay' }, body: { replicas: 1 } });
    await healthy(dev, 'ay', 1);
    step('A scaled 1 -> 5 -> 1');
    const old = new Set((await dev.call('listContainers', { query: { app: 'ay' } })).items.map((c) => c.id));
    await dev.call('restartApp', { params: { id: 'ay' } });
    await waitFor('A restarted', async () => (await healthy(dev, 'ay', 1)).every((c) => !old.has(c.id)), { timeoutMs: 120_000 });
    step('A restarted');
    await dev.call('stopApp', { params: { id: 'ay' } });
    await waitFor('A stopped (503)', async () => (await viaRouter(port, 'ay.localhost')).status === 503, { timeoutMs: 60_000 });
    await dev.call('startApp', { params: { id: 'ay' } });
    await healthy(dev, 'ay', 1);
    await waitFor('A serving again', async () => (await viaRouter(port, 'ay.localhost')).status === 200, { timeoutMs: 60_000 });
    step('A stopped and started');
    const domain = `www.ay-${process.pid}.localhost`;
    const d = await dev.call('addDomain', { params: { id: 'ay' }, body: { hostname: domain } });
    assert.equal(d.verified, true, `not verified: ${d.message}`);
    await waitFor('A on its custom domain', async () => (await viaRouter(port, domain)).status === 200);
    await dev.call('removeDomain', { params: { id: 'ay', hostname: domain } });
    await waitFor('the domain gone', async () => (await viaRouter(port, domain)).status === 404);
    step('A custom domain added, verified, removed');
    await dev.call('deleteApp', { params: { id: 'ay' } });
    await waitFor('A gone (404)', async () => (await viaRouter(port, 'ay.localhost')).status === 404, { timeoutMs: 60_000 });
    step('A deleted');

    // B's streams are still open and still flowing: each gets new messages after all of the above.
    const seen = streams.map((st) => st.received);
    await waitFor('every stream of B to receive more', () => streams.every((st, i) => st.received > seen[i]), { timeoutMs: 10_000 });
    const r = await load.stop();
    const metrics = await dev.call('getAppMetrics', { params: { id: 'bee' } });
    t.diagnostic(steps.join('; '));
    t.diagnostic(`B: ${r.sent} requests, ${r.failed} failed; ${streams.length} streams, ${streams.filter((st) => st.closed).length} closed`);
    assert.deepEqual(streams.filter((st) => st.closed).map((st) => `${st.kind}: ${st.closed}`), [], 'no stream of B closed');
    assertNoDrops(r, "app B through app A's whole life");
    assert.ok(r.sent > 500, `enough load to mean something: ${r.sent}`);

    // The router's own counters for B, through the API: its replicas, the open streams, the load.
    assert.equal(metrics.app, 'bee');
    assert.equal(metrics.replicas.length, 2);
    const containers = (await dev.call('listContainers', { query: { app: 'bee' } })).items.map((c) => c.id).sort();
    assert.deepEqual(metrics.replicas.map((x) => x.container).sort(), containers);
    assert.ok(metrics.total.current_sessions >= 25, `20 WebSockets and 5 SSE streams open: ${metrics.total.current_sessions}`);
    assert.ok(metrics.total.responses['2xx'] >= r.sent - 10, `B's 2xx responses (${metrics.total.responses['2xx']}) count the load (${r.sent})`);
    assert.equal(metrics.total.responses['5xx'], 0);
  });
});
