import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { hostname } from 'node:os';
import { lookup } from 'node:dns/promises';
import type { BerthClient } from '../../src/client/index.js';
import { ApiError } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { loadConfig } from '../../src/config.js';
import { addressAllowed, parseEgressAllow } from '../../src/lib/egress.js';
import { run } from '../../src/lib/exec.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { waitBuild } from '../builds/helpers.js';

/**
 * Issue #18, server-side requests: a tenant names URLs and hosts the control plane (or the engine,
 * for it) connects to. With the default (closed) egress rule none of them reaches loopback, the
 * bridge, another tenant's container or this host, whether named by address or by a name that
 * resolves there when the connection is made; and a refused delivery says only that it was refused.
 */

const CLOSED = parseEgressAllow('');

test('the rule: internal ranges and every IPv6 form of them are refused, public addresses pass, an allow-list opens only what it names', () => {
  for (const a of [
    '127.0.0.1', '127.1.2.3', '10.1.2.3', '172.17.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1',
    '::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '64:ff9b::a9fe:a9fe', '2002:7f00:1::1', '::127.0.0.1',
  ]) {
    assert.equal(addressAllowed(a, CLOSED), false, a);
  }
  for (const a of ['93.184.216.34', '2606:4700::1111', '8.8.8.8']) assert.equal(addressAllowed(a, CLOSED), true, a);
  const some = parseEgressAllow(' 127.0.0.1/32 , fd12::/16, registry.internal ');
  assert.equal(addressAllowed('127.0.0.1', some), true);
  assert.equal(addressAllowed('::ffff:127.0.0.1', some), true, 'the mapped form of an allowed address');
  assert.equal(addressAllowed('127.0.0.2', some), false);
  assert.equal(addressAllowed('fd12:3::1', some), true);
  assert.equal(addressAllowed('10.0.0.1', some), false);
  assert.ok(some.hosts.has('registry.internal'));
});

