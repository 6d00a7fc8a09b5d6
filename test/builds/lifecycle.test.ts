import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { writeFile } from 'node:fs/promises';
import type { TestServer } from '../support/server.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { buildArchive, buildProcesses, collectWs, dockerfileApp, logText, oneSlotBuildServer, tarGz, waitBuild } from './helpers.js';

const BASE = process.env.BERTH_BASE_IMAGE ?? 'berth/base:bookworm';

/** Build failures, cancel, the live log socket, the queue and crash recovery (one build slot). */
describe('build lifecycle', () => {
  let s: TestServer;
  let dev: BerthClient;
  const slug = oneSlotBuildServer('life', (server, client) => {
    s = server;
    dev = client;
  });
  // Every Dockerfile carries this, so no step comes from the layer cache of an earlier run.
  const nonce = () => `${uniqueSuffix()}${Date.now().toString(36)}`;
  const logHas = (id: string, text: string) => waitFor(`"${text}" in the log of ${id}`, async () => (await logText(dev, id)).includes(text), { timeoutMs: 120_000, intervalMs: 200 });
  // A RUN step is a process of buildah's (its own namespaces, no engine container): found by its command line.
  const buildContainers = (marker: string) => buildProcesses(marker);

  test('a failing RUN step fails the build with the error in its log and message; no release is made', async () => {
    const n = nonce();
    const b = await waitBuild(dev, (await buildArchive(dev, slug, await dockerfileApp(`FROM ${BASE}\nRUN echo step-${n} && no-such-command-${n}\n`))).id);
    const log = await logText(dev, b.id);
    assert.equal(b.status, 'failed');
    assert.equal(b.builder, 'dockerfile');
    assert.match(b.message!, /non-zero code: 127/);
    assert.match(log, new RegExp(`no-such-command-${n}: not found`));
    assert.match(log, /-----> Build failed/);
    assert.equal((await dev.call('listReleases', { params: { id: slug } })).items.length, 0);
    assert.equal((await dev.call('getApp', { params: { id: slug } })).release, null);
  });

  test('a failing npm install fails the build with npm’s error in the log', async () => {
    const pkg = JSON.stringify({ name: 'broken', version: '1.0.0', scripts: { start: 'node index.js' }, dependencies: { [`berth-no-such-package-${nonce()}`]: '1.0.0' } });
    const b = await waitBuild(dev, (await buildArchive(dev, slug, await tarGz([{ name: 'package.json', body: pkg }, { name: 'index.js', body: '' }]))).id);
    const log = await logText(dev, b.id);
    assert.equal(b.status, 'failed', log);
    assert.equal(b.builder, 'node');
    assert.match(log, /npm (ERR!|error) (code E404|404)/);
  });

  test('nothing detectable fails at once, naming the files looked for', async () => {
    const b = await waitBuild(dev, (await buildArchive(dev, slug, await tarGz([{ name: 'README', body: 'hi' }]))).id);
    assert.equal(b.status, 'failed');
    assert.match(b.message!, /looked for Dockerfile, package\.json/);
  });

  test('the log socket sends the lines so far, then live lines, then the final status', async () => {
    const n = nonce();
    // The step writes its second line only when the test creates a file in the build container.
    const df = `FROM ${BASE}\nRUN echo first-${n} && until [ -e /tmp/go-${n} ]; do sleep 0.1; done && echo second-${n}\n`;
    const b = await buildArchive(dev, slug, await dockerfileApp(df));
    await logHas(b.id, `first-${n}`);
    let sawFirst!: () => void;
    const firstArrived = new Promise<void>((r) => (sawFirst = r));
    const socket = collectWs(s.url, b.id, dev.opts.token!, 'header', (m) => {
      if (m.type === 'line' && m.line === `first-${n}`) sawFirst();
    });
    await Promise.race([
      firstArrived,
      socket.then(({ code }) => assert.fail(`the log socket closed (${code}) before sending the first line`)),
    ]);
    const [pid] = await buildContainers(`go-${n}`);
    assert.ok(pid, 'the build step is running');
    // Into the step's own root file system, as seen from the host.
    await writeFile(`/proc/${pid}/root/tmp/go-${n}`, '');
    const { messages, code } = await socket;
    assert.equal(code, 1000);
    const lines = messages.filter((m) => m.type === 'line');
    assert.deepEqual(lines.map((m) => m.seq), lines.map((_, i) => i + 1), 'every line once, in order, from the first');
    // The second line did not exist until after the first had arrived: it came live, on the same socket.
    assert.ok(lines.some((m) => m.line === `second-${n}`), 'the later line arrives live');
    const last = messages.at(-1)!;
    assert.equal(last.type, 'status');
    assert.equal(last.status, 'succeeded');
  });

  test('builds wait their turn (queue positions), and cancel stops a running build within seconds and frees it', async () => {
    const n = nonce();
    const long = await buildArchive(dev, slug, await dockerfileApp(`FROM ${BASE}\nRUN echo sleeping-${n} && sleep 300\n`));
    const next = await buildArchive(dev, slug, await dockerfileApp(`FROM ${BASE}\nRUN echo next-${n}\n`));
    const third = await buildArchive(dev, slug, await dockerfileApp(`FROM ${BASE}\nRUN echo third-${n}\n`));
    await logHas(long.id, `sleeping-${n}`);
    const list = await dev.call('listBuilds', { params: { id: slug } });
    const pos = Object.fromEntries(list.items.map((b) => [b.id, b.queue_position]));
    assert.equal(pos[long.id], null);
    assert.equal(pos[next.id], 1);
    assert.equal(pos[third.id], 2);
    assert.equal((await dev.call('getBuild', { params: { id: long.id } })).status, 'running');

    // A queued build is canceled on the spot.
    assert.equal((await dev.call('cancelBuild', { params: { id: third.id } })).status, 'canceled');

    const t0 = Date.now();
    const c = await dev.call('cancelBuild', { params: { id: long.id } });
    assert.equal(c.status, 'canceled');
    await waitFor('the build directory to be removed', () => !existsSync(join(s.dataDir, 'builds', long.id)), { timeoutMs: 10_000 });
    await waitFor('the build container to go', async () => (await buildContainers(`sleeping-${n}`)).length === 0, { timeoutMs: 30_000, intervalMs: 500 });
    // The slot is free again: the next build runs and succeeds.
    const nb = await waitBuild(dev, next.id, 120_000);
    assert.equal(nb.status, 'succeeded', nb.message ?? '');
    assert.ok(Date.now() - t0 < 60_000);
    const final = await dev.call('getBuild', { params: { id: long.id } });
    assert.equal(final.status, 'canceled');
    assert.match(await logText(dev, long.id), /Build canceled/);
    assert.equal((await dev.call('getBuild', { params: { id: third.id } })).started_at, null, 'a canceled queued build never runs');
  });

  test('a build running when the control plane is killed is marked failed with that reason on restart', async () => {
    const n = nonce();
    const b = await buildArchive(dev, slug, await dockerfileApp(`FROM ${BASE}\nRUN echo crash-${n} && sleep 300\n`));
    await logHas(b.id, `crash-${n}`);
    await s.kill();
    await s.start();
    const after = await waitBuild(dev, b.id, 30_000);
    assert.equal(after.status, 'failed');
    assert.equal(after.message, 'interrupted by a control-plane restart');
    assert.ok(after.finished_at);
    await waitFor('the leftover build directory to be swept', () => !existsSync(join(s.dataDir, 'builds', b.id)), { timeoutMs: 10_000 });
    await waitFor('the orphaned build container to go', async () => (await buildContainers(`crash-${n}`)).length === 0, { timeoutMs: 60_000, intervalMs: 500 });
  });
});
