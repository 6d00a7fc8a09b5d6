import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { get as httpsGet } from 'node:https';
import { get as httpGet } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { run, runOk } from '../../src/lib/exec.js';
import { freePort, startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { viaRouter } from '../support/load.js';
import { rejects } from '../builds/helpers.js';

const field = (e: { details?: unknown }) => (e.details as { field?: string } | undefined)?.field;

/**
 * Debian's docker-registry (Distribution 2.8) on 127.0.0.1 with htpasswd auth, over plain HTTP and
 * over TLS: an image pushed there is deployed with a registry account; without one the release fails
 * with the registry's reason. (Docker treats registries on 127.0.0.0/8 as insecure registries: it
 * does not verify their certificate, and after a failed HTTPS attempt it retries over HTTP, so a
 * refused pull from the TLS one reports that retry's error rather than the registry's.)
 */
describe('private registry deploys', () => {
  let s: TestServer;
  let dev: BerthClient;
  const registries: ChildProcess[] = [];
  const pushed: string[] = [];
  let tlsRegistry: { host: string; image: string };
  let dir: string;
  let host: string;
  let image: string;
  const password = `reg-pass-${uniqueSuffix()}`;
  const slug = `reg-${uniqueSuffix()}`;
  const dockerEnv = () => ({ ...process.env, DOCKER_CONFIG: join(dir, 'docker') });

  const releaseDone = (version: number) =>
    waitFor(
      `release v${version}`,
      async () => {
        const r = await dev.call('getRelease', { params: { id: slug, version } });
        return ['live', 'failed'].includes(r.status) ? r : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 250 },
    );

  /** A registry with htpasswd auth holding one pushed image that is not on the engine any more. */
  async function startRegistry(name: string, tls: boolean) {
    const root = join(dir, name);
    const port = await freePort();
    const at = `127.0.0.1:${port}`;
    await runOk('htpasswd', ['-Bbc', join(dir, `${name}.htpasswd`), 'deployer', password], { timeoutMs: 30_000 });
    let tlsConfig = '';
    if (tls) {
      // A certificate made here: Docker does not verify it, as registries on 127.0.0.0/8 are insecure registries by default.
      await runOk('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', `${root}.key`, '-out', `${root}.crt`], { timeoutMs: 60_000 });
      tlsConfig = `  tls:\n    certificate: ${root}.crt\n    key: ${root}.key\n`;
    }
    writeFileSync(`${root}.yml`, `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${root}\nhttp:\n  addr: ${at}\n${tlsConfig}auth:\n  htpasswd:\n    realm: berth-test\n    path: ${dir}/${name}.htpasswd\n`);
    registries.push(spawn('docker-registry', ['serve', `${root}.yml`], { stdio: 'ignore' }));
    const ca = tls ? readFileSync(`${root}.crt`) : undefined;
    const status = () =>
      new Promise<number | undefined>((resolve) =>
        (tls ? httpsGet : httpGet)(`${tls ? 'https' : 'http'}://${at}/v2/`, { ca }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).on('error', () => resolve(undefined)),
      );
    await waitFor(`the ${name} registry to answer`, async () => (await status()) === 401, { timeoutMs: 30_000 });
    const local = await ensureTestAppImage(new DockerRuntime({}));
    const ref = `${at}/team/app-${uniqueSuffix()}:1`;
    await runOk('docker', ['tag', local, ref], { timeoutMs: 30_000 });
    await runOk('docker', ['login', '-u', 'deployer', '--password-stdin', at], { timeoutMs: 30_000, input: password, env: dockerEnv() });
    await runOk('docker', ['push', ref], { timeoutMs: 180_000, env: dockerEnv() });
    await runOk('docker', ['rmi', ref], { timeoutMs: 30_000 });
    pushed.push(ref);
    return { host: at, image: ref };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-registry-'));
    ({ host, image } = await startRegistry('plain', false));
    tlsRegistry = await startRegistry('tls', true);
    // The registry under test listens on loopback: allowed for this test only.
    s = await startServer({ egressAllow: '127.0.0.1/32' });
    dev = await s.newUser('dev');
    await dev.call('createApp', { body: { name: slug, health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
  });
  after(async () => {
    await s?.destroy();
    for (const r of registries) r.kill('SIGTERM');
    for (const ref of pushed) await run('docker', ['rmi', ref], { timeoutMs: 30_000 });
    rmSync(dir, { recursive: true, force: true });
  });

  test('a registry host with a scheme or a path is a 400 naming host', async () => {
    for (const bad of ['https://registry.example.com', 'registry.example.com/team', 'bad host']) {
      const e = await rejects(dev.call('createRegistry', { body: { host: bad, username: 'u', password: 'p' } }), 400);
      assert.equal(field(e), 'host', bad);
    }
    const e = await rejects(dev.call('deployApp', { params: { id: slug }, body: { image_id: 'no-such-image-here:1' } }), 400);
    assert.equal(field(e), 'image_id');
  });

  test('without an account the release fails with the registry’s reason, and nothing runs', async () => {
    const r = await dev.call('deployApp', { params: { id: slug }, body: { image_id: image } });
    const done = await releaseDone(r.version);
    assert.equal(done.status, 'failed');
    assert.match(done.reason!, /pulling .* failed: .*(no basic auth credentials|unauthorized|authentication required)/);
    assert.match(done.reason!, /berth registries add 127\.0\.0\.1:/);
    assert.equal((await dev.call('listContainers', { query: { app: slug } })).items.length, 0);
  });

  test('with the account the image is pulled, deployed and answers', async () => {
    const acct = await dev.call('createRegistry', { body: { host, username: 'deployer', password } });
    assert.deepEqual(Object.keys(acct).sort(), ['created_at', 'host', 'id', 'username']);
    await rejects(dev.call('createRegistry', { body: { host, username: 'deployer', password } }), 409);
    const r = await dev.call('deployApp', { params: { id: slug }, body: { image_id: image } });
    const done = await releaseDone(r.version);
    assert.equal(done.status, 'live', done.reason ?? '');
    const res = await waitFor('the app to answer', async () => {
      const x = await viaRouter(s.routerPort, `${slug}.localhost`, '/health');
      return x.status === 200 ? x : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    assert.equal(res.status, 200);
  });

  test('over TLS too: refused without the account, pulled and live with it', async () => {
    const r1 = await dev.call('deployApp', { params: { id: slug }, body: { image_id: tlsRegistry.image } });
    const refused = await releaseDone(r1.version);
    assert.equal(refused.status, 'failed');
    assert.match(refused.reason!, /^pulling 127\.0\.0\.1:\d+\/team\/app-\w+:1 failed: /);
    await dev.call('createRegistry', { body: { host: tlsRegistry.host, username: 'deployer', password } });
    const r2 = await dev.call('deployApp', { params: { id: slug }, body: { image_id: tlsRegistry.image } });
    const done = await releaseDone(r2.version);
    assert.equal(done.status, 'live', done.reason ?? '');
  });

  test('the password appears in no response, event, server log or database file', async () => {
    const text = JSON.stringify([await dev.call('listRegistries', {}), await dev.call('listEvents', { query: { app: slug, limit: 1000 } }), await dev.call('listReleases', { params: { id: slug } })]);
    assert.ok(!text.includes(password));
    assert.ok(!s.output().includes(password));
    const files = readdirSync(s.dataDir).filter((f) => f.startsWith('berth.db'));
    assert.ok(files.length >= 1);
    for (const f of files) assert.ok(!readFileSync(join(s.dataDir, f)).includes(password), f);
  });
});
