import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { run } from '../../src/lib/exec.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { ensureTestAppImage } from '../support/images.js';
import { settled } from '../support/rollout.js';
import { CLI_MAIN, startServer, type TestServer } from '../support/server.js';

/** `berth rollback` says what it changes before it does it: config vars (secrets by name only) and settings. */
describe('berth rollback prints the change it makes', () => {
  let s: TestServer;
  let dev: BerthClient;
  const berth = (args: string[], input = '') =>
    run(process.execPath, [CLI_MAIN, ...args], { timeoutMs: 120_000, input, env: { ...process.env, BERTH_URL: s.url, BERTH_TOKEN: dev.opts.token! } });

  before(async () => {
    const image = await ensureTestAppImage(new DockerRuntime({}));
    s = await startServer();
    dev = await s.newUser('dev');
    await dev.call('createProject', { body: { name: 'rb' } });
    await dev.call('createApp', { body: { name: 'rbapp', project: 'rb', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    await dev.call('setEnv', { params: { id: 'rbapp' }, body: { set: { MODE: 'busy', GONE_SOON: 'bye', API_TOKEN: 'tok-value-never-shown' }, secret: ['API_TOKEN'] } });
    const v1 = await dev.call('deployApp', { params: { id: 'rbapp' }, body: { image_id: image } });
    assert.equal((await settled(dev, 'rbapp', v1.version, 90_000)).status, 'live');
    const v2 = await dev.call('setEnv', { params: { id: 'rbapp' }, body: { set: { MODE: 'calm' }, unset: ['GONE_SOON', 'API_TOKEN'] } });
    assert.equal((await settled(dev, 'rbapp', v2.release!.version, 90_000)).status, 'live');
  });
  after(async () => {
    await s?.destroy();
  });

  test('the default target, its config difference with the secret by name only, then the rollback', async () => {
    const res = await berth(['rollback', 'rbapp']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /Rolling rbapp back from v2 to v1 changes:/);
    assert.match(res.stderr, /^ {2}MODE changed: calm -> busy$/m);
    assert.match(res.stderr, /^ {2}GONE_SOON added: bye$/m);
    assert.match(res.stderr, /^ {2}API_TOKEN added \(secret: value not shown\)$/m);
    assert.ok(!res.stderr.includes('tok-value-never-shown') && !res.stdout.includes('tok-value-never-shown'), 'the secret value is printed');
    assert.match(res.stderr, /Rollback to v1: v3/);
    const v3 = await dev.call('getRelease', { params: { id: 'rbapp', version: 3 } });
    assert.equal(v3.config.env.MODE, 'busy');
    assert.equal(v3.config.env.GONE_SOON, 'bye');
    assert.ok('API_TOKEN' in v3.config.env, 'the secret is back');
  });
});
