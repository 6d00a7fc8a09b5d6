import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/lib/exec.js';
import { ensureCa, issueLeaf } from '../../src/tls/ca.js';
import { appOfRepository, repositoryOf, tagOf, unreferencedManifests } from '../../src/registry/gc.js';
import { trustCommand } from '../../src/registry/trust.js';
import { configText, registryFiles } from '../../src/registry/files.js';

const d = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;

test('garbage collection deletes the manifests no kept tag points to, and keeps a digest a kept tag shares', () => {
  const a = repositoryOf('app_abc');
  const gone = repositoryOf('app_deleted');
  const stored = new Map([
    // v1 and v2 share an image (a config change); v3 is its own; only v2 and v3 are kept.
    [a, new Map([[tagOf(1), d(1)], [tagOf(2), d(1)], [tagOf(3), d(3)], [tagOf(4), d(4)]])],
    [gone, new Map([[tagOf(1), d(5)]])],
  ]);
  const kept = new Map([[a, new Set([tagOf(2), tagOf(3)])]]);
  assert.deepEqual(unreferencedManifests(stored, kept), [
    { repo: a, digest: d(4) },
    { repo: gone, digest: d(5) },
  ]);
  assert.equal(appOfRepository(a), 'app_abc');
  assert.equal(appOfRepository('someone/else'), null);
});

test('the trust step writes exactly the CA into certs.d for the address, and takes only checked values', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-trust-'));
  try {
    const ca = await ensureCa(dir);
    const cmd = trustCommand('10.0.0.5:5000', ca.certPem);
    assert.match(cmd, /^mkdir -p \/etc\/docker\/certs\.d\/10\.0\.0\.5:5000 && echo [A-Za-z0-9+/=]+ \| base64 -d > \/etc\/docker\/certs\.d\/10\.0\.0\.5:5000\/ca\.crt$/);
    // Run by a real shell with the root moved into a temporary directory: the file is the CA, byte for byte.
    const res = await run('sh', ['-c', cmd.replaceAll('/etc/docker/certs.d', join(dir, 'certs.d'))], { timeoutMs: 10_000 });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(readFileSync(join(dir, 'certs.d', '10.0.0.5:5000', 'ca.crt'), 'utf8'), ca.certPem);
    for (const bad of ['10.0.0.5', '10.0.0.5:5000; rm -rf /', '$(id):5000', 'a b:1']) assert.throws(() => trustCommand(bad, ca.certPem), /not a registry address/, bad);
    assert.throws(() => trustCommand('10.0.0.5:5000', `${ca.certPem}'; id; '`), /not a PEM/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a registry certificate for an IP address carries it as an IP SAN (what Docker checks)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ipsan-'));
  try {
    const leaf = await issueLeaf(await ensureCa(dir), ['172.18.0.1']);
    const cert = new X509Certificate(leaf.certPem);
    assert.equal(cert.checkIP('172.18.0.1'), '172.18.0.1');
    assert.match(cert.subjectAltName ?? '', /IP Address:172\.18\.0\.1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the registry config: TLS, htpasswd, deletes on, read-only only for the collection, storage under its directory', () => {
  const files = registryFiles('/data/registry');
  const rw = JSON.parse(configText(files, { host: '10.0.0.5', port: 5000, secret: 's', readonly: false }));
  const ro = JSON.parse(configText(files, { host: 'reg.internal', port: 5001, secret: 's', readonly: true }));
  assert.equal(rw.http.addr, '10.0.0.5:5000');
  assert.equal(ro.http.addr, ':5001');
  assert.deepEqual(rw.http.tls, { certificate: '/data/registry/tls.crt', key: '/data/registry/tls.key' });
  assert.equal(rw.auth.htpasswd.path, '/data/registry/htpasswd');
  assert.equal(rw.storage.filesystem.rootdirectory, '/data/registry/storage');
  assert.equal(rw.storage.delete.enabled, true);
  assert.deepEqual([rw.storage.maintenance.readonly.enabled, ro.storage.maintenance.readonly.enabled], [false, true]);
});
