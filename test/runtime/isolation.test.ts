import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DockerRuntime } from '../../src/runtime/docker.js';
import type { ContainerSpec } from '../../src/runtime/types.js';
import { getJson, probeFrom, removeLabelled, startApp } from '../support/docker.js';
import { ensureTestAppImage } from '../support/images.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';

const runtime = new DockerRuntime();
const runId = uniqueSuffix();
const runLabels = { 'berth.test.run': runId };
const netA = `berth-test-${runId}-a`;
const netB = `berth-test-${runId}-b`;
let image = '';
let n = 0;

function spec(network: string, aliases: string[]): ContainerSpec {
  n += 1;
  return { name: `berth-test-${runId}-${n}`, image, env: {}, labels: runLabels, network, aliases, memoryMb: 64, cpu: 0 };
}

before(async () => {
  image = await ensureTestAppImage(runtime);
  await runtime.ensureNetwork(netA, runLabels);
  await runtime.ensureNetwork(netB, runLabels);
});

after(async () => {
  await removeLabelled(runtime, runLabels);
  await runtime.removeNetwork(netA);
  await runtime.removeNetwork(netB);
});

test('containers reach each other by alias within a project network, never across projects', async () => {
  const a = await startApp(runtime, spec(netA, ['api']));
  const b = await startApp(runtime, spec(netB, ['other']));
  await waitFor('a to answer', () => getJson(`http://${a.ip}:8080/`));
  await waitFor('b to answer', () => getJson(`http://${b.ip}:8080/`));

  const [byAlias, byIpSame, crossByIp, crossByAlias] = await Promise.all([
    probeFrom(runtime, spec(netA, []), 'http://api:8080/health'),
    probeFrom(runtime, spec(netA, []), `http://${a.ip}:8080/health`),
    probeFrom(runtime, spec(netA, []), `http://${b.ip}:8080/health`),
    probeFrom(runtime, spec(netB, []), 'http://api:8080/health'),
  ]);
  assert.match(byAlias, /^OK 200 /);
  assert.match(byIpSame, /^OK 200 /);
  // Docker drops packets between bridges: the connection times out rather than being refused.
  assert.match(crossByIp, /^ERR /);
  // The other project's aliases do not even resolve.
  assert.match(crossByAlias, /^ERR (ENOTFOUND|EAI_AGAIN)/);
});
