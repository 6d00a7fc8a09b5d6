import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import acme from 'acme-client';
import { loadConfig } from '../../src/config.js';
import { run } from '../../src/lib/exec.js';
import { ensureCa, issueLeaf, signedBy } from '../../src/tls/ca.js';
import { isPrivateName, issuerFor, renewalDue, retryDelayMs } from '../../src/tls/policy.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const DAY = 86_400_000;

test('the CA is created once under the data directory, mode 600, and read back unchanged', async (t) => {
  const dir = await tempDir(t);
  const ca = await ensureCa(dir);
  for (const f of ['ca.key', 'ca.crt']) assert.equal((await stat(join(dir, 'tls', f))).mode & 0o777, 0o600, f);
  assert.equal((await stat(join(dir, 'tls'))).mode & 0o777, 0o700);
  assert.equal(await readFile(join(dir, 'tls', 'ca.crt'), 'utf8'), ca.certPem);
  const again = await ensureCa(dir);
  assert.equal(again.fingerprint, ca.fingerprint);
  const cert = new X509Certificate(ca.certPem);
  assert.equal(cert.ca, true);
  assert.match(cert.subject, /CN=Berth CA [0-9a-f]{8}/);
  assert.equal(cert.fingerprint256, ca.fingerprint);
  assert.equal(createPrivateKey(ca.keyPem).asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(cert.checkIssued(cert), 'self-signed root');
});

test('a leaf carries its hosts as SANs, lasts 90 days, and verifies against the CA (node and openssl)', async (t) => {
  const dir = await tempDir(t);
  const ca = await ensureCa(dir);
  // Whole seconds (X.509 times have no fraction), and today: openssl checks the CA, made just now, at that time too.
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const leaf = await issueLeaf(ca, ['web.localhost', 'shop.internal'], { now });
  const cert = new X509Certificate(leaf.certPem);
  assert.equal(cert.subjectAltName, 'DNS:web.localhost, DNS:shop.internal');
  assert.equal(cert.ca, false);
  assert.ok(cert.verify(new X509Certificate(ca.certPem).publicKey));
  assert.ok(cert.checkIssued(new X509Certificate(ca.certPem)));
  assert.equal(cert.checkHost('shop.internal'), 'shop.internal');
  assert.equal(cert.checkHost('other.localhost'), undefined);
  assert.ok(cert.checkPrivateKey(createPrivateKey(leaf.keyPem)));
  assert.equal(new Date(cert.validTo).getTime(), Math.floor((now.getTime() + 90 * DAY) / 1000) * 1000);
  assert.equal(leaf.notAfter.getTime(), now.getTime() + 90 * DAY);
  assert.ok(signedBy(ca, leaf.certPem));

  const leafFile = join(dir, 'leaf.crt');
  await writeFile(leafFile, leaf.certPem);
  const caFile = join(dir, 'tls', 'ca.crt');
  const ok = await run('openssl', ['verify', '-purpose', 'sslserver', '-attime', String(now.getTime() / 1000 + 3600), '-CAfile', caFile, leafFile], { timeoutMs: 10_000 });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /: OK/);

  // Another installation's CA does not vouch for it.
  const other = await ensureCa(await tempDir(t));
  assert.equal(signedBy(other, leaf.certPem), false);
  const otherFile = join(dir, 'other.crt');
  await writeFile(otherFile, other.certPem);
  const bad = await run('openssl', ['verify', '-CAfile', otherFile, leafFile], { timeoutMs: 10_000 });
  assert.notEqual(bad.code, 0);
});

test('a TLS client trusting only the CA accepts the leaf for its name and refuses it for another', async (t) => {
  const ca = await ensureCa(await tempDir(t));
  const leaf = await issueLeaf(ca, ['web.localhost']);
  const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (s) => s.end('hi'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const hello = (servername: string) =>
    new Promise<TLSSocket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, servername, ca: ca.certPem }, () => resolve(s));
      s.on('error', reject);
    });
  const good = await hello('web.localhost');
  assert.equal(good.authorized, true);
  assert.match(String(good.getPeerCertificate().issuer.CN), /^Berth CA /);
  good.destroy();
  await assert.rejects(hello('api.localhost'), /Hostname\/IP does not match certificate's altnames/);
});

test('private names get the Berth CA; public ones ACME when an account is set', () => {
  for (const h of ['localhost', 'web.localhost', 'db.internal', 'nas.lan', 'api.test', 'printer.local', 'app.berth.example']) {
    assert.equal(isPrivateName(h), true, h);
  }
  for (const h of ['shop.example.com', 'www.bbc.co.uk', 'x.github.io', 'a.b.example.org']) assert.equal(isPrivateName(h), false, h);
  assert.equal(isPrivateName('git.corp.example.com', ['corp.example.com']), true);
  assert.equal(isPrivateName('corp.example.com', ['corp.example.com']), true);
  assert.equal(isPrivateName('notcorp.example.com', ['corp.example.com']), false);
  assert.equal(issuerFor('shop.example.com', { acme: true }), 'acme');
  assert.equal(issuerFor('shop.example.com', { acme: false }), 'berth-ca');
  assert.equal(issuerFor('web.localhost', { acme: true }), 'berth-ca');
});

test('renewal is due 30 days before expiry; retries back off from a minute to at most six hours', () => {
  const now = new Date('2026-11-27T00:00:00Z');
  assert.equal(renewalDue(new Date(now.getTime() + 31 * DAY), now), false);
  assert.equal(renewalDue(new Date(now.getTime() + 30 * DAY), now), true);
  assert.equal(renewalDue(new Date(now.getTime() - DAY), now), true);
  assert.deepEqual([1, 2, 3, 4].map(retryDelayMs), [60_000, 120_000, 240_000, 480_000]);
  assert.equal(retryDelayMs(30), 6 * 3600_000);
});

test('ACME settings: Let\'s Encrypt production by default; internal domains listed loosely are normalized', () => {
  const d = loadConfig({});
  assert.equal(d.acmeDirectory, acme.directory.letsencrypt.production);
  assert.equal(d.acmeEmail, undefined);
  assert.deepEqual(d.internalDomains, []);
  const c = loadConfig({ ROUTER_ACME_DIRECTORY: 'https://localhost:14000/dir', ROUTER_ACME_CA_FILE: '/x/ca.pem', ROUTER_INTERNAL_DOMAINS: ' Corp.Example.com, *.lab.example.org ,.intra.example.net., ' });
  assert.equal(c.acmeDirectory, 'https://localhost:14000/dir');
  assert.equal(c.acmeCaFile, '/x/ca.pem');
  assert.deepEqual(c.internalDomains, ['corp.example.com', 'lab.example.org', 'intra.example.net']);
});
