import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { run, type RunResult } from '../../src/lib/exec.js';
import { freePort, startServer, type TestServer } from '../support/server.js';
import { viaRouter } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { rejects } from '../builds/helpers.js';

/**
 * Issue #18, custom domains: a claim is proven for the tenant who made it. By default only a TXT
 * record `_berth-challenge.<host>` holding that claim's own token verifies it; DNS that merely
 * points here (a wildcard record of another tenant, a dangling record) proves nothing, the
 * router answers a claim's HTTP token only for its own host, and a name that is claimed (any case)
 * or reserved is a 409. All DNS goes to pebble-challtestsrv on 127.0.0.1, which answers every A
 * query with 127.0.0.1, like a wildcard record pointing at this server.
 */

const field = (e: { details?: unknown }) => (e.details as { field?: string } | undefined)?.field;

describe('domains: two tenants, TXT proofs against a local DNS server', () => {
  let s: TestServer;
  let alice: BerthClient;
  let bob: BerthClient;
  let management = 0;
  const stop = new AbortController();
  let dns: Promise<RunResult>;

  const setTxt = async (host: string, value: string) => {
    const res = await fetch(`http://127.0.0.1:${management}/set-txt`, { method: 'POST', body: JSON.stringify({ host: `${host}.`, value }) });
    assert.equal(res.status, 200, await res.text());
  };

  before(async () => {
    const dnsPort = await freePort();
    management = await freePort();
    const log: string[] = [];
    dns = run('pebble-challtestsrv', ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-http01', '', '-https01', '', '-tlsalpn01', '', '-dns01', `127.0.0.1:${dnsPort}`, '-management', `127.0.0.1:${management}`], {
      timeoutMs: 30 * 60_000,
      signal: stop.signal,
      onLine: (l) => log.push(l),
    });
    dns.catch(() => {});
    await waitFor('pebble-challtestsrv', async () => (await fetch(`http://127.0.0.1:${management}/clear-txt`, { method: 'POST', body: '{"host":"x."}' })).ok, { timeoutMs: 10_000 });
    s = await startServer({ env: { BERTH_DNS_RESOLVER: `127.0.0.1:${dnsPort}`, BERTH_CONTROL_HOSTS: 'berth.example.test' } });
    alice = await s.newUser('alice');
    bob = await s.newUser('bob');
    const pa = await alice.call('createProject', { body: { name: 'pa' } });
    const pb = await bob.call('createProject', { body: { name: 'pb' } });
    await alice.call('createApp', { body: { name: 'alice-shop', project: pa.id } });
    await bob.call('createApp', { body: { name: 'bob-site', project: pb.id } });
  });
  after(async () => {
    await s?.destroy();
    stop.abort();
    await dns;
  });

  test("a claim whose DNS only points here is not verified; its instructions name the TXT record with the claim's own token", async () => {
    const d = await alice.call('addDomain', { params: { id: 'alice-shop' }, body: { hostname: 'shop.example.test' } });
    assert.equal(d.verified, false);
    assert.deepEqual(d.verification.txt, { name: '_berth-challenge.shop.example.test', value: d.verification.token });
    assert.deepEqual(d.verification.methods, ['dns']);
    assert.match(d.message ?? '', /_berth-challenge\.shop\.example\.test/);
    assert.match(d.verification.instructions, new RegExp(d.verification.token));
    // The router would answer this claim's HTTP token for its host, and DNS leads here: not proof of ownership.
    assert.equal((await viaRouter(s.routerPort, 'shop.example.test', `/.well-known/berth-verify/${d.verification.token}`)).status, 200);
    assert.equal((await alice.call('verifyDomain', { params: { id: 'alice-shop', hostname: 'shop.example.test' } })).verified, false);
    assert.equal((await viaRouter(s.routerPort, 'shop.example.test', '/')).status, 404, 'not routed');
  });

  test('a name claimed by another tenant, in any case, or the dashboard\'s own name is a 409 naming hostname', async () => {
    for (const hostname of ['shop.example.test', 'SHOP.Example.TEST', 'shop.example.test.']) {
      const e = await rejects(bob.call('addDomain', { params: { id: 'bob-site' }, body: { hostname } }), 409);
      assert.equal(field(e), 'hostname', hostname);
    }
    const e = await rejects(bob.call('addDomain', { params: { id: 'bob-site' }, body: { hostname: 'Berth.Example.Test' } }), 409);
    assert.equal(field(e), 'hostname');
    assert.match(e.message, /reserved/);
    assert.deepEqual((await bob.call('listDomains', { params: { id: 'bob-site' } })).items, []);
  });

  test("another claim's token proves nothing: bob's TXT record with alice's token, or alice's HTTP token asked at bob's host, fails", async () => {
    const alices = (await alice.call('listDomains', { params: { id: 'alice-shop' } })).items[0];
    const b = await bob.call('addDomain', { params: { id: 'bob-site' }, body: { hostname: 'www.example.test' } });
    assert.notEqual(b.verification.token, alices.verification.token);
    await setTxt('_berth-challenge.www.example.test', alices.verification.token);
    assert.equal((await bob.call('verifyDomain', { params: { id: 'bob-site', hostname: 'www.example.test' } })).verified, false);
    // The router answers each claim's token for its own host only.
    assert.equal((await viaRouter(s.routerPort, 'www.example.test', `/.well-known/berth-verify/${alices.verification.token}`)).status, 404);
    assert.equal((await viaRouter(s.routerPort, 'shop.example.test', `/.well-known/berth-verify/${b.verification.token}`)).status, 404);
    assert.equal((await viaRouter(s.routerPort, 'www.example.test', `/.well-known/berth-verify/${b.verification.token}`)).status, 200);
  });

  test("the TXT record with the claim's own token verifies it (verified_by dns) and the router serves the name for that app", async () => {
    const d = (await alice.call('listDomains', { params: { id: 'alice-shop' } })).items[0];
    await setTxt('_berth-challenge.shop.example.test', d.verification.token);
    const v = await alice.call('verifyDomain', { params: { id: 'alice-shop', hostname: 'shop.example.test' } });
    assert.equal(v.verified, true, v.message ?? '');
    assert.equal(v.verified_by, 'dns');
    // Routed to alice's app (no release yet: the router's 503 names it); its check token is no longer answered.
    const r = await viaRouter(s.routerPort, 'shop.example.test', '/');
    assert.equal(r.status, 503);
    assert.match(r.body, /alice-shop/);
    assert.equal((await viaRouter(s.routerPort, 'shop.example.test', `/.well-known/berth-verify/${d.verification.token}`)).status, 503);
    // Bob still cannot take it, and his own claim stays unverified.
    assert.equal(field(await rejects(bob.call('addDomain', { params: { id: 'bob-site' }, body: { hostname: 'shop.example.test' } }), 409)), 'hostname');
    assert.equal((await bob.call('listDomains', { params: { id: 'bob-site' } })).items[0].verified, false);
  });
});
