import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import pino from 'pino';
import { CertificateController } from '../../src/controllers/certificates.js';
import { loadConfig } from '../../src/config.js';
import { openStore } from '../../src/store/db.js';
import { addApp, addDomain, seedProject } from './tls-fixtures.js';
import { allCertificates } from '../../src/store/certificates.js';
import type { AcmeIssuer, ChallengeSink } from '../../src/acme/client.js';
import type { Certificate, Router } from '../../src/router/types.js';
import { ensureCa, issueLeaf } from '../../src/tls/ca.js';

const DAY = 86_400_000;

/** Records what the controller hands the router. */
class RecordingRouter implements Pick<Router, 'setCertificates' | 'setAcmeChallenges'> {
  certs: Certificate[] = [];
  pushes = 0;
  challengeLog: Record<string, string>[] = [];
  async setCertificates(certs: Certificate[]) {
    this.certs = certs;
    this.pushes++;
  }
  async setAcmeChallenges(answers: Record<string, string>) {
    this.challengeLog.push(answers);
  }
  host(h: string) {
    return this.certs.find((c) => c.hosts.includes(h));
  }
}

/** An ACME CA stand-in that signs with a CA of its own after publishing a challenge, or fails when told to. */
class ScriptedAcme implements AcmeIssuer {
  failWith: string | null = null;
  /** The next order never completes (a control plane killed mid-order). */
  hangOnce = false;
  private hung!: () => void;
  /** Resolves once an order hangs. */
  readonly hanging = new Promise<void>((r) => (this.hung = r));
  orders: string[][] = [];
  constructor(private readonly caDir: string, private readonly clock: () => Date) {}
  async issue(hosts: string[], sink: ChallengeSink) {
    this.orders.push(hosts);
    await sink.add(`tok-${hosts[0]}`, `tok-${hosts[0]}.thumb`);
    if (this.hangOnce) {
      this.hangOnce = false;
      this.hung();
      await new Promise(() => {});
    }
    try {
      if (this.failWith) throw new Error(this.failWith);
      const leaf = await issueLeaf(await ensureCa(this.caDir), hosts, { now: this.clock() });
      return { certPem: leaf.certPem, keyPem: leaf.keyPem, notAfter: leaf.notAfter };
    } finally {
      await sink.remove(`tok-${hosts[0]}`);
    }
  }
}

async function setup(t: TestContext, env: Record<string, string> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'berth-certs-'));
  const acmeDir = await mkdtemp(join(tmpdir(), 'berth-fakeacme-'));
  const store = await openStore({ dataDir: dir, databaseUrl: null });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
    await rm(acmeDir, { recursive: true, force: true });
  });
  const db = store.db;
  await seedProject(db);
  let clock = new Date('2026-11-27T12:00:00Z');
  const config = loadConfig({ BERTH_DATA_DIR: dir, ROUTER_DOMAIN: 'localhost', ...env });
  const router = new RecordingRouter();
  const acme = new ScriptedAcme(acmeDir, () => clock);
  let controller: CertificateController;
  /** A new controller on the same database and data directory: what a restart of the control plane makes. */
  const restart = () => {
    controller = new CertificateController({ db, config, log: pino({ level: 'silent' }) }, router as unknown as Router, {
      clock: () => clock,
      acme: env.ROUTER_ACME_EMAIL ? acme : undefined,
    });
  };
  restart();
  t.after(() => controller.stop());
  const pass = async () => {
    await controller.reconcile();
    await controller.settled();
  };
  return { dir, db, router, acme, pass, restart, current: () => controller, advance: (ms: number) => (clock = new Date(clock.getTime() + ms)), ca: () => ensureCa(dir) };
}

test("every app host gets a Berth CA certificate, stored mode 600 and handed to the router; a deleted app's goes", async (t) => {
  const { db, router, pass, ca, dir } = await setup(t);
  await addApp(db, 'a1', 'web');
  await addApp(db, 'a2', 'api');
  await pass();
  const web = router.host('web.localhost');
  assert.ok(web, 'web.localhost served');
  assert.ok(router.host('api.localhost'));
  const cert = new X509Certificate(web.certPem);
  assert.ok(cert.verify(new X509Certificate((await ca()).certPem).publicKey));
  assert.equal(cert.subjectAltName, 'DNS:web.localhost');
  assert.equal((await stat(join(dir, 'tls', 'certs', `${web.name}.key`))).mode & 0o777, 0o600);
  const rows = await allCertificates(db);
  assert.deepEqual(rows.map((r) => [r.hostname, r.issuer, r.status]), [['api.localhost', 'berth-ca', 'issued'], ['web.localhost', 'berth-ca', 'issued']]);

  const pushes = router.pushes;
  await pass();
  assert.equal(router.pushes, pushes, 'nothing changed: nothing pushed');

  await db.deleteFrom('apps').where('id', '=', 'a2').execute();
  await pass();
  assert.deepEqual(router.certs.map((c) => c.hosts[0]), ['web.localhost']);
  assert.deepEqual((await allCertificates(db)).map((r) => r.hostname), ['web.localhost']);
});

