import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import type { RouteOutput } from '../../src/api/contract/index.js';
import { run } from '../../src/lib/exec.js';
import { CLI_MAIN, startServer, type TestServer } from '../support/server.js';
import { TEST_APP_SOURCE } from '../support/test-app.js';
import { settled } from '../support/rollout.js';
import { waitFor } from '../support/wait.js';
import { buildArchive, dockerfileApp, waitBuild } from '../builds/helpers.js';
import { onTerminal } from './helpers.js';

type Run = RouteOutput<'getRun'>;

/** A run that ran (not the report of a firing skipped because the previous run was still under way). */
const ranToEnd = (r: Run) => (r.status === 'succeeded' || r.status === 'failed') && !/still under way|were missed/.test(r.reason ?? '');

const STACK_NODE = process.env.BERTH_STACK_NODE ?? 'berth/stack-node:bookworm';

/**
 * Commands that take a while, in an image Berth built from source. Such an image carries Berth's
 * own labels (the app's among them), which every container of it inherits: a command's container
 * once looked like a stray replica and was killed milliseconds after it started (issue 25). The
 * other run tests use an image loaded by hand, without those labels, and commands that end at once.
 */
describe('commands in an image Berth built', () => {
  let s: TestServer;
  let dev: BerthClient;
  let image: string;
  const finished = (id: string, timeoutMs = 90_000) =>
    waitFor(`run ${id} to finish`, async () => {
      const r = await dev.call('getRun', { params: { id } });
      return r.status === 'succeeded' || r.status === 'failed' ? r : undefined;
    }, { timeoutMs, intervalMs: 200 });
  const cliEnv = () => ({ ...process.env, BERTH_CONFIG: join(mkdtempSync(join(tmpdir(), 'berth-cli-')), 'c.json'), BERTH_URL: s.url, BERTH_TOKEN: dev.opts.token! });
  const engineKills = async (runId: string) => {
    // The engine's own record of signals sent to the run's container: a SIGKILL Berth did not mean shows here.
    const r = await run('docker', ['events', '--since', '10m', '--until', '0s', '--filter', `label=berth.run=${runId}`, '--filter', 'event=kill', '--format', '{{.Actor.Attributes.signal}}'], { timeoutMs: 30_000 });
    return r.stdout.split('\n').filter(Boolean);
  };

  before(async () => {
    // A schedule every 2 s: over the default cron quota (one firing a minute).
    s = await startServer({ env: { BERTH_QUOTA_CRON_MIN_INTERVAL_S: '1' } });
    dev = await s.newUser('dev');
    await dev.call('createProject', { body: { name: 'made' } });
    await dev.call('createApp', { body: { name: 'built', project: 'made', strategy: 'recreate', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    const archive = await dockerfileApp(`FROM ${STACK_NODE}\nCOPY server.js /app/server.js\nWORKDIR /app\nCMD ["node", "/app/server.js"]\n`, { 'server.js': TEST_APP_SOURCE });
    const b = await waitBuild(dev, (await buildArchive(dev, 'built', archive)).id);
    assert.equal(b.status, 'succeeded', b.message ?? '');
    const v1 = await settled(dev, 'built', 1, 120_000);
    assert.equal(v1.status, 'live', v1.reason ?? '');
    image = v1.image;
    const labels = JSON.parse((await run('docker', ['inspect', '-f', '{{json .Config.Labels}}', image], { timeoutMs: 30_000 })).stdout);
    assert.ok(labels['berth.app'], `the built image carries the app's label, as the bug needs: ${JSON.stringify(labels)}`);
  });
  after(async () => {
    await s?.destroy();
  });

  test('a command that sleeps, then prints: its output streams while it runs and is kept; exit code 0; nothing killed it', async () => {
    const started = await dev.call('runCommand', { params: { id: 'built' }, body: { command: ['sh', '-c', 'echo started; sleep 3; echo done'] } });
    const midway = await waitFor('the first line while the command still runs', async () => {
      const r = await dev.call('getRun', { params: { id: started.id } });
      return r.output.includes('started') || r.status !== 'running' ? r : undefined;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    assert.equal(midway.status, 'running', `the command ended before its first line was seen: ${JSON.stringify(midway)}`);
    assert.doesNotMatch(midway.output, /done/);
    const r = await finished(started.id);
    assert.equal(r.status, 'succeeded', `${r.reason} ${r.output}`);
    assert.equal(r.exit_code, 0);
    assert.equal(r.output, 'started\ndone\n');
    assert.deepEqual(await engineKills(started.id), []);
  });

  test('a command that fails after a while reports its own exit code; one past its timeout is killed with the reason', async () => {
    const failing = await dev.call('runCommand', { params: { id: 'built' }, body: { command: ['sh', '-c', 'sleep 2; echo broken >&2; exit 5'] } });
    const f = await finished(failing.id);
    assert.equal(f.status, 'failed');
    assert.equal(f.exit_code, 5);
    assert.match(f.output, /broken/);

    const slow = await dev.call('runCommand', { params: { id: 'built' }, body: { command: ['sh', '-c', 'echo waiting; sleep 60'], timeout_s: 3 } });
    const t = await finished(slow.id);
    assert.equal(t.status, 'failed');
    assert.match(t.reason ?? '', /killed after its timeout of 3 s/);
    assert.match(t.output, /waiting/);
  });

  test('berth run streams a long command and exits 0; berth run -it holds a shell open across slow commands', async () => {
    const env = cliEnv();
    const res = await run(process.execPath, [CLI_MAIN, 'run', 'built', '--', 'sh', '-c', 'sleep 2; echo done'], { timeoutMs: 90_000, env });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'done\n');

    const term = onTerminal(['run', 'built', '-it', '--', 'sh'], env);
    try {
      term.type('sleep 3; echo first-$((1+1))\r');
      await term.shows(/first-2/);
      term.type('sleep 2; echo second-$((2+2))\r');
      await term.shows(/second-4/);
      term.type('exit 0\r');
      assert.equal(await term.exited, 0, term.screen());
    } finally {
      term.kill();
    }
  });

  test('a scheduled command that runs for several seconds finishes with its output', async () => {
    const c = await dev.call('addCron', { params: { id: 'built' }, body: { schedule: '*/2 * * * * *', command: ['sh', '-c', 'echo tick; sleep 3; echo tock'] } });
    let done: Run | undefined;
    try {
      done = await waitFor('a scheduled run to finish', async () => {
        const rs = (await dev.call('listRuns', { params: { id: 'built' } })).items.filter((r) => r.kind === 'cron' && ranToEnd(r));
        return rs[0];
      }, { timeoutMs: 90_000, intervalMs: 300 });
    } finally {
      await dev.call('removeCron', { params: { id: 'built', cron: c.id } });
    }
    assert.equal(done.status, 'succeeded', `${done.reason} ${done.output}`);
    assert.equal(done.exit_code, 0);
    assert.equal(done.output, 'tick\ntock\n');
  });

  test('the replicas were never touched by the commands, and a container run by hand from the image is left alone', async () => {
    const appId = (await dev.call('getApp', { params: { id: 'built' } })).id;
    const c = await dev.call('listContainers', { query: { app: appId } });
    assert.ok(c.items.length >= 1 && c.items.every((x) => x.status === 'healthy'), JSON.stringify(c.items));
    // Someone on the server runs the app's image by hand: it inherits the app's label, but it is no replica of Berth's.
    const name = `by-hand-${Date.now()}`;
    await run('docker', ['run', '-d', '--name', name, image, 'sleep', '30'], { timeoutMs: 30_000 });
    try {
      await dev.call('restartApp', { params: { id: 'built' } });
      await waitFor('the restart to finish', async () => {
        const xs = (await dev.call('listContainers', { query: { app: appId } })).items;
        return xs.length >= 1 && xs.every((x) => x.status === 'healthy') ? xs : undefined;
      }, { timeoutMs: 90_000, intervalMs: 300 });
      const state = (await run('docker', ['inspect', '-f', '{{.State.Running}}', name], { timeoutMs: 30_000 })).stdout.trim();
      assert.equal(state, 'true', 'the container run by hand was removed as a stray');
    } finally {
      await run('docker', ['rm', '-f', name], { timeoutMs: 30_000 });
    }
  });
});
