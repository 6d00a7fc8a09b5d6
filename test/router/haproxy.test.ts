import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { run } from '../../src/lib/exec.js';
import { HaproxyRouter, type HaproxyRouterOptions } from '../../src/router/haproxy/router.js';
import { normalizeRoutes } from '../../src/router/routes.js';
import { pathOf } from '../../src/router/haproxy/config.js';
import { TimingTap } from '../../src/router/haproxy/timing.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Route } from '../../src/router/types.js';
import { eventually, freePort, get, getHttps, startUpstream, type Upstream } from './helpers.js';

const dirs: string[] = [];
const routers: HaproxyRouter[] = [];
const upstreams: Upstream[] = [];

async function newRouter(over: Partial<HaproxyRouterOptions> = {}): Promise<HaproxyRouter> {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-router-'));
  dirs.push(dataDir);
  const router = new HaproxyRouter({
    dataDir,
    httpPort: await freePort(),
    httpsPort: await freePort(),
    listenHost: '127.0.0.1',
    drainPollMs: 20,
    ...over,
  });
  routers.push(router);
  return router;
}

async function upstream(name: string): Promise<Upstream> {
  const up = await startUpstream(name);
  upstreams.push(up);
  return up;
}

const nameOf = (body: string) => (JSON.parse(body) as { name: string }).name;

/** An echoing WebSocket server on the upstream; resolves a client connected through the router. */
async function openSocket(port: number, host: string): Promise<WebSocket & { closedWith?: number }> {
  const client = new WebSocket(`ws://127.0.0.1:${port}/socket`, { headers: { host } }) as WebSocket & { closedWith?: number };
  client.on('close', (code) => (client.closedWith = code));
  const reply = await new Promise<string>((resolve, reject) => {
    client.on('open', () => client.send('hi'));
    client.once('message', (d) => resolve(String(d)));
    client.on('error', reject);
  });
  assert.equal(reply, 'echo:hi');
  return client;
}

function echo(up: Upstream): WebSocketServer {
  const wss = new WebSocketServer({ server: up.server });
  wss.on('connection', (sock) => {
    sock.on('message', (d) => sock.send(`echo:${String(d)}`));
    sock.on('error', () => undefined);
  });
  return wss;
}

/** The certificate HAProxy presents for this SNI name. */
function peerCert(port: number, servername: string): Promise<{ subject: string; alpn: string | false }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      resolve({ subject: String(s.getPeerCertificate().subject.CN), alpn: s.alpnProtocol ?? false });
      s.end();
    });
    s.on('error', reject);
  });
}


