import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import pino from 'pino';
import { CertificateController } from '../../src/controllers/certificates.js';
import { loadConfig } from '../../src/config.js';
import { HaproxyRouter } from '../../src/router/haproxy/router.js';
import { allCertificates } from '../../src/store/certificates.js';
import { openStore } from '../../src/store/db.js';
import { addApp, addDomain, seedProject } from './tls-fixtures.js';
import { ensureCa, issueLeaf } from '../../src/tls/ca.js';
import { startPebble } from './acme-pebble.js';
import { freePort } from './helpers.js';

const DAY = 86_400_000;

interface Answer {
  status: number;
  body: string;
  socket: TLSSocket;
  reused: boolean;
}

/** One HTTPS request to the router at 127.0.0.1, for `host` by SNI and Host header, on the agent's connections. */
function get(agent: Agent, port: number, host: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, servername: host, path: '/', headers: { host }, agent }, (res: IncomingMessage) => {
      // Taken now: a keep-alive agent detaches the socket from the response once it ends.
      const socket = res.socket as TLSSocket;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, socket, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

test(
  'a public custom domain gets an ACME certificate by HTTP-01 through HAProxy, served by SNI, renewed at runtime without closing an open connection',
  { timeout: 180_000 },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-acme-e2e-'));
    const store = await openStore({ dataDir: dir, databaseUrl: null });
    const [httpPort, httpsPort] = [await freePort(), await freePort()];

    // The app: a plain HTTP server the router proxies to.
    const upstream = createServer((req, res) => res.end(`hello from ${req.headers.host}`));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const appAddr = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;

    const router = new HaproxyRouter({
      dataDir: dir,
      httpPort,
      httpsPort,
      listenHost: '127.0.0.1',
      // HTTP-01 answers must get through even when every other HTTP request is sent to HTTPS.
      redirectHttps: true,
      defaultCertificate: async () => issueLeaf(await ensureCa(dir), ['localhost']),
    });
    const pebble = await startPebble(httpPort);
    t.after(async () => {
      await pebble.stop();
      await router.stop().catch(() => {});
      upstream.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    const db = store.db;
    await seedProject(db);
    await addApp(db, 'a1', 'web');
    await addDomain(db, 'a1', 'shop.example.com', true);

    await router.ensureRunning();
    await router.apply([{ hosts: ['web.localhost', 'shop.example.com'], app: 'web', upstreams: [appAddr] }]);

    let clock = new Date();
    const config = loadConfig({
      BERTH_DATA_DIR: dir,
      ROUTER_DOMAIN: 'localhost',
      ROUTER_ACME_EMAIL: 'ops@example.com',
      ROUTER_ACME_DIRECTORY: pebble.directoryUrl,
      ROUTER_ACME_CA_FILE: pebble.caFile,
      // pebble listens on loopback: allowed for this test only (the ACME directory is under the egress rule).
      BERTH_EGRESS_ALLOW: '127.0.0.1/32',
    });
    const certs = new CertificateController({ db, config, log: pino({ level: 'silent' }) }, router, { clock: () => clock, intervalMs: 3600_000 });
    t.after(() => certs.stop());
    let started = performance.now();
    await certs.reconcile();
    await certs.settled();
    t.diagnostic(`first issuance, ACME order through HAProxy and pebble included: ${Math.round(performance.now() - started)} ms`);

    const rows = Object.fromEntries((await allCertificates(db)).map((r) => [r.hostname, r]));
    assert.equal(rows['shop.example.com'].issuer, 'acme');
    assert.equal(rows['shop.example.com'].status, 'issued', rows['shop.example.com'].message ?? '');
    assert.equal(rows['web.localhost'].issuer, 'berth-ca');
    assert.equal(rows['web.localhost'].status, 'issued');

    // A client that trusts only pebble's root: HAProxy sends the leaf and pebble's intermediate for this SNI.
    const pebbleRoot = await pebble.issuingRoot();
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: pebbleRoot });
    t.after(() => agent.destroy());
    const first = await get(agent, httpsPort, 'shop.example.com');
    assert.equal(first.status, 200);
    assert.equal(first.body, 'hello from shop.example.com');
    assert.equal(first.socket.authorized, true);
    const firstCert = first.socket.getPeerCertificate();
    assert.match(String(firstCert.issuer.CN), /^Pebble Intermediate CA/);
    assert.equal(firstCert.subjectaltname, 'DNS:shop.example.com');
    assert.equal(firstCert.serialNumber.toLowerCase(), rows['shop.example.com'].serial);
    // A browser offering HTTP/2 gets it with this certificate.
    const h2 = await new Promise<TLSSocket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: httpsPort, servername: 'shop.example.com', ca: pebbleRoot, ALPNProtocols: ['h2', 'http/1.1'] }, () => resolve(s));
      s.on('error', reject);
    });
    assert.equal(h2.alpnProtocol, 'h2');
    assert.equal(h2.authorized, true);
    h2.destroy();

    // The slug host, by SNI on the same listener, has Berth's CA certificate.
    const berthAgent = new Agent({ ca: await readFile(join(dir, 'tls', 'ca.crt'), 'utf8') });
    t.after(() => berthAgent.destroy());
    const slug = await get(berthAgent, httpsPort, 'web.localhost');
    assert.equal(slug.status, 200);
    assert.equal(slug.socket.authorized, true);
    assert.match(String(slug.socket.getPeerCertificate().issuer.CN), /^Berth CA /);

    // Renewal: 29 days before the ACME certificate expires, the controller orders a new one (a real
    // HTTP-01 validation through the router again) and the router swaps it at runtime.
    let closed = false;
    first.socket.on('close', () => (closed = true));
    clock = new Date(Date.parse(rows['shop.example.com'].not_after!) - 29 * DAY);
    started = performance.now();
    await certs.reconcile();
    await certs.settled();
    t.diagnostic(`ACME renewal through HAProxy and pebble: ${Math.round(performance.now() - started)} ms`);
    const renewed = (await allCertificates(db)).find((r) => r.hostname === 'shop.example.com')!;
    assert.equal(renewed.status, 'issued', renewed.message ?? '');
    assert.notEqual(renewed.serial, rows['shop.example.com'].serial);

    // The open connection still serves (same socket, reused), and was not closed by the swap.
    const again = await get(agent, httpsPort, 'shop.example.com');
    assert.equal(again.status, 200);
    assert.equal(again.reused, true);
    assert.equal(again.socket, first.socket);
    assert.equal(closed, false);
    assert.equal(again.socket.getPeerCertificate().serialNumber, firstCert.serialNumber, 'the old handshake stays');

    // A new connection gets the renewed certificate.
    const fresh = new Agent({ ca: pebbleRoot });
    t.after(() => fresh.destroy());
    const next = await get(fresh, httpsPort, 'shop.example.com');
    assert.equal(next.status, 200);
    assert.equal(next.socket.authorized, true);
    assert.equal(next.socket.getPeerCertificate().serialNumber.toLowerCase(), renewed.serial);
    assert.ok(new X509Certificate(next.socket.getPeerX509Certificate()!.raw).checkHost('shop.example.com'));

    // The DNS record goes wrong before the next renewal: pebble's validation cannot reach the router.
    // The failure is recorded with the CA's reason, and the still-valid certificate keeps being served.
    await pebble.pointDnsAt('127.0.0.2');
    clock = new Date(Date.parse(renewed.not_after!) - 29 * DAY);
    await certs.reconcile();
    await certs.settled();
    const failed = (await allCertificates(db)).find((r) => r.hostname === 'shop.example.com')!;
    assert.equal(failed.status, 'issued');
    assert.equal(failed.serial, renewed.serial);
    assert.equal(failed.attempts, 1);
    t.diagnostic(`recorded: ${failed.message}`);
    assert.match(failed.message ?? '', /^renewal failed: .*(127\.0\.0\.2|connection refused)/i);
    assert.equal(Date.parse(failed.next_attempt_at!), clock.getTime() + 60_000);
    const still = await get(new Agent({ ca: pebbleRoot }), httpsPort, 'shop.example.com');
    assert.equal(still.socket.getPeerCertificate().serialNumber.toLowerCase(), renewed.serial);
    still.socket.destroy();
  },
);
