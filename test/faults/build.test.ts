import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import type { TestServer } from '../support/server.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { buildArchive, dockerfileApp, oneSlotBuildServer, waitBuild } from '../builds/helpers.js';

const BASE = process.env.BERTH_BASE_IMAGE ?? 'berth/base:bookworm';

/**
 * kill -9 of the control plane while a build streams its log. test/builds/lifecycle.test.ts checks
 * the build is marked interrupted and its container and directory swept; this checks its log:
 * every line a reader could see before the kill is still there, in order, with no gap.
 */
describe('faults: kill -9 during a build', () => {
  let s: TestServer;
  let dev: BerthClient;
  const slug = oneSlotBuildServer('fbuild', (server, client) => {
    s = server;
    dev = client;
  });

  const log = async (id: string) => (await dev.call('getBuildLog', { params: { id } })).lines;

  test('no log line is lost: what was readable before the kill is the start of the log after it, with no gap', async () => {
    const n = `${uniqueSuffix()}${Date.now().toString(36)}`;
    // A line every 20 ms, so the kill lands while lines are being written.
    const df = `FROM ${BASE}\nRUN i=0; while [ $i -lt 100000 ]; do i=$((i+1)); echo tick-${n}-$i; sleep 0.02; done\n`;
    const b = await buildArchive(dev, slug, await dockerfileApp(df));
    await waitFor('40 ticks in the log', async () => (await log(b.id)).some((l) => l.line === `tick-${n}-40`), { timeoutMs: 120_000, intervalMs: 100 });
    const seen = await log(b.id);
    await s.kill();
    await s.start();

    const done = await waitBuild(dev, b.id, 30_000);
    assert.equal(done.status, 'failed');
    assert.equal(done.message, 'interrupted by a control-plane restart');
    const lines = await log(b.id);
    assert.deepEqual(lines.slice(0, seen.length), seen, 'every line read before the kill is still there, unchanged');
    assert.deepEqual(lines.map((l) => l.seq), lines.map((_, i) => i + 1), 'sequence numbers without gap or repeat');
    const ticks = lines.filter((l) => l.line.startsWith(`tick-${n}-`)).map((l) => Number(l.line.split('-').at(-1)));
    assert.ok(ticks.length >= 40);
    assert.deepEqual(ticks, ticks.map((_, i) => i + 1), 'the build output has no hole');
    assert.match(lines.at(-1)!.line, /interrupted/i, 'the log itself says why it ends there');

    // The queue works after the restart, and the new build's log is whole too.
    const next = await waitBuild(dev, (await buildArchive(dev, slug, await dockerfileApp(`FROM ${BASE}\nRUN echo after-${n}\n`))).id, 120_000);
    assert.equal(next.status, 'succeeded', next.message ?? '');
    const nextLog = await log(next.id);
    assert.deepEqual(nextLog.map((l) => l.seq), nextLog.map((_, i) => i + 1));
    assert.ok(nextLog.some((l) => l.line === `after-${n}`));
  });
});
