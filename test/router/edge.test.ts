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
import { openWebSocket } from '../support/streams.js';
import { servedRoutes } from '../faults/helpers.js';

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
    // Custom domains here are *.localhost names proven by the router's HTTP answer (TXT proofs: test/security/domains.test.ts).
    s = await startServer({ env: { BERTH_DOMAIN_VERIFY: 'http' } });
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

  test('HTTPS under load through many route and certificate changes: no failed handshake or request', async (t) => {
    const ca = readFileSync(join(s.dataDir, 'tls', 'ca.crt'));
    await waitFor('an HTTPS answer', async () => (await getHttps(s.routerHttpsPort, 'shop.localhost', ca).catch(() => undefined))?.status === 200, {
      timeoutMs: 30_000,
    });
    let sent = 0;
    const failures: string[] = [];
    let stop = false;
    // A new connection (and TLS handshake) for every request.
    const worker = async () => {
      while (!stop) {
        sent++;
        try {
          const r = await getHttps(s.routerHttpsPort, 'shop.localhost', ca);
          if (r.status !== 200) failures.push(`HTTP ${r.status}`);
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const workers = [worker(), worker(), worker()];
    try {
      // Each app is a new host (a route and a certificate from Berth's CA); then they all go.
      for (let i = 0; i < 6; i++) await dev.call('createApp', { body: { name: `tls-${i}` } });
      await waitFor('the new apps served over HTTPS', async () => {
        for (let i = 0; i < 6; i++) if ((await getHttps(s.routerHttpsPort, `tls-${i}.localhost`, ca).catch(() => undefined))?.status !== 503) return false;
        return true;
      }, { timeoutMs: 60_000 });
      const v = await dev.call('setEnv', { params: { id: 'shop' }, body: { set: { STEP: 'tls' } } });
      assert.equal((await settle('shop', v.release!.version)).status, 'live');
      for (let i = 0; i < 6; i++) await dev.call('deleteApp', { params: { id: `tls-${i}` } });
      await waitFor('the apps gone', async () => (await viaRouter(s.routerPort, 'tls-5.localhost')).status === 404, { timeoutMs: 60_000 });
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    t.diagnostic(`${sent} HTTPS requests, each on a new TLS connection: ${failures.length} failed`);
    assert.ok(sent > 100, `enough handshakes: ${sent}`);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${sent} failed`);
  });

  test('a WebSocket to a replaced replica stays open through its drain, then closes at the drain timeout', async (t) => {
    await dev.call('updateApp', { params: { id: 'shop' }, body: { drain_timeout_s: 3 } });
    await waitFor('the drain timeout in the router', async () => (await servedRoutes(s)).find((r) => r.app === 'shop')?.drainTimeoutMs === 3000);
    const ws = await openWebSocket(s.routerPort, 'shop.localhost');
    const old = new Set((await dev.call('listContainers', { query: { app: 'shop' } })).items.map((c) => c.id));
    await dev.call('restartApp', { params: { id: 'shop' } });
    // The test app sends its hostname: the container's short id.
    const mine = (await dev.call('listContainers', { query: { app: 'shop' } })).items.find((c) => c.docker_id?.startsWith(ws.last ?? '-'));
    assert.ok(mine, `the socket's replica (${ws.last}) is one of the app's`);
    // Its replica leaves rotation (draining): the socket is still open and still gets messages.
    const leftAt = await waitFor("the socket's replica to leave rotation", async () => {
      const c = (await dev.call('listContainers', { query: { app: 'shop' } })).items.find((x) => x.id === mine.id);
      return !c || !c.in_rotation ? Date.now() : undefined;
    }, { timeoutMs: 120_000, intervalMs: 50 });
    assert.equal(ws.closed, undefined, 'open when its replica left rotation');
    const got = ws.received;
    await waitFor('messages through the drain', () => ws.received > got + 1 || ws.closed !== undefined, { timeoutMs: 10_000 });
    assert.ok(ws.received > got + 1, `the socket kept working while its replica drained (closed: ${ws.closed})`);
    await waitFor('the socket closed by the drain timeout', () => ws.closed !== undefined, { timeoutMs: 60_000 });
    t.diagnostic(`WebSocket closed ${Date.now() - leftAt} ms after its replica was seen leaving rotation (drain timeout 3 s): ${ws.closed}`);
    await waitFor('fresh replicas', async () => {
      const items = (await dev.call('listContainers', { query: { app: 'shop' } })).items;
      return items.length === 2 && items.every((c) => !old.has(c.id) && c.status === 'healthy' && c.in_rotation);
    }, { timeoutMs: 120_000 });
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