test('after a restart, a certificate whose files were lost is issued again; one that is fine is kept', async (t) => {
  const { db, router, pass, restart, dir } = await setup(t);
  await addApp(db, 'a1', 'web');
  await addApp(db, 'a2', 'api');
  await pass();
  const web = router.host('web.localhost')!;
  const api = router.host('api.localhost')!;
  await rm(join(dir, 'tls', 'certs', `${web.name}.crt`));
  restart();
  await pass();
  assert.notEqual(router.host('web.localhost')!.certPem, web.certPem, 'issued again');
  assert.equal(router.host('api.localhost')!.certPem, api.certPem, 'kept');
  assert.deepEqual((await allCertificates(db)).map((r) => r.status), ['issued', 'issued']);
});

test('an order cut short by a restart is pending in the database and ordered again by the next controller', async (t) => {
  const { db, router, acme, pass, restart, current } = await setup(t, { ROUTER_ACME_EMAIL: 'ops@example.com' });
  await addApp(db, 'a1', 'web');
  await addDomain(db, 'a1', 'shop.example.com', true);
  acme.hangOnce = true;
  await current().reconcile();
  await acme.hanging;
  assert.equal((await allCertificates(db)).find((r) => r.hostname === 'shop.example.com')!.status, 'pending', 'written before ordering');
  await current().stop();
  restart();
  await pass();
  assert.equal(acme.orders.length, 2);
  assert.equal((await allCertificates(db)).find((r) => r.hostname === 'shop.example.com')!.status, 'issued');
  assert.ok(router.host('shop.example.com'));
});

test('renewal replaces a certificate 30 days before it expires, not earlier', async (t) => {
  const { db, router, pass, advance } = await setup(t);
  await addApp(db, 'a1', 'web');
  await pass();
  const first = router.host('web.localhost')!;
  advance(59 * DAY);
  await pass();
  assert.equal(router.host('web.localhost')!.certPem, first.certPem, 'day 59: still the first certificate');
  advance(2 * DAY);
  await pass();
  const renewed = router.host('web.localhost')!;
  assert.notEqual(new X509Certificate(renewed.certPem).serialNumber, new X509Certificate(first.certPem).serialNumber);
  assert.equal(renewed.name, first.name, 'same name: the router replaces it in place');
  const row = (await allCertificates(db))[0];
  assert.equal(row.status, 'issued');
  assert.equal(Date.parse(row.not_after!), Date.parse('2026-11-27T12:00:00Z') + 61 * DAY + 90 * DAY);
});

test('with an ACME account, a verified public domain gets an ACME certificate through HTTP-01 answers; unverified and private ones do not', async (t) => {
  const { db, router, acme, pass } = await setup(t, { ROUTER_ACME_EMAIL: 'ops@example.com', ROUTER_INTERNAL_DOMAINS: 'corp.example.com' });
  await addApp(db, 'a1', 'web');
  await addDomain(db, 'a1', 'shop.example.com', true);
  await addDomain(db, 'a1', 'pending.example.com', false);
  await addDomain(db, 'a1', 'git.corp.example.com', true);
  await pass();
  assert.deepEqual(acme.orders, [['shop.example.com']]);
  assert.deepEqual(router.challengeLog, [{ 'tok-shop.example.com': 'tok-shop.example.com.thumb' }, {}]);
  const rows = Object.fromEntries((await allCertificates(db)).map((r) => [r.hostname, [r.issuer, r.status]]));
  assert.deepEqual(rows, {
    'git.corp.example.com': ['berth-ca', 'issued'],
    'shop.example.com': ['acme', 'issued'],
    'web.localhost': ['berth-ca', 'issued'],
  });
  assert.deepEqual(router.certs.map((c) => c.hosts[0]).sort(), ['git.corp.example.com', 'shop.example.com', 'web.localhost']);
});

test('a failed order is recorded with its reason and retried with backoff; a renewal failure keeps the valid certificate served', async (t) => {
  const { db, router, acme, pass, advance } = await setup(t, { ROUTER_ACME_EMAIL: 'ops@example.com' });
  await addApp(db, 'a1', 'web');
  await addDomain(db, 'a1', 'shop.example.com', true);
  acme.failWith = 'urn:ietf:params:acme:error:connection: connection refused';
  await pass();
  let row = (await allCertificates(db)).find((r) => r.hostname === 'shop.example.com')!;
  assert.equal(row.status, 'failed');
  assert.match(row.message!, /issuance failed: .*connection refused/);
  assert.equal(row.attempts, 1);
  assert.equal(router.host('shop.example.com'), undefined, 'no certificate: the router serves its default one');

  await pass();
  assert.equal(acme.orders.length, 1, 'not retried before the backoff passes');
  const retriedAt = advance(61_000);
  await pass();
  assert.equal(acme.orders.length, 2);
  row = (await allCertificates(db)).find((r) => r.hostname === 'shop.example.com')!;
  assert.equal(row.attempts, 2);
  assert.equal(Date.parse(row.next_attempt_at!), retriedAt.getTime() + 120_000, 'the second wait is twice the first');

  advance(121_000);
  acme.failWith = null;
  await pass();
  const served = router.host('shop.example.com')!;
  assert.ok(served);
  advance(61 * DAY);
  acme.failWith = 'rate limited';
  await pass();
  row = (await allCertificates(db)).find((r) => r.hostname === 'shop.example.com')!;
  assert.equal(row.status, 'issued');
  assert.match(row.message!, /renewal failed: rate limited/);
  assert.equal(router.host('shop.example.com')!.certPem, served.certPem, 'the old certificate is still served');
});
