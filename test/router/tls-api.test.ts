import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../../src/lib/exec.js';
import { CLI_MAIN, startServer, type TestServer } from '../support/server.js';

describe("Berth's CA through the API and the CLI", () => {
  let s: TestServer;
  let home: string;
  before(async () => {
    s = await startServer();
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
    const pem = await res.text();
    assert.equal(pem, readFileSync(join(s.dataDir, 'tls', 'ca.crt'), 'utf8'));
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
    assert.ok(spec.paths['/api/v1/router/ca.pem']);
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
});
