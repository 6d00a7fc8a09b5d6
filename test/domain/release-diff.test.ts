import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SecretBox } from '../../src/lib/crypto.js';
import { releaseDiff, type Snapshot } from '../../src/domain/release-diff.js';

const box = new SecretBox(randomBytes(32));
const config = (over: Partial<Snapshot['config']> = {}): Snapshot['config'] => ({
  memory_mb: 256,
  cpu: 0.5,
  port: 8080,
  strategy: 'rolling',
  health_check: { path: '/', timeout_s: 60, grace_s: 0 },
  env: {},
  volumes: [],
  release_command: null,
  placement: null,
  ...over,
});

test('a secret sealed twice with the same value is unchanged; with another value it is changed, and no value leaves', () => {
  const now: Snapshot = { image: 'app:2', config: config({ env: { S: { v: box.seal('same'), s: 1 }, T: { v: box.seal('new-t'), s: 1 }, P: { v: 'plain' } } }) };
  const target: Snapshot = { image: 'app:2', config: config({ env: { S: { v: box.seal('same'), s: 1 }, T: { v: box.seal('old-t'), s: 1 }, P: { v: 'plain' } } }) };
  const d = releaseDiff(box, now, target);
  assert.deepEqual(d.env, [{ key: 'T', change: 'changed', secret: true, from: null, to: null }]);
  assert.deepEqual(d.settings, []);
  assert.ok(!JSON.stringify(d).includes('-t'), 'no secret value');
});

test('a plain var made secret: changed, its values hidden on both sides', () => {
  const d = releaseDiff(box, { image: 'a', config: config({ env: { K: { v: box.seal('v'), s: 1 } } }) }, { image: 'a', config: config({ env: { K: { v: 'v' } } }) });
  assert.deepEqual(d.env, [{ key: 'K', change: 'changed', secret: true, from: null, to: null }]);
});

test('the image and other settings that differ are listed as text; the scale is not compared', () => {
  const d = releaseDiff(
    box,
    { image: 'app:2', config: { ...config({ memory_mb: 512, release_command: ['sh', '-c', 'migrate'] }), replicas: 3 } as Snapshot['config'] },
    { image: 'app:1', config: { ...config(), replicas: 1 } as Snapshot['config'] },
  );
  assert.deepEqual(d.settings, [
    { setting: 'image', from: 'app:2', to: 'app:1' },
    { setting: 'memory (MB)', from: '512', to: '256' },
    { setting: 'release command', from: 'sh -c migrate', to: 'none' },
  ]);
});
