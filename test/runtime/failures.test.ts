import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { settled } from '../support/rollout.js';

/**
 * A release that cannot become healthy fails with the cause in words, as soon as the cause is
 * certain. The health checks here allow 150 s and the waits 90 s: a release that waited out its
 * timeout, as before, fails these tests by their waits, not by a timed assertion.
 */
describe('failed releases explained', () => {
  let s: TestServer;
  let dev: BerthClient;
  let image: string;

  before(async () => {
    image = await ensureTestAppImage(new DockerRuntime({}));
    s = await startServer();
    dev = await s.newUser('dev');
    await dev.call('createProject', { body: { name: 'why' } });
  });
  after(async () => {
    await s?.destroy();
  });

  /** A new app whose first release runs the test app with `env`; resolves with that release, settled. */
  const firstRelease = async (name: string, env: Record<string, string>, extra: Record<string, unknown> = {}) => {
    await dev.call('createApp', { body: { name, project: 'why', health_check: { path: '/health', timeout_s: 150, grace_s: 0 }, ...extra } });
    await dev.call('setEnv', { params: { id: name }, body: { set: env } });
    const rel = await dev.call('deployApp', { params: { id: name }, body: { image_id: image } });
    return settled(dev, name, rel.version, 90_000);
  };

  // (Containers on Berth's networks have no IPv6: ::1 is covered by the unit tests of the diagnosis.)
  test('an app that listens only on 127.0.0.1 fails at once, saying to listen on 0.0.0.0', async () => {
    const rel = await firstRelease('lo4', { LISTEN_HOST: '127.0.0.1' });
    assert.equal(rel.status, 'failed');
    assert.match(rel.reason ?? '', /listens on 127\.0\.0\.1:8080 only.*listen on all interfaces, 0\.0\.0\.0/);
    assert.match(rel.reason ?? '', /listening on 127\.0\.0\.1 port 8080/, "the reason carries the app's own log line");
    const app = await dev.call('getApp', { params: { id: 'lo4' } });
    assert.equal(app.status, 'failed', 'an app whose only release failed says failed, not idle');
    assert.equal((await dev.call('listApps', { query: { project: 'why' } })).items.find((a) => a.slug === 'lo4')?.status, 'failed');
    const failed = (await dev.call('listEvents', { query: { app: app.id } })).items.find((e) => e.kind === 'release.failed');
    assert.match(failed?.message ?? '', /^v1 failed; no release was live before it, so the app serves nothing: the app listens on 127\.0\.0\.1:8080 only/);
  });

  test('an app that listens on another port than $PORT fails, naming both ports', async () => {
    const rel = await firstRelease('port', { LISTEN_PORT: '3000' });
    assert.equal(rel.status, 'failed');
    assert.match(rel.reason ?? '', /listens on port 3000, not on 8080: make it listen on the port in the PORT environment variable/);
  });

  test('an app killed for memory says so, with its limit', async () => {
    const rel = await firstRelease('hog', { HOG_MB: '200' }, { memory: 64 });
    assert.equal(rel.status, 'failed');
    assert.match(rel.reason ?? '', /killed for going over its memory limit of 64 MB \(out of memory/);
  });

  test('a health path that answers 500 fails at its timeout with what the probe got', async () => {
    await dev.call('createApp', { body: { name: 'sick', project: 'why', health_check: { path: '/health', timeout_s: 3, grace_s: 0 } } });
    await dev.call('setEnv', { params: { id: 'sick' }, body: { set: { HEALTH_FAIL: '1' } } });
    const rel = await settled(dev, 'sick', (await dev.call('deployApp', { params: { id: 'sick' }, body: { image_id: image } })).version, 90_000);
    assert.equal(rel.status, 'failed');
    assert.match(rel.reason ?? '', /no healthy answer from \/health within 3 s; the last probe got HTTP 500/);
  });
});
