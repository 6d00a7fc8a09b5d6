import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../../src/lib/exec.js';
import { CaddyRouter, type CaddyRouterOptions } from '../../src/router/caddy.js';
import type { Route } from '../../src/router/types.js';
import { eventually, freePort, get, getHttps, getKeepAlive, startUpstream, type Upstream } from './helpers.js';

// ws ships no types and @types/ws is not installed: the few members used here, typed by hand.
interface WsClient {
  on(ev: 'open' | 'close', cb: () => void): void;
  on(ev: 'message', cb: (data: Buffer) => void): void;
  on(ev: 'error', cb: (err: Error) => void): void;
  send(data: string): void;
  close(): void;
  readyState: number;
}
interface WsModule {
  WebSocket: new (url: string, opts: { headers: Record<string, string> }) => WsClient;
  WebSocketServer: new (opts: { server: unknown }) => {
    on(ev: 'connection', cb: (sock: WsClient) => void): void;
    close(): void;
  };
}
const ws = createRequire(import.meta.url)('ws') as WsModule;

const dirs: string[] = [];
const routers: CaddyRouter[] = [];
const upstreams: Upstream[] = [];

async function newRouter(over: Partial<CaddyRouterOptions> = {}): Promise<CaddyRouter> {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-router-'));
  dirs.push(dataDir);
  const router = new CaddyRouter({
    dataDir,
    httpPort: await freePort(),
    httpsPort: await freePort(),
    admin: `127.0.0.1:${await freePort()}`,
    listenHost: '127.0.0.1',
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

function loads(router: CaddyRouter): number {
  return readFileSync(router.logFile, 'utf8').split('\n').filter((l) => l.includes('"uri":"/load"')).length;
}

describe('CaddyRouter with a real Caddy', () => {
  let router: CaddyRouter;
  let http: number;

  before(async () => {
    router = await newRouter({ drainMs: 300 });
    http = router.opts.httpPort;
    await router.ensureRunning();
  });

  after(async () => {
    for (const r of routers) await r.stop();
    for (const u of upstreams) await u.close().catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('routes by Host header and spreads requests over three upstreams', async () => {
    const ups = [await upstream('a'), await upstream('b'), await upstream('c')];
    await router.apply([{ app: 'myapp', hosts: ['myapp.localhost'], upstreams: ups.map((u) => u.addr) }]);
    const seen = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const r = await get(http, 'myapp.localhost', '/hello', undefined);
      assert.equal(r.status, 200);
      const { name } = JSON.parse(r.body) as { name: string };
      seen.set(name, (seen.get(name) ?? 0) + 1);
    }
    assert.deepEqual([...seen.keys()].sort(), ['a', 'b', 'c'], `requests spread: ${JSON.stringify([...seen])}`);
    for (const n of seen.values()) assert.ok(n >= 5, `round robin is roughly even: ${JSON.stringify([...seen])}`);
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
    assert.match(down.body, /sleepy/);
    const unknown = await get(http, 'nobody.localhost');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /No app/);
    assert.deepEqual(await router.current(), [{ app: 'sleepy', hosts: ['sleepy.localhost'], upstreams: [] }]);
  });

  test('re-applying the same routes does not reload Caddy', async () => {
    const up = await upstream('same');
    const routes: Route[] = [{ app: 'same', hosts: ['same.localhost', 'www.same.test'], upstreams: [up.addr] }];
    await router.apply(routes);
    const before = loads(router);
    // Same routes, different order of hosts: still the same config.
    await router.apply([{ ...routes[0], hosts: ['www.same.test', 'same.localhost'] }]);
    await router.apply(routes);
    assert.equal(loads(router), before);
    assert.deepEqual(await router.current(), routes.map((r) => ({ ...r, hosts: [...r.hosts].sort() })));
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
          // The upstream finishes only after the first chunk reached us: buffering would hang here.
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

  test('WebSockets pass through (and a config reload ends them)', async () => {
    const up = await upstream('ws');
    const wss = new ws.WebSocketServer({ server: up.server });
    wss.on('connection', (sock) => {
      sock.on('message', (d) => sock.send(`echo:${d.toString()}`));
      // Caddy 2.6 sends the upstream an unmasked close frame when a reload ends the tunnel.
      sock.on('error', () => undefined);
    });
    try {
      await router.apply([{ app: 'ws', hosts: ['ws.localhost'], upstreams: [up.addr] }]);
      const client = new ws.WebSocket(`ws://127.0.0.1:${http}/socket`, { headers: { host: 'ws.localhost' } });
      const reply = await new Promise<string>((resolve, reject) => {
        client.on('open', () => client.send('hi'));
        client.on('message', (d) => resolve(d.toString()));
        client.on('error', reject);
      });
      assert.equal(reply, 'echo:hi');
      // Documented limitation of Caddy 2.6: a reload that changes the config ends open WebSockets.
      let closed = false;
      client.on('close', () => (closed = true));
      await router.apply([
        { app: 'ws', hosts: ['ws.localhost'], upstreams: [up.addr] },
        { app: 'other', hosts: ['other.localhost'], upstreams: [] },
      ]);
      await eventually(async () => closed, 'the reload to close the WebSocket');
    } finally {
      wss.close();
    }
  });

  test('serves HTTPS for *.localhost with a certificate from its internal CA', async () => {
    const up = await upstream('tls');
    await router.apply([{ app: 'x', hosts: ['x.localhost'], upstreams: [up.addr] }]);
    const https = router.opts.httpsPort;
    // Caddy issues the certificate in the background right after the load.
    const r = await eventually(async () => {
      if (!existsSync(router.rootCaFile)) return undefined;
      return getHttps(https, 'x.localhost', readFileSync(router.rootCaFile));
    }, 'an HTTPS answer from x.localhost');
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { headers: Record<string, string> }).headers['x-forwarded-proto'], 'https');
    // Plain HTTP keeps serving (no automatic redirect).
    assert.equal((await get(http, 'x.localhost')).status, 200);
  });

  test('redirectHttps answers plain HTTP with a redirect to HTTPS', async () => {
    const r2 = await newRouter({ redirectHttps: true });
    await r2.ensureRunning();
    await r2.apply([{ app: 'red', hosts: ['red.localhost'], upstreams: [] }]);
    const res = await get(r2.opts.httpPort, 'red.localhost', '/a?b=1');
    assert.equal(res.status, 308);
    assert.equal(res.headers.location, `https://red.localhost:${r2.opts.httpsPort}/a?b=1`);
    await r2.stop();
  });

  test('drain: a request in flight to an upstream removed by apply() completes', async (t) => {
    const old = await upstream('old');
    const next = await upstream('new');
    await router.apply([{ app: 'drain', hosts: ['drain.localhost'], upstreams: [old.addr] }]);
    const slow = get(http, 'drain.localhost', '/slow?ms=1500');
    await eventually(async () => old.inFlight === 1, 'the slow request to reach the old upstream');
    const t0 = Date.now();
    await router.apply([{ app: 'drain', hosts: ['drain.localhost'], upstreams: [next.addr] }]);
    const applyMs = Date.now() - t0;
    // New requests already go to the new upstream while the old one still serves the slow request.
    const fresh = await get(http, 'drain.localhost');
    assert.equal((JSON.parse(fresh.body) as { name: string }).name, 'new');
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { name: string }).name, 'old');
    t.diagnostic(`apply() removing the busy upstream took ${applyMs} ms (drain delay 300 ms; the slow request took 1500 ms)`);
  });

  test('zero-drop: rolling swaps of upstreams under continuous keep-alive load', async (t) => {
    let current = await upstream('gen0');
    await router.apply([{ app: 'roll', hosts: ['roll.localhost'], upstreams: [current.addr] }]);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    let sent = 0;
    const failures: string[] = [];
    const retried: string[] = [];
    let stop = false;
    const client = async () => {
      while (!stop) {
        sent++;
        try {
          const r = await getKeepAlive(http, 'roll.localhost', agent, (err) => retried.push(String(err)));
          if (r.status !== 200) failures.push(`status ${r.status}: ${r.body.slice(0, 100)}`);
        } catch (err) {
          failures.push(`${String(err)} (reused socket, no response: ${(err as { beforeResponseOnReusedSocket?: boolean }).beforeResponseOnReusedSocket})`);
        }
      }
    };
    const clients = [client(), client(), client(), client()];
    const started = Date.now();
    let swaps = 0;
    try {
      while (Date.now() - started < 5000) {
        const next = await upstream(`gen${swaps + 1}`);
        await router.apply([{ app: 'roll', hosts: ['roll.localhost'], upstreams: [current.addr, next.addr] }]);
        await eventually(async () => next.hits > 0, 'the new upstream to take traffic');
        // apply() resolves after its drain delay: from then on the old replica may stop (close()
        // still lets its own in-flight requests finish, as a SIGTERM grace would).
        await router.apply([{ app: 'roll', hosts: ['roll.localhost'], upstreams: [next.addr] }]);
        await current.close();
        current = next;
        swaps++;
      }
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    agent.destroy();
    // Each reload makes Caddy close the old config's keep-alive connections; a client reusing one at
    // that instant sees a reset before any response, and sends the request again (see getKeepAlive).
    t.diagnostic(
      `${sent} requests over ${swaps} swaps (${swaps * 2} reloads): ${failures.length} failed, ` +
        `${retried.length} resent after a keep-alive connection closed by a reload`,
    );
    assert.ok(swaps >= 3 && sent > 500, `enough load: ${sent} requests, ${swaps} swaps`);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${sent} requests failed`);
  });

  test('Caddy keeps serving after the process that started it exits', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'berth-router-'));
    dirs.push(dataDir);
    const opts = {
      dataDir,
      httpPort: await freePort(),
      httpsPort: await freePort(),
      admin: `127.0.0.1:${await freePort()}`,
      listenHost: '127.0.0.1',
    };
    const up = await upstream('orphan');
    const moduleUrl = new URL('../../src/router/caddy.js', import.meta.url).href;
    const script = `
      const { CaddyRouter } = await import(process.env.ROUTER_MODULE);
      const r = new CaddyRouter(JSON.parse(process.env.ROUTER_OPTS));
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
    const observer = new CaddyRouter(opts);
    routers.push(observer);
    assert.equal(res.code, 0, res.stderr);
    const r = await get(opts.httpPort, 'orphan.localhost');
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { name: string }).name, 'orphan');
  });

  test('after Caddy is killed, ensureRunning() brings it back with its routes, apply() re-syncs', async () => {
    const up = await upstream('phoenix');
    const routes: Route[] = [{ app: 'phoenix', hosts: ['phoenix.localhost'], upstreams: [up.addr] }];
    await router.apply(routes);
    await router.stop('SIGKILL');
    await assert.rejects(get(http, 'phoenix.localhost'), 'nothing listens once Caddy is dead');
    await router.ensureRunning();
    // Back from its autosave before any apply.
    assert.deepEqual(await router.current(), routes);
    assert.equal((await get(http, 'phoenix.localhost')).status, 200);
    const before = loads(router);
    await router.apply(routes);
    assert.equal(loads(router), before, 'the restored config already matches');
    // Dropping the object changes nothing: a new one finds the running Caddy and drives it.
    const again = new CaddyRouter(router.opts);
    await again.ensureRunning();
    assert.deepEqual(await again.current(), routes);
  });

  test('two routers with their own data dirs, ports and admin endpoints coexist', async () => {
    const sock = join(mkdtempSync(join(tmpdir(), 'berth-sock-')), 'admin.sock');
    dirs.push(join(sock, '..'));
    const second = await newRouter({ admin: `unix/${sock}` });
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
    assert.notEqual(router.rootCaFile, second.rootCaFile);
  });
});
