import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, type PeerCertificate } from 'node:tls';
import { run } from '../../src/lib/exec.js';
import { BerthClient } from '../../src/client/index.js';
import { CLI_MAIN, ENGINES, startServer, type TestServer } from '../support/server.js';
import { eventually } from './helpers.js';

/** The certificate the router presents for this SNI name to a client trusting only `ca`, or why the handshake failed. */
function handshake(port: number, servername: string, ca: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername, ca }, () => {
      const cert = s.getPeerCertificate();
      s.destroy();
      resolve(cert);
    });
    s.on('error', reject);
  });
}

for (const engine of ENGINES) describe(`Berth's CA and certificates through the API and the CLI (${engine})`, () => {
  let s: TestServer;
  let home: string;
  before(async () => {
    s = await startServer({ engine, env: { BERTH_DOMAIN_VERIFY: 'http' } });
    home = mkdtempSync(join(tmpdir(), 'berth-cli-home-'));
  });
  after(async () => {
    await s?.destroy();
    rmSync(home, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => run(process.execPath, [CLI_MAIN, '--server', s.url, ...args], { timeoutMs: 30_000, env: { ...process.env, HOME: home, BERTH_TOKEN: '' } });

  test('GET /api/v1/router/ca.pem serves the CA file of the data directory, without a token', async () => {
    const res = await fetch(new URL('/api/v1/router/ca.pem', s.url));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-pem-file');
    assert.equal(res.headers.get('content-disposition'), 'attachment; filename="berth-ca.pem"');
    const pem = await res.text();
    assert.equal(pem, readFileSync(join(s.dataDir, 'tls', 'ca.crt'), 'utf8'));
    // A contract route like every other: the typed client gets the file's text.
    assert.equal(await new BerthClient({ baseUrl: s.url }).call('getRouterCaPem'), pem);
    const cert = new X509Certificate(pem);
    assert.equal(cert.ca, true);
    assert.match(cert.subject, /CN=Berth CA/);
  });

  test('GET /api/v1/router/ca describes it: subject, SHA-256 fingerprint, expiry; OpenAPI lists both', async () => {
    const ca = await s.client().call('getRouterCa');
    const cert = new X509Certificate(ca.pem);
    assert.equal(ca.fingerprint_sha256, cert.fingerprint256);
    assert.equal(ca.not_after, new Date(cert.validTo).toISOString());
    assert.match(ca.subject, /CN=Berth CA [0-9a-f]{8}, O=Berth|O=Berth, CN=Berth CA/);
    const spec = (await (await fetch(new URL('/api/openapi.json', s.url))).json()) as { paths: Record<string, unknown> };
    assert.ok(spec.paths['/api/v1/router/ca']);
    const pemOp = (spec.paths['/api/v1/router/ca.pem'] as { get: { responses: Record<string, { content: Record<string, unknown>; headers?: Record<string, unknown> }> } }).get;
    assert.ok(pemOp.responses['200'].content['application/x-pem-file'], JSON.stringify(pemOp.responses['200']));
    assert.ok(pemOp.responses['200'].headers?.['content-disposition']);
  });

  test('berth router ca prints the PEM without logging in; -o writes it; --json gives the details', async () => {
    const pem = readFileSync(join(s.dataDir, 'tls', 'ca.crt'), 'utf8');
    const printed = await cli('router', 'ca');
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout, pem);
    const file = join(home, 'berth-ca.pem');
    const written = await cli('router', 'ca', '-o', file);
    assert.equal(written.code, 0, written.stderr);
    assert.equal(readFileSync(file, 'utf8'), pem);
    assert.match(written.stdout, /SHA-256 [0-9A-F:]{95}/);
    const json = await cli('--json', 'router', 'ca');
    assert.equal((JSON.parse(json.stdout) as { pem: string }).pem, pem);
  });

  test("an app's host and its verified custom domain are served over HTTPS with Berth CA certificates; the domains API shows their state", async () => {
    const ca = readFileSync(join(s.dataDir, 'tls', 'ca.crt'), 'utf8');
    const app = await s.admin.call('createApp', { body: { name: 'tls-web', slug: 'tls-web' } });
    const slugCert = await eventually(
      () => handshake(s.routerHttpsPort, 'tls-web.localhost', ca).then((c) => (c.subjectaltname === 'DNS:tls-web.localhost' ? c : undefined)),
      'the router to present tls-web.localhost its own certificate',
      30_000,
    );
    assert.match(String(slugCert.issuer.CN), /^Berth CA /);

    const added = await s.admin.call('addDomain', { params: { id: app.id }, body: { hostname: 'www.tls-shop.localhost' } });
    assert.equal(added.verified, true, added.message ?? '');
    const listed = await eventually(
      async () => (await s.admin.call('listDomains', { params: { id: app.id } })).items.find((d) => d.certificate?.status === 'issued'),
      'the domain certificate to be issued',
      30_000,
    );
    assert.equal(listed.certificate!.issuer, 'berth-ca');
    assert.equal(listed.certificate!.message, null);
    const days = (Date.parse(listed.certificate!.not_after!) - Date.now()) / 86_400_000;
    assert.ok(days > 89 && days <= 90, `valid ${days} days`);
    const domainCert = await eventually(
      () => handshake(s.routerHttpsPort, 'www.tls-shop.localhost', ca).then((c) => (c.subjectaltname === 'DNS:www.tls-shop.localhost' ? c : undefined)),
      'the router to present www.tls-shop.localhost its certificate',
      30_000,
    );
    assert.match(String(domainCert.issuer.CN), /^Berth CA /);
    const ls = await run(process.execPath, [CLI_MAIN, '--server', s.url, 'domains', 'ls', 'tls-web'], { timeoutMs: 30_000, env: { ...process.env, HOME: home, BERTH_TOKEN: s.adminToken } });
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, new RegExp(`www\\.tls-shop\\.localhost\\s+yes\\s+issued \\(berth-ca, until ${listed.certificate!.not_after!.slice(0, 10)}\\)`));
    assert.equal(new Date(domainCert.valid_to).toISOString(), new Date(listed.certificate!.not_after!).toISOString().replace(/\.\d{3}Z$/, '.000Z'));
  });
});
