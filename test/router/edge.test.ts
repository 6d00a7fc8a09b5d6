import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { startLoad, viaRouter, assertNoDrops } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { settled } from '../support/rollout.js';
import { getHttps } from './helpers.js';

/**
 * The edge router as a user meets it: apps by hostname, custom domains, HTTPS, and traffic that
 * keeps flowing through every kind of rollout.
 */
describe('edge router in front of deployed apps', () => {
  let s: TestServer;
  let dev: BerthClient;
  let image: string;

  const settle = (slug: string, version: number) => settled(dev, slug, version);

  before(async () => {
    image = await ensureTestAppImage(new DockerRuntime({}));
    s = await startServer();
    dev = await s.newUser('edge');
    await dev.call('createApp', { body: { name: 'shop', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    const rel = await dev.call('deployApp', { params: { id: 'shop' }, body: { image_id: image, replicas: 2 } });
    assert.equal((await settle('shop', rel.version)).status, 'live');
  });
  after(async () => {
    await s?.destroy();
  });

  test('zero failed requests through rolling, blue-green, rollback and restart', async (t) => {
    const load = startLoad({ port: s.routerPort, host: 'shop.localhost', concurrency: 4 });
    // Rolling (the default): a config change makes v2.
    const v2 = await dev.call('setEnv', { params: { id: 'shop' }, body: { set: { STEP: 'rolling' } } });
    assert.equal((await settle('shop', v2.release!.version)).status, 'live');
    // Blue-green: the whole new set, then one switch.
    await dev.call('updateApp', { params: { id: 'shop' }, body: { strategy: 'blue-green' } });
    const v3 = await dev.call('setEnv', { params: { id: 'shop' }, body: { set: { STEP: 'blue-green' } } });
    assert.equal((await settle('shop', v3.release!.version)).status, 'live');
    // Rollback to v2 (a rolling release).
    const rb = await dev.call('rollbackApp', { params: { id: 'shop' }, body: { release: v2.release!.version } });
    assert.equal((await settle('shop', rb.version)).status, 'live');
    // Rolling restart.
    const before = new Set((await dev.call('listContainers', { query: { app: 'shop' } })).items.map((c) => c.id));
    await dev.call('restartApp', { params: { id: 'shop' } });
    await waitFor('fresh replicas', async () => {
      const items = (await dev.call('listContainers', { query: { app: 'shop' } })).items;
      return items.length === 2 && items.every((c) => !before.has(c.id) && c.status === 'healthy' && c.in_rotation);
    }, { timeoutMs: 120_000 });
    const r = await load.stop();
    t.diagnostic(`requests sent: ${r.sent}, failed: ${r.failed} (Node http.Agent keep-alive, no resend)`);
    assertNoDrops(r, 'rolling, blue-green, rollback and restart');
    assert.ok(r.sent > 100, `too few requests to mean anything: ${r.sent}`);
    const envNow = JSON.parse((await viaRouter(s.routerPort, 'shop.localhost')).body).env;
    assert.equal(envNow.STEP, 'rolling', 'the rollback restored v2 config');
  });

  test('a custom domain is routed once verified; one that does not point here is not', async () => {
    const host = `www.shop-${process.pid}.localhost`;
    assert.equal((await viaRouter(s.routerPort, host)).status, 404, 'not routed before it is added');
    const d = await dev.call('addDomain', { params: { id: 'shop' }, body: { hostname: host } });
    assert.equal(d.verified, true, `not verified: ${d.message}`);
    const res = await waitFor('the domain routed', async () => {
      const r = await viaRouter(s.routerPort, host);
      return r.status === 200 ? r : undefined;
    });
    assert.ok(JSON.parse(res.body).hostname);

    const bad = await dev.call('addDomain', { params: { id: 'shop' }, body: { hostname: 'shop.example.invalid' } });
    assert.equal(bad.verified, false);
    assert.match(bad.message ?? '', /does not resolve/);
    assert.equal((await viaRouter(s.routerPort, 'shop.example.invalid')).status, 404);
    const listed = await dev.call('listDomains', { params: { id: 'shop' } });
    assert.deepEqual(listed.items.map((x) => [x.hostname, x.verified]), [['shop.example.invalid', false], [host, true]]);

    const taken = await s.newUser('squatter');
    await taken.call('createApp', { body: { name: 'squat' } });
    await assert.rejects(taken.call('addDomain', { params: { id: 'squat' }, body: { hostname: host } }), /already in use/);
    await assert.rejects(dev.call('addDomain', { params: { id: 'shop' }, body: { hostname: 'other.localhost' } }), /app address on this platform/);

    await dev.call('removeDomain', { params: { id: 'shop', hostname: host } });
    await waitFor('404 after removal', async () => (await viaRouter(s.routerPort, host)).status === 404);
  });

  test("HTTPS for *.localhost with a certificate from Berth's CA", async () => {
    const ca = readFileSync(join(s.dataDir, 'tls', 'ca.crt'));
    const res = await waitFor('an HTTPS answer', async () => {
      try {
        const r = await getHttps(s.routerHttpsPort, 'shop.localhost', ca);
        return r.status === 200 ? r : undefined;
      } catch {
        return undefined;
      }
    }, { timeoutMs: 30_000 });
    assert.ok(JSON.parse(res.body).hostname);
  });

  test('the data plane outlives the control plane: routes serve while it is down, unchanged after', async () => {
    const before = (await dev.call('listContainers', { query: { app: 'shop' } })).items;
    const load = startLoad({ port: s.routerPort, host: 'shop.localhost', concurrency: 2 });
    await s.kill();
    const down = await viaRouter(s.routerPort, 'shop.localhost');
    assert.equal(down.status, 200);
    await s.start();
    await waitFor('control plane healthy', async () => (await fetch(new URL('/healthz', s.url))).status === 200);
    // The reconcile pass on start finds nothing to change: the same containers keep serving.
    const after = await dev.call('listContainers', { query: { app: 'shop' } });
    assert.deepEqual(after.items.map((c) => c.id).sort(), before.map((c) => c.id).sort());
    const r = await load.stop();
    assertNoDrops(r, 'across the control-plane restart');
    assert.equal((await dev.call('listContainers', { query: { app: 'shop' } })).items.length, 2);
  });
});