test('an internal ACME directory stops the server from starting unless allowed', () => {
  const env = { ROUTER_ACME_EMAIL: 'ops@example.com', ROUTER_ACME_DIRECTORY: 'https://127.0.0.1:14000/dir' };
  assert.throws(() => loadConfig(env), /ROUTER_ACME_DIRECTORY .*refused by Berth's egress rule/);
  assert.throws(() => loadConfig({ ...env, ROUTER_ACME_DIRECTORY: 'https://localhost:14000/dir' }), /egress rule/);
  assert.equal(loadConfig({ ...env, BERTH_EGRESS_ALLOW: '127.0.0.1/32' }).acmeDirectory, env.ROUTER_ACME_DIRECTORY);
  assert.equal(loadConfig({ ROUTER_ACME_DIRECTORY: env.ROUTER_ACME_DIRECTORY }).acmeDirectory, env.ROUTER_ACME_DIRECTORY, 'no ACME account: never used');
});

describe('egress: two tenants, the default closed rule', () => {
  let s: TestServer;
  let alice: BerthClient;
  let bob: BerthClient;
  let image: string;
  // A "victim" service on this machine: it must never see a connection from Berth.
  let victim: Server;
  let victimPort: number;
  let closedPort: number;
  const hits: string[] = [];
  const suffix = uniqueSuffix();
  const aliceApp = `eg-a-${suffix}`;
  const bobApp = `eg-b-${suffix}`;
  // This machine's own name: it passes the check made when it is given (a name, not an address) and
  // resolves to loopback when connected to, like a DNS record an attacker points at 127.0.0.1 later.
  const own = hostname().toLowerCase();
  let bobAddr = '';

  const refusal = async (p: Promise<unknown>, field: string, what: string) => {
    try {
      await p;
    } catch (err) {
      assert.ok(err instanceof ApiError, `${what}: ${String(err)}`);
      assert.equal(err.status, 400, `${what}: ${err.message}`);
      assert.equal((err.details as { field?: string } | undefined)?.field, field, `${what}: ${err.message}`);
      assert.match(err.message, /refused by Berth's egress rule/, what);
      return;
    }
    assert.fail(`${what}: accepted`);
  };

  before(async () => {
    assert.equal((await lookup(own)).address.startsWith('127.'), true, `${own} must resolve to loopback on this machine`);
    image = await ensureTestAppImage(new DockerRuntime({}));
    victim = createServer((sock) => {
      hits.push(String(sock.remoteAddress));
      sock.destroy();
    });
    await new Promise<void>((r) => victim.listen(0, '0.0.0.0', r));
    victimPort = (victim.address() as { port: number }).port;
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    s = await startServer();
    alice = await s.newUser('alice');
    bob = await s.newUser('bob');
    const pa = await alice.call('createProject', { body: { name: 'pa' } });
    const pb = await bob.call('createProject', { body: { name: 'pb' } });
    await alice.call('createApp', { body: { name: aliceApp, project: pa.id, health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    await bob.call('createApp', { body: { name: bobApp, project: pb.id, health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    const r = await bob.call('deployApp', { params: { id: bobApp }, body: { image_id: image } });
    await waitFor('bob live', async () => (await bob.call('getRelease', { params: { id: bobApp, version: r.version } })).status === 'live', { timeoutMs: 90_000, intervalMs: 200 });
    const ids = (await run('docker', ['ps', '-q', '--filter', `label=berth.instance=${s.instance}`], { timeoutMs: 10_000 })).stdout.split('\n').filter(Boolean);
    bobAddr = (await run('docker', ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', ...ids], { timeoutMs: 10_000 })).stdout.trim().split(/\s+/)[0];
    assert.match(bobAddr, /^\d+\.\d+\.\d+\.\d+$/);
  });
  after(async () => {
    await s?.destroy();
    victim?.close();
  });

  test("notification URLs at loopback, the bridge, another tenant's container, link-local or this host are a 400 naming url", async () => {
    const urls = [
      `http://127.0.0.1:${victimPort}/`,
      `http://localhost:${victimPort}/`,
      `http://app.localhost:${victimPort}/`,
      `http://[::1]:${victimPort}/`,
      `http://[::ffff:127.0.0.1]:${victimPort}/`,
      `http://2130706433:${victimPort}/`,
      `http://0x7f.1:${victimPort}/`,
      `http://0:${victimPort}/`,
      'http://172.17.0.1:2375/containers/create',
      `http://${bobAddr}:3000/`,
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/',
      'http://100.64.0.1/',
      'http://192.0.2.2/',
      'http://[fd00::1]/',
    ];
    for (const url of urls) await refusal(alice.call('addNotification', { params: { id: aliceApp }, body: { kind: 'webhook', url } }), 'url', url);
    assert.deepEqual((await alice.call('listNotifications', { params: { id: aliceApp } })).items, []);
    assert.deepEqual(hits, []);
  });

  test('a name that resolves to loopback when the delivery is sent is refused then, and open and closed ports read the same', async () => {
    const open = await alice.call('addNotification', { params: { id: aliceApp }, body: { kind: 'webhook', url: `http://${own}:${victimPort}/hook` } });
    const closed = await alice.call('addNotification', { params: { id: aliceApp }, body: { kind: 'webhook', url: `http://${own}:${closedPort}/hook` } });
    const r = await alice.call('deployApp', { params: { id: aliceApp }, body: { image_id: image } });
    await waitFor('alice live', async () => (await alice.call('getRelease', { params: { id: aliceApp, version: r.version } })).status === 'live', { timeoutMs: 90_000, intervalMs: 200 });
    const errors = async (id: string) => {
      const d = await alice.call('listNotificationDeliveries', { params: { id: aliceApp, target: id }, query: {} });
      return d.items.length > 0 && d.items.every((x) => x.attempts > 0) ? d.items.map((x) => x.last_error) : undefined;
    };
    const a = await waitFor('attempts to the open port', () => errors(open.id), { timeoutMs: 30_000 });
    const b = await waitFor('attempts to the closed port', () => errors(closed.id), { timeoutMs: 30_000 });
    assert.ok(a.every((e) => e === "refused by Berth's egress rule"), JSON.stringify(a));
    assert.deepEqual(new Set(a), new Set(b), 'an open and a closed port give the same answer');
    assert.deepEqual(hits, [], 'no connection reached the victim');
  });

  test('git URLs at internal hosts are a 400 naming repo_url; a name that resolves to loopback at clone time fails the build before any connection', async () => {
    for (const repo_url of [`http://127.0.0.1:${victimPort}/r.git`, `git://localhost:${victimPort}/r.git`, `ssh://git@[::1]:${victimPort}/r.git`, `git@${bobAddr}:r.git`, `https://${s.url.split('//')[1].split(':')[0]}/r.git`]) {
      await refusal(alice.call('createGitBuild', { params: { id: aliceApp }, body: { repo_url } }), 'repo_url', repo_url);
    }
    await refusal(alice.call('setAppSource', { params: { id: aliceApp }, body: { repo_url: `http://127.0.0.1:${new URL(s.url).port}/git/${bobApp}.git` } }), 'repo_url', 'the control plane itself');
    const b = await alice.call('createGitBuild', { params: { id: aliceApp }, body: { repo_url: `http://${own}:${victimPort}/r.git` } });
    const done = await waitBuild(alice, b.id, 60_000);
    assert.equal(done.status, 'failed');
    assert.match(done.message ?? '', /refused by Berth's egress rule/);
    assert.deepEqual(hits, []);
  });

  test('image references, registry and vendor hosts naming internal addresses are a 400 naming the field; a pull from a name resolving to loopback is refused before the engine connects', async () => {
    await refusal(alice.call('deployApp', { params: { id: aliceApp }, body: { image_id: `localhost:${victimPort}/x:1` } }), 'image_id', 'localhost registry');
    await refusal(alice.call('deployApp', { params: { id: aliceApp }, body: { image_id: `127.0.0.1:${victimPort}/x:1` } }), 'image_id', 'loopback registry');
    await refusal(alice.call('deployApp', { params: { id: aliceApp }, body: { image_id: `${bobAddr}:5000/x:1` } }), 'image_id', "a tenant's container as registry");
    await refusal(alice.call('updateApp', { params: { id: aliceApp }, body: { image: `172.17.0.1:${victimPort}/x:1` } }), 'image', 'app image');
    await refusal(alice.call('createRegistry', { body: { host: `localhost:${victimPort}`, username: 'u', password: 'p' } }), 'host', 'registry account');
    await refusal(alice.call('createVendor', { body: { vendor: 'gitlab', host: `127.0.0.1:${victimPort}`, token: 'glpat-x' } }), 'host', 'vendor account');

    const rel = await alice.call('deployApp', { params: { id: aliceApp }, body: { image_id: `${own}:${victimPort}/x:1` } });
    const failed = await waitFor('the pull to fail', async () => {
      const r = await alice.call('getRelease', { params: { id: aliceApp, version: rel.version } });
      return r.status === 'failed' && r;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    const app = await alice.call('getApp', { params: { id: aliceApp } });
    const events = await alice.call('listEvents', { query: { app: app.id } });
    assert.ok(events.items.some((e) => /refused by Berth's egress rule/.test(e.message)), JSON.stringify(events.items.map((e) => e.message)));
    assert.equal(failed.status, 'failed');
    assert.deepEqual(hits, [], 'the engine never connected');
  });
});
