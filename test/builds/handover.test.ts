import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, runOk } from '../../src/lib/exec.js';
import { BuildEngine } from '../../src/imagebuild/engine.js';
import { BUILD_NETWORK } from '../../src/imagebuild/fence.js';
import { handoverRepository, HandoverRegistry } from '../../src/imagebuild/handover.js';

const BASE = process.env.BERTH_BASE_IMAGE ?? 'berth/base:bookworm';

const answers = async (host: string) => {
  try {
    return (await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(3_000) })).status === 200;
  } catch {
    return false;
  }
};

/** A container's TCP connect to ip:port, from the build network or the engine's default bridge. */
const reaches = async (network: string, ip: string, port: string) => {
  const r = await run('docker', ['run', '--rm', '--network', network, BASE, 'bash', '-c', 'timeout 5 bash -c "echo > /dev/tcp/$0/$1" && echo open || echo closed', ip, port], { timeoutMs: 60_000 });
  return r.stdout.trim();
};

/**
 * The loopback registry built images travel through (handover.ts): only the control plane reaches
 * it, it runs only while a hand-over is under way, and what it keeps is each project's newest image.
 */
describe('the build hand-over registry', () => {
  let dir: string;
  let reg: HandoverRegistry;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-handover-'));
    reg = new HandoverRegistry(dir);
    await new BuildEngine({ instanceId: 'test-handover', anchorImage: BASE }).ensureNetwork();
  });

  after(async () => {
    await reg.sweep();
    await rm(dir, { recursive: true, force: true });
  });

  test('answers on the host loopback only: not from the build network, the default bridge or a container\'s own loopback', async () => {
    const gateway = (await runOk('docker', ['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', BUILD_NETWORK], { timeoutMs: 20_000 })).stdout.trim();
    const docker0 = (await runOk('docker', ['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'bridge'], { timeoutMs: 20_000 })).stdout.trim();
    let seen = '';
    await reg.use(async (host) => {
      seen = host;
      assert.match(host, /^127\.0\.0\.1:[0-9]+$/);
      const port = host.split(':')[1]!;
      assert.ok(await answers(host), 'the control: the host reaches it');
      assert.equal(await reaches(BUILD_NETWORK, gateway, port), 'closed', 'a build-network container reaches it through the gateway');
      assert.equal(await reaches('bridge', docker0, port), 'closed', 'an app-style container reaches it through docker0');
      assert.equal(await reaches('bridge', '127.0.0.1', port), 'closed', 'a container reaches it at 127.0.0.1');
    });
    assert.equal(await answers(seen), false, 'it stops once the hand-over is done');
  });

  test("keeps each project's newest image and collects the rest; the next start uses the same port", async () => {
    // Two tiny images from the engine, pushed in turn under one project's `last` tag.
    const store = join(dir, 'store');
    const args = ['--root', join(store, 'graph'), '--runroot', join(store, 'run'), '--storage-driver', 'vfs'];
    const ids: string[] = [];
    for (const n of ['one', 'two']) {
      const from = (await runOk('buildah', [...args, 'from', '--pull-never', 'scratch'], { timeoutMs: 60_000 })).stdout.trim();
      await runOk('buildah', [...args, 'config', '--label', `n=${n}-${Date.now()}`, from], { timeoutMs: 60_000 });
      ids.push((await runOk('buildah', [...args, 'commit', '--format', 'docker', from], { timeoutMs: 60_000 })).stdout.trim().split('\n').pop()!);
    }
    const hosts: string[] = [];
    for (const id of ids) {
      await reg.use(async (host) => {
        hosts.push(host);
        await runOk('buildah', [...args, 'push', '--tls-verify=false', id, `docker://${host}/${handoverRepository('prj_a')}:last`], { timeoutMs: 120_000 });
      });
    }
    assert.equal(hosts[0], hosts[1], 'the port is kept (buildah knows which blobs a registry has by its host and port)');
    const revisions = join(dir, 'storage/docker/registry/v2/repositories', handoverRepository('prj_a'), '_manifests/revisions/sha256');
    assert.equal((await readdir(revisions)).length, 1, 'only the tagged manifest is kept');
    await rm(store, { recursive: true, force: true });
  });
});
