import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import Docker from 'dockerode';
import { run } from '../../src/lib/exec.js';
import { isAlive } from '../../src/lib/pids.js';
import { loadSecretBox } from '../../src/server/bootstrap.js';
import { freePort, startServer } from '../support/server.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { BASE_IMAGE } from '../support/images.js';
import { clusterEnv, loadImage, startNodes } from './nodes-harness.js';

// Berth's own registry in cluster mode, against real parts: Debian's docker-registry started by the
// control plane, Docker-in-Docker nodes (the first one is the manager whose engine Berth drives),
// a worker that joins with the command Berth prints, and Distribution's own garbage collection.

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS request to the registry; `ca` undefined: the system's roots only. */
function get(addr: string, path: string, opts: { ca?: string; auth?: { username: string; password: string }; accept?: string } = {}): Promise<Answer> {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  const headers: Record<string, string> = {};
  if (opts.auth) headers.authorization = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;
  if (opts.accept) headers.accept = opts.accept;
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, headers, ca: opts.ca, signal: AbortSignal.timeout(15_000) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function del(addr: string, path: string, opts: { ca: string; auth: { username: string; password: string } }): Promise<number> {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  const authorization = `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'DELETE', headers: { authorization }, ca: opts.ca, signal: AbortSignal.timeout(15_000) }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';

test('cluster registry: TLS from Berth’s CA, auth, images pushed by Berth pulled on a joined worker, garbage collection', async (t) => {
  const cluster = await startNodes(2);
  t.after(() => cluster.destroy());
  const [manager, worker] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]];
  const port = await freePort();
  const s = await startServer({ env: clusterEnv(cluster, port) });
  t.after(() => s.destroy());
  const admin = s.admin;
  const addr = `${cluster.gateway}:${port}`;
  const regDir = join(s.dataDir, 'registry');

  // Nothing runs before an admin turns the cluster on.
  assert.equal(existsSync(join(regDir, 'registry.pid')), false);
  assert.equal((await admin.call('initCluster', { body: {} })).status, 'active');

  // TLS with a certificate from Berth's CA for the address nodes use; no credentials: 401.
  let ca = '';
  const anonymous = await waitFor('the registry to answer over TLS', async () => {
    ca = readFileSync(join(s.dataDir, 'tls', 'ca.crt'), 'utf8');
    const r = await get(addr, '/v2/', { ca });
    return r.status === 401 && r;
  }, { timeoutMs: 60_000, intervalMs: 250 });
  assert.match(String(anonymous.headers['www-authenticate']), /^Basic realm="berth-registry"/);
  await assert.rejects(get(addr, '/v2/'), /self[- ]signed|unable to (get|verify)/i, 'a client without Berth’s CA does not trust it');

  // One account, sealed with Berth's secret key; its bcrypt hash is what the registry reads.
  const sealed = readFileSync(join(regDir, 'credentials.sealed'), 'utf8');
  const creds = JSON.parse(loadSecretBox(s.dataDir, undefined).open(sealed.trim())) as { username: string; password: string };
  assert.ok(sealed.startsWith('v1:') && !sealed.includes(creds.password));
  assert.match(readFileSync(join(regDir, 'htpasswd'), 'utf8'), new RegExp(`^${creds.username}:\\$2y\\$`));
  assert.equal((await get(addr, '/v2/', { ca, auth: { ...creds, password: `${creds.password}x` } })).status, 401);
  assert.equal((await get(addr, '/v2/', { ca, auth: creds })).status, 200);
  assert.equal(statSync(join(regDir, 'credentials.sealed')).mode & 0o777, 0o600);
  // A detached process of its own: it outlives the control plane (the data plane's pulls go on).
  const pid = Number(readFileSync(join(regDir, 'registry.pid'), 'utf8'));
  await s.kill();
  assert.ok(isAlive(pid), 'the registry outlives a killed control plane');
  await s.start();
  assert.equal((await get(addr, '/v2/', { ca, auth: creds })).status, 200);
  assert.equal(Number(readFileSync(join(regDir, 'registry.pid'), 'utf8')), pid, 'the next control plane adopts it');
  // A registry that dies is started again by the control plane.
  process.kill(pid, 'SIGKILL');
  await waitFor('the registry back after a kill', async () => {
    const now = Number(readFileSync(join(regDir, 'registry.pid'), 'utf8'));
    return now !== pid && (await get(addr, '/v2/', { ca, auth: creds }).catch(() => undefined))?.status === 200;
  }, { timeoutMs: 30_000, intervalMs: 250 });

  // The join command writes Berth's CA where the new server's engine looks, then joins.
  const j = await admin.call('getJoinCommand', { query: {} });
  assert.equal(j.registry_addr, addr);
  assert.equal(j.command, `${j.trust_command} && docker swarm join --token ${j.token} ${manager.ip}:2377`);

  // Two apps' images on the manager's engine: one with a layer of its own, one the base image only.
  await loadImage(manager, BASE_IMAGE);
  const own = `berth-regtest-${uniqueSuffix()}:1`;
  const built = await run('docker', ['exec', '-i', manager.name, 'docker', 'build', '-q', '-t', own, '-'], {
    timeoutMs: 300_000,
    input: `FROM ${BASE_IMAGE}\nRUN head -c 1000000 /dev/urandom > /unique\nCMD ["sleep", "infinity"]\n`,
  });
  assert.equal(built.code, 0, built.stderr);
  const hc = { path: '/health', timeout_s: 5, grace_s: 0 };
  const a = await admin.call('createApp', { body: { name: `rega-${uniqueSuffix()}`, health_check: hc } });
  const b = await admin.call('createApp', { body: { name: `regb-${uniqueSuffix()}`, health_check: hc } });
  await admin.call('deployApp', { params: { id: a.id }, body: { image_id: own } });
  await admin.call('deployApp', { params: { id: b.id }, body: { image_id: BASE_IMAGE } });

  // Berth pushes each release's image as ADDR/berth/<app>:v<version>.
  const manifestOf = (appId: string) => get(addr, `/v2/berth/${appId}/manifests/v1`, { ca, auth: creds, accept: MANIFEST_V2 });
  const manifestA = await waitFor('app A’s release in the registry', async () => {
    const r = await manifestOf(a.id);
    return r.status === 200 && (JSON.parse(r.body) as { layers: { digest: string }[] });
  }, { timeoutMs: 180_000, intervalMs: 500 });
  await waitFor('app B’s release in the registry', async () => (await manifestOf(b.id)).status === 200, { timeoutMs: 180_000, intervalMs: 500 });
  const ownLayer = manifestA.layers.at(-1)!.digest;
  const blob = (digest: string) => join(regDir, 'storage/docker/registry/v2/blobs/sha256', digest.slice(7, 9), digest.slice(7), 'data');
  assert.ok(existsSync(blob(ownLayer)), 'the registry’s storage is under the data directory');
  // (No check that the push leaves no extra tag on the manager's engine: in cluster mode a replica
  // placed on the manager pulls the release by its registry name, which is that same tag.)

  // A server that has not run the trust step does not trust the registry.
  const ref = `${addr}/berth/${a.id}:v1`;
  const untrusted = await worker.docker(['pull', ref], 120_000);
  assert.notEqual(untrusted.code, 0);
  assert.match(untrusted.stderr, /x509|certificate signed by unknown authority/);
  const joined = await run('docker', ['exec', worker.name, 'sh', '-c', j.command], { timeoutMs: 120_000 });
  assert.equal(joined.code, 0, joined.stderr);
  // Trusted now, but still no image without credentials.
  const noAuth = await worker.docker(['pull', ref], 120_000);
  assert.notEqual(noAuth.code, 0);
  assert.match(noAuth.stderr, /no basic auth credentials|unauthorized|authentication required/);

  // What the Swarm runtime does: a service created with the registry's auth (X-Registry-Auth);
  // Swarm hands it to the worker, which pulls the image from Berth's registry.
  const engine = new Docker({ socketPath: manager.dockerHost.replace(/^unix:\/\//, '') });
  await engine.createService(
    { username: creds.username, password: creds.password, serveraddress: addr },
    {
      Name: `regtest-${uniqueSuffix()}`,
      TaskTemplate: { ContainerSpec: { Image: ref }, Placement: { Constraints: ['node.role==worker'] } },
      Mode: { Replicated: { Replicas: 1 } },
      EndpointSpec: { Mode: 'dnsrr' },
    },
  );
  await waitFor('the replica running on the worker', async () => (await admin.call('getNode', { params: { id: 'node1' } })).replicas.some((r) => r.state === 'running'), { timeoutMs: 120_000, intervalMs: 500 });
  assert.equal((await worker.docker(['image', 'inspect', '-f', '{{index .RepoDigests 0}}', ref])).code, 0);

  // App A deleted: a collection deletes its manifest and frees its own layer; app B's image stays whole.
  await admin.call('deleteApp', { params: { id: a.id }, query: {} });
  const gcStart = Date.now();
  await admin.call('pruneImages', { body: {} });
  console.log(`# berth images prune with a registry collection (read-only restart, garbage-collect, read-write restart): ${Date.now() - gcStart} ms`);
  assert.equal((await manifestOf(a.id)).status, 404, s.output().split('\n').filter((l) => /registry/.test(l)).slice(-20).join('\n'));
  assert.equal(existsSync(blob(ownLayer)), false, 'the deleted release’s own layer is freed');
  const manifestB = JSON.parse((await manifestOf(b.id)).body) as { layers: { digest: string }[] };
  for (const l of manifestB.layers) assert.ok(existsSync(blob(l.digest)), `app B's layer ${l.digest} kept`);
  // Back to read-write after the collection: a new release of app B reaches the registry.
  assert.equal(existsSync(join(regDir, 'gc-pending')), false);
  await admin.call('deployApp', { params: { id: b.id }, body: { image_id: BASE_IMAGE } });
  await waitFor('app B’s v2 in the registry', async () => (await get(addr, `/v2/berth/${b.id}/manifests/v2`, { ca, auth: creds, accept: MANIFEST_V2 })).status === 200, { timeoutMs: 120_000, intervalMs: 500 });

  // A control plane killed in a collection after the manifest deletes, before garbage-collect
  // (the state it leaves: manifest gone, blobs still there, gc-pending written) finishes it on start.
  const manifestB2 = JSON.parse((await get(addr, `/v2/berth/${b.id}/manifests/v2`, { ca, auth: creds, accept: MANIFEST_V2 })).body) as { config: { digest: string } };
  await admin.call('deleteApp', { params: { id: b.id }, query: {} });
  await s.kill();
  // (v1 and v2 are one image: deleting it by digest drops both tags.)
  for (const v of ['v1', 'v2']) {
    const d = (await get(addr, `/v2/berth/${b.id}/manifests/${v}`, { ca, auth: creds, accept: MANIFEST_V2 })).headers['docker-content-digest'] as string | undefined;
    if (d) assert.equal(await del(addr, `/v2/berth/${b.id}/manifests/${d}`, { ca, auth: creds }), 202);
  }
  writeFileSync(join(regDir, 'gc-pending'), 'test\n');
  assert.ok(existsSync(blob(manifestB2.config.digest)), 'blobs stay until garbage-collect runs');
  await s.start();
  await waitFor('the pending collection finished on start', () => !existsSync(join(regDir, 'gc-pending')) && !existsSync(blob(manifestB2.config.digest)), { timeoutMs: 60_000, intervalMs: 250 });
  // gc-pending goes when garbage-collect is done, just before the read-write restart: the registry serves again right after.
  await waitFor('the registry serving read-write after the collection', async () => (await get(addr, '/v2/', { ca, auth: creds })).status === 200, { timeoutMs: 30_000, intervalMs: 250 });
});