describe('HaproxyRouter with a real HAProxy', () => {
  let router: HaproxyRouter;
  let http: number;
  let worker: number | undefined;

  before(async () => {
    router = await newRouter();
    http = router.opts.httpPort;
    await router.ensureRunning();
    worker = await router.proc.workerPid();
  });

  after(async () => {
    // Nothing in this block needed a reload: the first worker served every change.
    assert.equal(await router.proc.workerPid().catch(() => 'gone'), worker, 'the worker of the first test is still the one serving');
    for (const r of routers) await r.stop();
    for (const u of upstreams) await u.close().catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('routes by Host header and spreads requests over three upstreams', async () => {
    const ups = [await upstream('a'), await upstream('b'), await upstream('c')];
    await router.apply([{ app: 'myapp', hosts: ['myapp.localhost'], upstreams: ups.map((u) => u.addr) }]);
    const seen = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const r = await get(http, 'myapp.localhost', '/hello');
      assert.equal(r.status, 200);
      seen.set(nameOf(r.body), (seen.get(nameOf(r.body)) ?? 0) + 1);
    }
    assert.deepEqual([...seen.keys()].sort(), ['a', 'b', 'c'], `requests spread: ${JSON.stringify([...seen])}`);
    for (const n of seen.values()) assert.ok(n >= 5, `round robin is roughly even: ${JSON.stringify([...seen])}`);
  });

  test("the request reader stays connected through a quiet spell longer than HAProxy's 10 s CLI default: no reconnect, no access line lost", async () => {
    const up = await upstream('quiet');
    await router.apply([{ app: 'quiet', hosts: ['quiet.localhost'], upstreams: [up.addr] }]);
    // A reader that would reconnect 100 ms after a cut (the router's own waits a second).
    const tap = new TimingTap(pathOf(router.dir, 'admin'), () => {}, 100);
    const seen: string[] = [];
    tap.onLine((a) => seen.push(a.request));
    tap.start();
    try {
      await eventually(async () => (await get(http, 'quiet.localhost', '/before')).status === 200 && seen.some((r) => r.includes('/before')), 'the first request read');
      // The spell itself: longer than the 10 s after which HAProxy cuts an idle CLI connection by default.
      await sleep(11_500);
      assert.equal(tap.connections, 1, 'the reader was cut and connected again: lines in the gap are lost');
      assert.equal((await get(http, 'quiet.localhost', '/after')).status, 200);
      await eventually(async () => seen.some((r) => r.includes('/after')), 'the request after the quiet spell read');
    } finally {
      tap.stop();
    }
  });

  test('sets X-Forwarded-For/Proto/Host and replaces a client-forged X-Forwarded-For', async () => {
    const up = await upstream('xff');
    await router.apply([{ app: 'fwd', hosts: ['fwd.localhost'], upstreams: [up.addr] }]);
    const r = await new Promise<{ headers: Record<string, string> }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: http, path: '/', headers: { host: 'fwd.localhost', 'x-forwarded-for': '6.6.6.6' } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(JSON.parse(body) as { headers: Record<string, string> }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(r.headers.host, 'fwd.localhost');
    assert.equal(r.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(r.headers['x-forwarded-proto'], 'http');
    assert.equal(r.headers['x-forwarded-host'], 'fwd.localhost');
  });

  test('an app without upstreams answers a 503 page naming it; an unknown host answers 404', async () => {
    await router.apply([{ app: 'sleepy', hosts: ['sleepy.localhost'], upstreams: [] }]);
    const down = await get(http, 'sleepy.localhost');
    assert.equal(down.status, 503);
    assert.match(String(down.headers['content-type']), /text\/html/);
    assert.match(down.body, /<b>sleepy<\/b>/);
    const unknown = await get(http, 'nobody.localhost');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /No app/);
    assert.deepEqual(await router.current(), [
      { app: 'sleepy', hosts: ['sleepy.localhost'], upstreams: [], healthPath: '/', drainTimeoutMs: 30_000 },
    ]);
  });

  test('active health checks: a replica failing its health path leaves rotation; none healthy answers 503', async () => {
    let sick = false;
    const up = await startUpstream('hc', (req, res) => {
      if (req.url !== '/up') return false;
      res.writeHead(sick ? 500 : 200).end();
      return true;
    });
    upstreams.push(up);
    const good = await upstream('hc-good');
    const healthy: Route = { app: 'hc', hosts: ['hc.localhost'], upstreams: [up.addr, good.addr], healthPath: '/up' };
    await router.apply([healthy]);
    sick = true;
    // good answers 200 on /up? No: it answers JSON on every path, so it stays healthy.
    await eventually(async () => {
      const names = new Set<string>();
      for (let i = 0; i < 6; i++) names.add(nameOf((await get(http, 'hc.localhost')).body));
      return names.size === 1 && names.has('hc-good');
    }, 'the sick replica to leave rotation', 20_000);
    await router.apply([{ ...healthy, upstreams: [up.addr] }]);
    await eventually(async () => (await get(http, 'hc.localhost')).status === 503, 'a 503 with no healthy replica', 20_000);
    assert.match((await get(http, 'hc.localhost')).body, /<b>hc<\/b>/);
    sick = false;
    await eventually(async () => (await get(http, 'hc.localhost')).status === 200, 'the replica back once healthy', 20_000);
  });

  test('a replica that closes the connection without an answer: GET, HEAD and OPTIONS are retried on another replica, a POST is not and runs once', async () => {
    // The replica that "crashes" under /crash requests: it drops the connection without a byte, as
    // a SIGKILLed process does. It answers its health check, so it stays in rotation.
    const crashes: string[] = [];
    const crasher = await startUpstream('crasher', (req) => {
      if (!req.url?.startsWith('/crash')) return false;
      crashes.push(req.method ?? '?');
      req.socket.destroy();
      return true;
    });
    upstreams.push(crasher);
    const good = await upstream('steady');
    await router.apply([{ app: 'crashy', hosts: ['crashy.localhost'], upstreams: [crasher.addr, good.addr] }]);
    const send = (method: string, body?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: http, method, path: '/crash', headers: { host: 'crashy.localhost' }, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(body);
      });
    const safe: number[] = [];
    for (const m of ['GET', 'HEAD', 'OPTIONS']) for (let i = 0; i < 4; i++) safe.push(await send(m));
    assert.deepEqual(safe, Array(12).fill(200), 'every safe request was answered by the steady replica');
    assert.ok(crashes.length >= 3, `round robin sent some of them to the crashing replica first (${crashes.join(',')})`);
    crashes.length = 0;
    // Only /crash requests count: the steady replica's health checks ("/") may land in this window.
    const goodBefore = good.paths.length;
    const posts: number[] = [];
    for (let i = 0; i < 6; i++) posts.push(await send('POST', `order ${i}`));
    const steadyPosts = good.paths.slice(goodBefore).filter((p) => p === '/crash').length;
    // Each POST reached exactly one replica: a 502 for those the crasher took, a 200 for the rest.
    assert.equal(crashes.length + steadyPosts, 6, `no POST was sent twice (crasher ${crashes.length}, steady ${steadyPosts})`);
    assert.ok(crashes.length >= 1, 'some POSTs went to the crashing replica');
    assert.equal(posts.filter((s) => s === 502).length, crashes.length, `a POST the crasher took is a 502: ${posts.join(',')}`);
    assert.equal(posts.filter((s) => s === 200).length, 6 - crashes.length);
  });

  test('streams chunked responses without buffering', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const up = await startUpstream('stream', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first;');
      void released.then(() => res.end('rest'));
      return true;
    });
    upstreams.push(up);
    await router.apply([{ app: 'stream', hosts: ['stream.localhost'], upstreams: [up.addr] }]);
    const body = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: http, path: '/', headers: { host: 'stream.localhost' }, timeout: 10_000 }, (res) => {
        let got = '';
        res.on('data', (c: Buffer) => {
          got += c.toString();
          if (got === 'first;') release();
        });
        res.on('end', () => resolve(got));
      });
      req.on('timeout', () => req.destroy(new Error('first chunk never arrived: response buffered')));
      req.on('error', reject);
      req.end();
    });
    assert.equal(body, 'first;rest');
  });

  test("WebSockets pass through and stay open across other apps' route changes", async () => {
    const up = await upstream('ws');
    const wss = echo(up);
    try {
      const mine: Route = { app: 'ws', hosts: ['ws.localhost'], upstreams: [up.addr] };
      await router.apply([mine]);
      const client = await openSocket(http, 'ws.localhost');
      const other = await upstream('other');
      for (let i = 0; i < 5; i++) {
        await router.apply([mine, { app: 'other', hosts: ['other.localhost', `d${i}.example.com`], upstreams: i % 2 ? [other.addr] : [] }]);
        await router.apply([mine]);
      }
      client.send('still');
      assert.equal(String(await new Promise((r) => client.once('message', r))), 'echo:still');
      assert.equal(client.closedWith, undefined);
      client.close();
    } finally {
      wss.close();
    }
  });

  test('re-applying the same routes sends nothing and current() reads them back', async () => {
    const up = await upstream('same');
    const routes: Route[] = [{ app: 'same', hosts: ['same.localhost', 'www.same.test'], upstreams: [up.addr] }];
    await router.apply(routes);
    const state = readFileSync(join(router.dir, 'state.json'), 'utf8');
    await router.apply([{ ...routes[0], hosts: ['www.same.test', 'same.localhost'] }]);
    assert.equal(readFileSync(join(router.dir, 'state.json'), 'utf8'), state);
    assert.deepEqual(await router.current(), [{ ...routes[0], hosts: ['same.localhost', 'www.same.test'], healthPath: '/', drainTimeoutMs: 30_000 }]);
  });

  test('a custom-domain check token is served for its own host only, ACME answers on every host, a bad one changes nothing', async () => {
    await router.apply([{ app: 'tok', hosts: ['tok.localhost'], upstreams: [] }], [{ host: 'claimed.example.org', token: 'tok123' }]);
    const r = await get(http, 'Claimed.Example.org:80', '/.well-known/berth-verify/tok123');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'tok123');
    assert.equal((await get(http, 'anything.example.org', '/.well-known/berth-verify/tok123')).status, 404, "another host does not get the claim's token");
    assert.equal((await get(http, 'claimed.example.org', '/.well-known/berth-verify/other')).status, 404);
    await router.setAcmeChallenges({ 'acme-Tok_1': 'acme-Tok_1.thumb-print_x' });
    const a = await get(http, 'www.example.org', '/.well-known/acme-challenge/acme-Tok_1');
    assert.equal(a.status, 200);
    assert.equal(a.body, 'acme-Tok_1.thumb-print_x');
    assert.match(String(a.headers['content-type']), /text\/plain/);
    await assert.rejects(router.setAcmeChallenges({ 'x\nset map': 'a.b' }), /answers\[0\]\.token/);
    await router.setAcmeChallenges({});
    assert.equal((await get(http, 'www.example.org', '/.well-known/acme-challenge/acme-Tok_1')).status, 404);
  });

  test('hostile input is refused before anything is sent; the served routes stay as they were', async () => {
    const up = await upstream('safe');
    const good: Route = { app: 'safe', hosts: ['safe.localhost'], upstreams: [up.addr] };
    await router.apply([good]);
    const before = await router.current();
    const bad: [Partial<Route>, RegExp][] = [
      [{ hosts: ['evil.localhost\ndel map x'] }, /hosts\[0\]/],
      [{ hosts: ['evil .localhost'] }, /hosts\[0\]/],
      [{ hosts: ['a;b.localhost'] }, /hosts\[0\]/],
      [{ hosts: [`${'a'.repeat(64)}.localhost`] }, /hosts\[0\]/],
      [{ hosts: ['bücher.localhost'] }, /hosts\[0\]/],
      [{ app: 'safe; shutdown sessions' }, /\.app/],
      [{ upstreams: ['10.0.0.1:80; set server b0/s1 state maint'] }, /upstreams\[0\]/],
      [{ upstreams: ['10.0.0.300:80'] }, /upstreams\[0\]/],
      [{ healthPath: '/x y' }, /healthPath/],
      [{ healthPath: '/x;y' }, /healthPath/],
    ];
    for (const [change, field] of bad) {
      await assert.rejects(router.apply([{ ...good, ...change }]), (err: Error) => err.name === 'RouterInputError' && field.test(err.message));
    }
    await assert.rejects(router.apply([good], [{ host: 'a.example.org', token: 'tok\nen' }]), /challenges\[0\]\.token/);
    await assert.rejects(router.apply([good], [{ host: 'a.example.org/x', token: 'tok' }]), /challenges\[0\]\.host/);
    assert.deepEqual(await router.current(), before);
    assert.equal((await get(http, 'safe.localhost')).status, 200);
  });

  test('drain: an in-flight request finishes on the removed replica; apply() waits for it, new requests go to the new one', async () => {
    const old = await upstream('old');
    const next = await upstream('new');
    await router.apply([{ app: 'drain', hosts: ['drain.localhost'], upstreams: [old.addr], healthPath: '/hc' }]);
    const slow = get(http, 'drain.localhost', '/slow?ms=1500');
    await eventually(async () => old.inFlight === 1, 'the slow request to reach the old upstream');
    let loadedAt = 0;
    const applied = router.apply([{ app: 'drain', hosts: ['drain.localhost'], upstreams: [next.addr], healthPath: '/hc' }], [], (removed) => {
      loadedAt = Date.now();
      assert.deepEqual(removed, [old.addr]);
    });
    await eventually(async () => loadedAt > 0, 'the new routes to load');
    assert.equal(nameOf((await get(http, 'drain.localhost')).body), 'new');
    let done = false;
    void applied.then(() => (done = true));
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(nameOf(r.body), 'old');
    assert.equal(old.inFlight, 0);
    await applied;
    assert.ok(done);
    assert.deepEqual(old.paths.filter((p) => p !== '/hc'), ['/slow?ms=1500'], 'the removed replica got no request after it left rotation');
  });

  test('a removed replica that stops answering (its node died) is freed without waiting out its drain timeout', { timeout: 60_000 }, async () => {
    // A request that never ends holds a session on it; then it stops accepting, as a dead node does.
    const dead = await startUpstream('dead', (req) => req.url === '/hang');
    upstreams.push(dead);
    const next = await upstream('alive');
    await router.apply([{ app: 'gone', hosts: ['gone.localhost'], upstreams: [dead.addr], healthPath: '/hc', drainTimeoutMs: 600_000 }]);
    const hung = get(http, 'gone.localhost', '/hang', undefined, 120_000).catch((err: Error) => err);
    await eventually(async () => dead.inFlight === 1, 'the hanging request to reach the replica');
    dead.server.close();
    // With a 10-minute drain timeout, apply() returning at all says the down replica was not waited for.
    await router.apply([{ app: 'gone', hosts: ['gone.localhost'], upstreams: [next.addr], healthPath: '/hc', drainTimeoutMs: 600_000 }]);
    assert.equal(nameOf((await get(http, 'gone.localhost')).body), 'alive');
    // Its session was shut when the slot was freed, so the client is not left waiting either: a GET
    // that had no answer yet is sent again, to the live replica.
    const r = await hung;
    assert.ok(!(r instanceof Error), `the hanging request failed: ${r instanceof Error ? r.message : ''}`);
    assert.equal(r.status, 200);
    assert.equal(nameOf(r.body), 'alive', 'the hanging GET was answered by the live replica');
    dead.server.closeAllConnections();
  });

  test('a WebSocket on a removed replica stays open until the drain timeout, then closes', async () => {
    const old = await upstream('ws-old');
    const wss = echo(old);
    const next = await upstream('ws-new');
    try {
      await router.apply([{ app: 'wsd', hosts: ['wsd.localhost'], upstreams: [old.addr], drainTimeoutMs: 1500 }]);
      const client = await openSocket(http, 'wsd.localhost');
      const t0 = Date.now();
      const applied = router.apply([{ app: 'wsd', hosts: ['wsd.localhost'], upstreams: [next.addr], drainTimeoutMs: 1500 }]);
      client.send('during drain');
      assert.equal(String(await new Promise((r) => client.once('message', r))), 'echo:during drain');
      await applied;
      const waited = Date.now() - t0;
      await eventually(async () => client.closedWith !== undefined, 'the socket to close once the drain timeout passed');
      assert.ok(waited >= 1500, `apply() resolved after the drain timeout (${waited} ms)`);
    } finally {
      wss.close();
    }
  });

  test('HTTPS: default certificate, ALPN h2, runtime SNI certificates added, replaced and removed', async () => {
    const up = await upstream('tls');
    await router.apply([{ app: 'x', hosts: ['x.localhost', 'one.example.com'], upstreams: [up.addr] }]);
    const https = router.opts.httpsPort;
    assert.deepEqual(await peerCert(https, 'x.localhost'), { subject: 'berth-default', alpn: 'h2' });
    const one = await makeCert('one.example.com');
    await router.setCertificates([{ name: 'cert-one', hosts: ['one.example.com'], ...one }]);
    const r = await getHttps(https, 'one.example.com', one.certPem);
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { headers: Record<string, string> }).headers['x-forwarded-proto'], 'https');
    assert.equal((await peerCert(https, 'x.localhost')).subject, 'berth-default');
    // Renewal: the new certificate is served at once (verified against the new one only).
    const renewed = await makeCert('one.example.com', 'renewed');
    await router.setCertificates([{ name: 'cert-one', hosts: ['one.example.com'], ...renewed }]);
    assert.equal((await getHttps(https, 'one.example.com', renewed.certPem)).status, 200);
    await assert.rejects(getHttps(https, 'one.example.com', one.certPem));
    await router.setCertificates([]);
    assert.equal((await peerCert(https, 'one.example.com')).subject, 'berth-default');
    await assert.rejects(router.setCertificates([{ name: 'Bad Name', hosts: ['a.b'], ...one }]), /certificates\[0\]\.name/);
    await assert.rejects(
      router.setCertificates([{ name: 'ok', hosts: ['a.b'], certPem: `${one.certPem}\n\nshow info\n`, keyPem: one.keyPem }]),
      /certificates\[0\]\.certPem/,
    );
  });

  test('redirectHttps answers plain HTTP for routed hosts with a 308 to HTTPS; checks and ACME answers stay on HTTP', async () => {
    const r2 = await newRouter({ redirectHttps: true });
    const up = await upstream('red');
    await r2.apply([{ app: 'red', hosts: ['red.localhost'], upstreams: [up.addr] }], [{ host: 'red.localhost', token: 'redtok' }]);
    await r2.setAcmeChallenges({ redacme: 'redacme.print' });
    const res = await get(r2.opts.httpPort, 'red.localhost', '/a?b=1');
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, `https://red.localhost:${r2.opts.httpsPort}/a?b=1`);
    assert.equal((await get(r2.opts.httpPort, 'red.localhost', '/.well-known/acme-challenge/redacme')).body, 'redacme.print');
    assert.equal((await get(r2.opts.httpPort, 'red.localhost', '/.well-known/berth-verify/redtok')).body, 'redtok');
    assert.equal((await get(r2.opts.httpPort, 'unknown.localhost')).status, 404, 'an unknown host is not redirected');
    const def = await peerCert(r2.opts.httpsPort, 'red.localhost');
    assert.equal(def.subject, 'berth-default');
    await r2.stop();
  });

  test('metrics: per-app and per-replica counters from HAProxy', async () => {
    const ups = [await upstream('m1'), await upstream('m2')];
    await router.apply([{ app: 'metered', hosts: ['metered.localhost'], upstreams: ups.map((u) => u.addr) }]);
    for (let i = 0; i < 10; i++) await get(http, 'metered.localhost');
    const s = await router.stats('metered');
    assert.ok(s);
    assert.equal(s.total.responses['2xx'], 10);
    assert.deepEqual(s.replicas.map((x) => x.upstream).sort(), ups.map((u) => u.addr).sort());
    assert.equal(s.replicas.reduce((n, x) => n + x.responses['2xx'], 0), 10);
    assert.equal(await router.stats('nothing-here'), null);
  });

  test('HAProxy keeps serving after the process that started it exits', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-router-'));
    dirs.push(dataDir);
    const opts = { dataDir, httpPort: await freePort(), httpsPort: await freePort(), listenHost: '127.0.0.1' };
    const up = await upstream('orphan');
    const moduleUrl = new URL('../../src/router/haproxy/router.js', import.meta.url).href;
    const script = `
      const { HaproxyRouter } = await import(process.env.ROUTER_MODULE);
      const r = new HaproxyRouter(JSON.parse(process.env.ROUTER_OPTS));
      await r.ensureRunning();
      await r.apply(JSON.parse(process.env.ROUTES));
    `;
    const res = await run(process.execPath, ['--input-type=module', '-e', script], {
      timeoutMs: 30_000,
      env: {
        ...process.env,
        ROUTER_MODULE: moduleUrl,
        ROUTER_OPTS: JSON.stringify(opts),
        ROUTES: JSON.stringify([{ app: 'orphan', hosts: ['orphan.localhost'], upstreams: [up.addr] }]),
      },
    });
    const observer = new HaproxyRouter(opts);
    routers.push(observer);
    assert.equal(res.code, 0, res.stderr);
    const r = await get(opts.httpPort, 'orphan.localhost');
    assert.equal(r.status, 200);
    assert.equal(nameOf(r.body), 'orphan');
  });

  test('two routers with their own data dirs and ports coexist', async () => {
    const second = await newRouter();
    await second.ensureRunning();
    const a = await upstream('first');
    const b = await upstream('second');
    await router.apply([{ app: 'one', hosts: ['one.localhost'], upstreams: [a.addr] }]);
    await second.apply([{ app: 'two', hosts: ['two.localhost'], upstreams: [b.addr] }]);
    assert.equal((await get(http, 'one.localhost')).status, 200);
    assert.equal((await get(http, 'two.localhost')).status, 404);
    const port2 = second.opts.httpPort;
    assert.equal((await get(port2, 'two.localhost')).status, 200);
    assert.equal((await get(port2, 'one.localhost')).status, 404);
    assert.deepEqual((await second.current()).map((r) => r.app), ['two']);
    await second.stop();
  });

  test('accessLog: one line per request in haproxy.log, with its backend, status and termination state', async () => {
    const logged = await newRouter({ accessLog: true });
    await logged.ensureRunning();
    const a = await upstream('logged');
    await logged.apply([{ app: 'logged', hosts: ['logged.localhost'], upstreams: [a.addr] }]);
    assert.equal((await get(logged.opts.httpPort, 'logged.localhost', '/some/path')).status, 200);
    assert.equal((await get(logged.opts.httpPort, 'nowhere.localhost')).status, 404);
    const lines = await eventually(async () => {
      const text = readFileSync(logged.logFile, 'utf8').split('\n').filter((l) => /"GET /.test(l));
      return text.length >= 2 ? text : undefined;
    }, 'two access log lines');
    assert.match(lines.find((l) => l.includes('/some/path')) ?? '', / berth b\d+\/s1 \S+ 200 \d+ - - ---- .*"GET \/some\/path HTTP\/1\.1"/);
    assert.match(lines.find((l) => l.includes('"GET / ')) ?? '', / 404 /);
    // Off by default: the router of the other tests logs no request.
    assert.doesNotMatch(readFileSync(router.logFile, 'utf8'), /"GET /);
    await logged.stop();
  });
});

