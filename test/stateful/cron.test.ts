import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { CLI_MAIN, startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { waitFor } from '../support/wait.js';
import { run } from '../../src/lib/exec.js';
import { settled } from '../support/rollout.js';
import { rejectsWith } from './helpers.js';

/** Scheduled commands on the real Docker Engine: runs on schedule, never overlapping; missed firings reported, not replayed. */
describe('scheduled commands', () => {
  let s: TestServer;
  let dev: BerthClient;
  const cronRuns = async (app: string) => (await dev.call('listRuns', { params: { id: app } })).items.filter((r) => r.kind === 'cron');

  before(async () => {
    const image = await ensureTestAppImage(new DockerRuntime({}));
    // Schedules every second or two: over the default cron quota (one firing a minute).
    s = await startServer({ env: { BERTH_QUOTA_CRON_MIN_INTERVAL_S: '1' } });
    dev = await s.newUser('dev');
    await dev.call('createApp', { body: { name: 'jobs', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    await dev.call('deployApp', { params: { id: 'jobs' }, body: { image_id: image } });
    assert.equal((await settled(dev, 'jobs', 1, 90_000)).status, 'live');
  });
  after(async () => {
    await s?.destroy();
  });

  test('a schedule runs the command; a run never overlaps the previous one; the CLI lists and removes it', async () => {
    await rejectsWith(dev.call('addCron', { params: { id: 'jobs' }, body: { schedule: 'hourly', command: ['true'] } }), 400, 'schedule');
    // Every 2 s, a command of 3 s: every other firing finds the previous run still under way.
    const c = await dev.call('addCron', { params: { id: 'jobs' }, body: { schedule: '*/2 * * * * *', command: ['node', '-e', "console.log('tick'); setTimeout(() => {}, 3000)"] } });
    const items = await waitFor('two finished runs and a skipped firing', async () => {
      const rs = await cronRuns('jobs');
      const ran = rs.filter((r) => r.status === 'succeeded');
      const skipped = rs.filter((r) => /previous run was still under way/.test(r.reason ?? ''));
      return ran.length >= 2 && skipped.length >= 1 ? rs : undefined;
    }, { timeoutMs: 90_000, intervalMs: 300 });
    await dev.call('removeCron', { params: { id: 'jobs', cron: c.id } });
    const ran = items.filter((r) => r.status === 'succeeded').sort((a, b) => a.created_at.localeCompare(b.created_at));
    for (const r of ran) assert.match(r.output, /tick/);
    for (let i = 1; i < ran.length; i++) assert.ok(ran[i]!.created_at >= ran[i - 1]!.finished_at!, `run ${ran[i]!.id} started before ${ran[i - 1]!.id} ended`);

    const home = mkdtempSync(join(tmpdir(), 'berth-cli-'));
    const env = { ...process.env, BERTH_CONFIG: join(home, 'c.json'), BERTH_URL: s.url, BERTH_TOKEN: dev.opts.token! };
    const add = await run(process.execPath, [CLI_MAIN, 'cron', 'add', 'jobs', '0 3 * * *', '--json', '--', 'node', '-e', '1'], { timeoutMs: 60_000, env });
    assert.equal(add.code, 0, add.stderr);
    const added = JSON.parse(add.stdout);
    assert.match(added.next_at, /T03:00:00\.000Z$/);
    const ls = JSON.parse((await run(process.execPath, [CLI_MAIN, 'cron', 'ls', 'jobs', '--json'], { timeoutMs: 60_000, env })).stdout);
    assert.deepEqual(ls.map((x: { id: string }) => x.id), [added.id]);
    const rm = await run(process.execPath, [CLI_MAIN, 'cron', 'rm', 'jobs', added.id], { timeoutMs: 60_000, env });
    assert.equal(rm.code, 0, rm.stderr);
    assert.deepEqual((await dev.call('listCron', { params: { id: 'jobs' } })).items, []);
  });

  test('firings missed while the control plane was down are reported once, not replayed', async () => {
    const c = await dev.call('addCron', { params: { id: 'jobs' }, body: { schedule: '* * * * * *', command: ['node', '-e', "console.log('each second')"] } });
    await waitFor('a first run', async () => ((await cronRuns('jobs')).some((r) => r.cron === c.id && r.status === 'succeeded') ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
    await s.kill();
    const downAt = Date.now();
    // The schedule fires every second: let at least three firings pass while nothing runs.
    await waitFor('three firings to pass', async () => (Date.now() - downAt > 3500 ? true : undefined), { timeoutMs: 10_000, intervalMs: 100 });
    await s.start();
    dev = s.client(dev.opts.token);
    // Only a report made after the restart: on a busy machine a firing can already be missed (and
    // reported) while the control plane still runs, before the kill.
    const downIso = new Date(downAt).toISOString();
    const report = await waitFor(
      'the report of missed firings',
      async () => (await cronRuns('jobs')).find((r) => r.cron === c.id && /were missed/.test(r.reason ?? '') && r.created_at > downIso),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    assert.match(report.reason ?? '', /^([3-9]|\d{2,}) scheduled run\(s\) between/);
    await dev.call('removeCron', { params: { id: 'jobs', cron: c.id } });
    // The pass that reported them queued one run for the latest firing, not one per missed firing.
    const burst = (await cronRuns('jobs')).filter((r) => r.cron === c.id && r.created_at > downIso && r.created_at <= report.created_at && !r.reason);
    assert.ok(burst.length <= 1, `missed firings were replayed: ${burst.length} runs queued with the report`);
  });
});
