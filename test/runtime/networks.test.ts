import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { freeSubnet, parseCidr } from '../../src/runtime/subnets.js';
import { dockerInspect } from '../support/docker.js';
import { uniqueSuffix } from '../support/wait.js';

test('freeSubnet picks the first /24 of the pool that overlaps nothing in use', () => {
  assert.equal(freeSubnet('10.213.0.0/16', []), '10.213.0.0/24');
  assert.equal(freeSubnet('10.213.0.0/16', ['10.213.0.0/24', '172.17.0.0/16', 'fd00::/64']), '10.213.1.0/24');
  assert.equal(freeSubnet('10.213.0.0/16', ['10.213.0.0/23', '10.213.2.128/25']), '10.213.3.0/24');
  assert.equal(freeSubnet('10.213.0.0/16', ['10.0.0.0/8']), null);
  assert.equal(freeSubnet('192.168.10.0/24', ['192.168.10.0/24']), null);
  assert.deepEqual(parseCidr('255.255.255.0/24'), { start: 0xffffff00, end: 0xffffffff });
  assert.throws(() => freeSubnet('nope', []), /bad subnet pool/);
});

test('project networks keep coming when the engine default address pools run out', async () => {
  // Stock dockerd has room for about 30 user networks; 40 forces the fallback whatever else exists.
  const runtime = new DockerRuntime({ subnetPool: '10.213.0.0/16' });
  const names = Array.from({ length: 40 }, (_, i) => `berth-test-pool-${uniqueSuffix()}-${i}`);
  try {
    for (const name of names) await runtime.ensureNetwork(name, { 'berth.test': 'pool' });
    const subnets: string[] = [];
    for (const name of names) subnets.push((await dockerInspect(name)).IPAM.Config[0].Subnet as string);
    assert.equal(new Set(subnets).size, names.length, 'every network has its own subnet');
    assert.ok(subnets.some((s) => s.startsWith('10.213.')), `some came from Berth's pool: ${subnets.join(' ')}`);
  } finally {
    for (const name of names) await runtime.removeNetwork(name);
  }
});

test('ensureNetwork asked for one name many times at once makes exactly one network, from one runtime or two', async () => {
  const a = new DockerRuntime({});
  const b = new DockerRuntime({});
  const name = `berth-test-once-${uniqueSuffix()}`;
  try {
    await Promise.all([...Array.from({ length: 4 }, () => a.ensureNetwork(name, { 'berth.test': 'once' })), b.ensureNetwork(name, { 'berth.test': 'once' })]);
    // A second runtime may still have raced the first; its next ensure resolves the duplicate.
    await a.ensureNetwork(name, { 'berth.test': 'once' });
    const { run } = await import('../../src/lib/exec.js');
    const ids = (await run('docker', ['network', 'ls', '-q', '--filter', `name=^${name}$`], { timeoutMs: 20_000 })).stdout.split('\n').filter(Boolean);
    assert.equal(ids.length, 1, `networks named ${name}: ${ids.join(' ')}`);
  } finally {
    await a.removeNetwork(name);
  }
});
