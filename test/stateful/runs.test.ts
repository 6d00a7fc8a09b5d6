import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import type { RouteOutput } from '../../src/api/contract/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { CLI_MAIN, startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { viaRouter } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { run } from '../../src/lib/exec.js';
import { healthy, settled } from '../support/rollout.js';
import { onTerminal, rejectsWith } from './helpers.js';

type Run = RouteOutput<'getRun'>;

/** One-off commands (berth run) and release commands on the real Docker Engine. */
describe('one-off and release commands', () => {
  let s: TestServer;
  let dev: BerthClient;
  let image: string;
  const runtime = new DockerRuntime({});
  const get = (slug: string, path: string) => viaRouter(s.routerPort, `${slug}.localhost`, path);
  const finished = (id: string) =>
    waitFor(`run ${id} to finish`, async () => {
      const r = await dev.call('getRun', { params: { id } });
      return r.status === 'succeeded' || r.status === 'failed' ? r : undefined;
    }, { timeoutMs: 90_000, intervalMs: 200 });
  const runContainers = async () =>
    (await run('docker', ['ps', '-aq', '--filter', `label=berth.instance=${s.instance}`, '--filter', 'label=berth.run'], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
  const node = (js: string) => ['node', '-e', js];

  before(async () => {
    image = await ensureTestAppImage(runtime);
    s = await startServer();
    dev = await s.newUser('dev');
    await dev.call('createProject', { body: { name: 'ops' } });
    await dev.call('createVolume', { body: { name: 'state', project: 'ops' } });
    await dev.call('createApp', { body: { name: 'api', project: 'ops', strategy: 'recreate', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    await dev.call('updateApp', { params: { id: 'api' }, body: { volumes: [{ volume: 'state', path: '/state' }], env: { GREETING: 'hello' } } });
    await dev.call('deployApp', { params: { id: 'api' }, body: { image_id: image } });
    const v1 = await settled(dev, 'api', 1, 90_000);
    assert.equal(v1.status, 'live', v1.reason ?? '');
  });
  after(async () => {
    await s?.destroy();
  });

  test('a one-off command runs in the live release with its config and volumes, as non-root; output and exit code come back; the container goes', async () => {
    const js = "const fs=require('fs'); fs.writeFileSync('/state/by-run','from a run'); console.log('uid=' + process.getuid() + ' greeting=' + process.env.GREETING); console.error('to stderr'); process.exit(3)";
    const started = await dev.call('runCommand', { params: { id: 'api' }, body: { command: node(js) } });
    assert.equal(started.status, 'queued');
    assert.equal(started.release, 1);
    const r = await finished(started.id);
    assert.equal(r.status, 'failed');
    assert.equal(r.exit_code, 3);
    assert.match(r.output, /greeting=hello/);
    assert.match(r.output, /to stderr/);
    assert.doesNotMatch(r.output, /uid=0 /, 'runs as root');
    await healthy(dev, 'api', 1, { timeoutMs: 60_000 });
    const file = await get('api', '/file?path=/state/by-run');
    assert.equal(JSON.parse(file.body).content, 'from a run', 'the run wrote to the app’s volume');
    assert.deepEqual(await runContainers(), [], 'the run container is removed');
    const listed = (await dev.call('listRuns', { params: { id: 'api' } })).items;
    assert.equal(listed[0]?.id, r.id);
  });

  test('berth run streams the output and exits with the command’s exit code', async () => {
    const home = mkdtempSync(join(tmpdir(), 'berth-cli-'));
    const env = { ...process.env, BERTH_CONFIG: join(home, 'c.json'), BERTH_URL: s.url, BERTH_TOKEN: dev.opts.token! };
    const res = await run(process.execPath, [CLI_MAIN, 'run', 'api', '--', ...node("console.log('line one'); setTimeout(() => { console.log('line two'); process.exit(7) }, 300)")], { timeoutMs: 90_000, env });
    assert.equal(res.stdout, 'line one\nline two\n', res.stderr);
    assert.equal(res.code, 7);
    const ok = await run(process.execPath, [CLI_MAIN, 'run', 'api', '--', 'node', '-e', 'console.log(1+1)'], { timeoutMs: 90_000, env });
    assert.equal(ok.stdout, '2\n');
  });

  test('berth run -it: an interactive shell driven through a pseudo-terminal answers; its exit code comes back', async () => {
    const home = mkdtempSync(join(tmpdir(), 'berth-cli-'));
    const env = { ...process.env, BERTH_CONFIG: join(home, 'c.json'), BERTH_URL: s.url, BERTH_TOKEN: dev.opts.token! };
    const term = onTerminal(['run', 'api', '-it', '--', 'sh'], env);
    try {
      // Typed ahead, as a user may: the keys reach the shell once its terminal is attached.
      term.type('echo hello-$((40+2)) from $BERTH_APP\r');
      await term.shows(/hello-42 from api/);
      assert.match(term.screen(), /\$ /, 'the shell prompted');
      term.type('exit 3\r');
      assert.equal(await term.exited, 3, term.screen());
    } finally {
      term.kill();
    }
    const last = (await dev.call('listRuns', { params: { id: 'api' } })).items[0]!;
    assert.equal(last.tty, true);
    assert.equal(last.exit_code, 3);
    assert.deepEqual(await runContainers(), []);
  });

  test('a command past its timeout is killed; bad input is refused with the field named', async () => {
    const started = await dev.call('runCommand', { params: { id: 'api' }, body: { command: node('setInterval(() => {}, 1000)'), timeout_s: 1 } });
    const r = await finished(started.id);
    assert.equal(r.status, 'failed');
    assert.match(r.reason ?? '', /killed after its timeout of 1 s/);
    assert.deepEqual(await runContainers(), []);
    await rejectsWith(dev.call('runCommand', { params: { id: 'api' }, body: { command: [] } }), 400, 'command');
    await dev.call('createApp', { body: { name: 'idle', project: 'ops' } });
    await rejectsWith(dev.call('runCommand', { params: { id: 'idle' }, body: { command: ['true'] } }), 409, 'id');
  });

  test('a failing release command fails its release, naming the run that holds its output; the live release keeps serving', async () => {
    const before = JSON.parse((await get('api', '/')).body).env.BERTH_RELEASE;
    assert.equal(before, 'v1');
    await dev.call('updateApp', { params: { id: 'api' }, body: { release_command: node("console.log('migrating'); console.error('no database'); process.exit(4)") } });
    const rel = await dev.call('deployApp', { params: { id: 'api' }, body: { image_id: image } });
    const failed = await settled(dev, 'api', rel.version, 90_000);
    assert.equal(failed.status, 'failed');
    assert.match(failed.reason ?? '', /release command failed: exited with code 4/);
    assert.equal(JSON.parse((await get('api', '/')).body).env.BERTH_RELEASE, 'v1', 'v1 still serves');
    const releaseRun = (await dev.call('listRuns', { params: { id: 'api' } })).items.find((x) => x.kind === 'release');
    assert.equal(releaseRun?.exit_code, 4);
    // The output (which may print secrets) is the run's, for developers; the release only names the run.
    assert.ok(failed.reason?.includes(`its output is in run ${releaseRun!.id}`), failed.reason ?? '');
    assert.doesNotMatch(failed.reason ?? '', /no database/);
    assert.match(releaseRun!.output, /no database/);

    await dev.call('updateApp', { params: { id: 'api' }, body: { release_command: node("require('fs').writeFileSync('/state/migrated', 'v' + process.env.BERTH_RELEASE)") } });
    const next = await dev.call('deployApp', { params: { id: 'api' }, body: { image_id: image } });
    assert.equal((await settled(dev, 'api', next.version, 90_000)).status, 'live');
    await healthy(dev, 'api', 1, { release: next.version, timeoutMs: 60_000 });
    assert.equal(JSON.parse((await get('api', '/file?path=/state/migrated')).body).content, `vv${next.version}`);
  });

  test('kill -9 of the control plane during a release command: on start the release fails with the reason; the live release serves on', async () => {
    const live = JSON.parse((await get('api', '/')).body).env.BERTH_RELEASE as string;
    await dev.call('updateApp', { params: { id: 'api' }, body: { release_command: node("console.log('migrating'); setInterval(() => {}, 1000)") } });
    const rel = await dev.call('deployApp', { params: { id: 'api' }, body: { image_id: image } });
    await waitFor('the release command to run', async () => {
      const r = (await dev.call('listRuns', { params: { id: 'api' } })).items.find((x) => x.kind === 'release' && x.release === rel.version);
      return r?.output.includes('migrating') ? r : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    await s.kill();
    assert.equal(JSON.parse((await get('api', '/')).body).env.BERTH_RELEASE, live, 'the data plane serves while the control plane is down');
    await s.start();
    dev = s.client(dev.opts.token);
    const failed = await settled(dev, 'api', rel.version, 90_000);
    assert.equal(failed.status, 'failed');
    assert.match(failed.reason ?? '', /release command failed: the control plane stopped while it ran/);
    assert.equal(JSON.parse((await get('api', '/')).body).env.BERTH_RELEASE, live);
    await waitFor('no run container left', async () => ((await runContainers()).length === 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 200 });
    await dev.call('updateApp', { params: { id: 'api' }, body: { release_command: [] } });
  });

  test('kill -9 of the control plane during a one-off command: on start it is marked failed and its container removed', async () => {
    const started: Run = await dev.call('runCommand', { params: { id: 'api' }, body: { command: node("console.log('working'); setInterval(() => {}, 1000)") } });
    await waitFor('the run to be running', async () => {
      const r = await dev.call('getRun', { params: { id: started.id } });
      return r.output.includes('working') ? r : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    assert.equal((await runContainers()).length, 1);
    await s.kill();
    await s.start();
    dev = s.client(dev.opts.token);
    // The API answers before the controllers have settled what the kill left: wait for the verdict.
    const r = await finished(started.id);
    assert.equal(r.status, 'failed');
    assert.match(r.reason ?? '', /control plane stopped while it ran/);
    assert.match(r.output, /working/, 'the output it had written is kept');
    // The row is settled first, then the engine: the container goes right after.
    await waitFor('no run container left', async () => ((await runContainers()).length === 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 200 });
  });
});