describe('HaproxyRouter restarts and reloads', () => {
  after(async () => {
    for (const r of routers) await r.stop();
    for (const u of upstreams) await u.close().catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('after kill -9, ensureRunning() brings HAProxy back from its config file with every route', async (t) => {
    const router = await newRouter();
    await router.ensureRunning();
    const up = await upstream('phoenix');
    const routes: Route[] = [
      { app: 'phoenix', hosts: ['phoenix.localhost', 'www.phoenix.test'], upstreams: [up.addr], healthPath: '/', drainTimeoutMs: 5000 },
      { app: 'idle', hosts: ['idle.localhost'], upstreams: [], healthPath: '/', drainTimeoutMs: 30_000 },
    ];
    await router.apply(routes);
    await router.stop('SIGKILL');
    await assert.rejects(get(router.opts.httpPort, 'phoenix.localhost'), 'nothing listens once HAProxy is dead');
    const t0 = Date.now();
    // A new object, as a restarted control plane would make: everything comes from the data dir.
    const again = new HaproxyRouter(router.opts);
    routers.push(again);
    await again.ensureRunning();
    const back = Date.now() - t0;
    assert.equal((await get(router.opts.httpPort, 'phoenix.localhost')).status, 200);
    assert.equal((await get(router.opts.httpPort, 'idle.localhost')).status, 503);
    assert.deepEqual(await again.current(), normalizeRoutes(routes));
    t.diagnostic(`HAProxy back with every route ${back} ms after ensureRunning() (kill -9 before)`);
  });

  /** Two apps (one served, one with no replica) on a router watching every 250 ms, as the control plane's. */
  async function watchedRoutes(name: string): Promise<{ opts: HaproxyRouterOptions; routes: Route[] }> {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-router-'));
    dirs.push(dataDir);
    const up = await upstream(name);
    return {
      opts: { dataDir, httpPort: await freePort(), httpsPort: await freePort(), listenHost: '127.0.0.1', watchMs: 250 },
      routes: [
        { app: name, hosts: [`${name}.localhost`], upstreams: [up.addr], healthPath: '/', drainTimeoutMs: 30_000 },
        { app: `${name}-idle`, hosts: [`${name}-idle.localhost`], upstreams: [], healthPath: '/', drainTimeoutMs: 30_000 },
      ],
    };
  }

  /**
   * kill -9 of the master and its worker, then a client polling the app through the router: it must
   * answer again (the 5 s bound only guards against a hang; the time is bench/figures/router-restart.ts's),
   * from a new HAProxy started from its config file with every route.
   */
  async function killBoth(router: HaproxyRouter, routes: Route[], logged: string[]): Promise<number> {
    const master = router.proc.livePid()!;
    const worker = (await router.proc.workerPid())!;
    assert.equal((await get(router.opts.httpPort, `${routes[0].app}.localhost`)).status, 200);
    process.kill(master, 'SIGKILL');
    process.kill(worker, 'SIGKILL');
    const t0 = Date.now();
    await eventually(async () => (await get(router.opts.httpPort, `${routes[0].app}.localhost`, '/', undefined, 1000)).status === 200, 'the app to answer again', 5000);
    const ms = Date.now() - t0;
    assert.ok(![undefined, master].includes(router.proc.livePid()), 'a new HAProxy master');
    assert.ok(logged.includes('haproxy is gone; starting it again from its config file'), logged.join('; '));
    assert.deepEqual(await router.current(), normalizeRoutes(routes));
    assert.equal((await get(router.opts.httpPort, `${routes[1].app}.localhost`)).status, 503, 'the app with no replica has its route too');
    return ms;
  }

  const logTo = (lines: string[]) => ({ info: (_o: object, m?: string) => lines.push(m ?? ''), warn: (_o: object, m?: string) => lines.push(m ?? '') });

  test('with watchMs, an HAProxy started here and killed (master and worker) comes back by itself with every route', async (t) => {
    const { opts, routes } = await watchedRoutes('watched');
    const logged: string[] = [];
    const router = new HaproxyRouter({ ...opts, logger: logTo(logged) });
    routers.push(router);
    await router.apply(routes);
    t.diagnostic(`served again ${await killBoth(router, routes, logged)} ms after kill -9 (started here)`);
  });

  test('with watchMs, an HAProxy found running after a control-plane restart and killed comes back by itself with every route', async (t) => {
    const { opts, routes } = await watchedRoutes('adopted');
    // An earlier "control plane" (another process, now exited) started it: it is not our child.
    const res = await run(process.execPath, [join(import.meta.dirname, 'start-elsewhere.js'), JSON.stringify({ opts: { ...opts, watchMs: undefined }, routes })], { timeoutMs: 60_000 });
    assert.equal(res.code, 0, res.stderr);
    const logged: string[] = [];
    const router = new HaproxyRouter({ ...opts, logger: logTo(logged) });
    routers.push(router);
    const master = router.proc.livePid()!;
    assert.equal(master, Number(res.stdout.trim()));
    const ppid = Number(readFileSync(`/proc/${master}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
    assert.notEqual(ppid, process.pid, 'the HAProxy is not a child of this process');
    // What the route controller does after a restart when the routes match: read them, nothing else.
    assert.deepEqual(await router.current(), normalizeRoutes(routes));
    t.diagnostic(`served again ${await killBoth(router, routes, logged)} ms after kill -9 (found running)`);
  });

  test('with watchMs, a seamless reload (the master re-executes itself and closes its CLI connections) is not taken for a death', async () => {
    const { opts, routes } = await watchedRoutes('reloaded');
    const logged: string[] = [];
    const router = new HaproxyRouter({ ...opts, poolSize: 2, logger: logTo(logged) });
    routers.push(router);
    await router.apply(routes);
    const master = router.proc.livePid();
    const more = ['r2', 'r3'].map((app) => ({ app, hosts: [`${app}.localhost`], upstreams: [], healthPath: '/', drainTimeoutMs: 30_000 }));
    await router.apply([...routes, ...more]);
    assert.ok(logged.includes('router pool grown (seamless reload)'), logged.join('; '));
    await router.reload();
    // Two watch periods after the last reload: a restart would have begun.
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(router.proc.livePid(), master, 'the same master');
    assert.ok(!logged.some((m) => m.startsWith('haproxy is gone')), logged.join('; '));
    assert.equal((await get(router.opts.httpPort, 'reloaded.localhost')).status, 200);
  });

  test('a full pool grows with one seamless reload: a WebSocket and a keep-alive load through it see nothing', async (t) => {
    const router = await newRouter({ poolSize: 2, slotsPerBackend: 2 });
    await router.ensureRunning();
    const up = await upstream('steady');
    const wss = echo(up);
    const http = router.opts.httpPort;
    const steady: Route = { app: 'steady', hosts: ['steady.localhost'], upstreams: [up.addr] };
    await router.apply([steady]);
    const client = await openSocket(http, 'steady.localhost');
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    let sent = 0;
    const failures: string[] = [];
    let stop = false;
    const load = async () => {
      while (!stop) {
        sent++;
        try {
          const r = await get(http, 'steady.localhost', '/', agent);
          if (r.status !== 200) failures.push(`status ${r.status} ${r.body.slice(0, 200)}`);
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const clients = [load(), load(), load(), load()];
    const before = await router.proc.workerPid();
    const extra = [await upstream('x1'), await upstream('x2'), await upstream('x3')];
    try {
      // Three more apps (pool of 2) and three replicas in one app (2 slots): two reloads.
      const apps = ['n1', 'n2', 'n3'].map((a, i): Route => ({ app: a, hosts: [`${a}.localhost`], upstreams: [extra[i].addr] }));
      await router.apply([steady, ...apps]);
      await router.apply([steady, ...apps, { app: 'wide', hosts: ['wide.localhost'], upstreams: extra.map((u) => u.addr) }]);
      for (const a of apps) assert.equal((await get(http, `${a.app}.localhost`)).status, 200);
      assert.equal((await get(http, 'wide.localhost')).status, 200);
    } finally {
      stop = true;
      await Promise.all(clients);
      agent.destroy();
    }
    assert.notEqual(await router.proc.workerPid(), before, 'the pool grew through a reload');
    client.send('after');
    assert.equal(String(await new Promise((r) => client.once('message', r))), 'echo:after');
    assert.equal(client.closedWith, undefined, 'the WebSocket outlived the reload');
    t.diagnostic(`${sent} keep-alive requests across the reloads, ${failures.length} failed ${failures.slice(0, 3).join('; ')}`);
    assert.ok(sent > 100);
    assert.deepEqual(failures.slice(0, 5), []);
    client.close();
    wss.close();
  });
});

/** A self-signed certificate for `cn`, made with openssl (the CN tells the certificates apart). */
async function makeCert(cn: string, tag = ''): Promise<{ certPem: string; keyPem: string }> {
  const d = mkdtempSync(join(tmpdir(), 'berth-cert-'));
  dirs.push(d);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(d, 'k.pem'), '-out', join(d, 'c.pem'), '-days', '2',
    '-subj', `/CN=${cn}${tag ? `/O=${tag}` : ''}`, '-addext', `subjectAltName=DNS:${cn}`], { timeoutMs: 30_000 });
  return { certPem: readFileSync(join(d, 'c.pem'), 'utf8'), keyPem: readFileSync(join(d, 'k.pem'), 'utf8') };
}
