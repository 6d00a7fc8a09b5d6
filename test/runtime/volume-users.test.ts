import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runOk } from '../../src/lib/exec.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { BASE_IMAGE } from '../support/images.js';
import { uniqueSuffix } from '../support/wait.js';

test("a volume's users on the real engine: the running containers that mount it, but Berth's own size measurement when asked", async (t) => {
  const runtime = new DockerRuntime({});
  const tag = uniqueSuffix();
  const volume = `berth-test-users-${tag}`;
  const names = [`berth-test-app-${tag}`, `berth-test-du-${tag}`];
  t.after(async () => {
    await runOk('docker', ['rm', '-f', ...names], { timeoutMs: 60_000 }).catch(() => {});
    await runOk('docker', ['volume', 'rm', '-f', volume], { timeoutMs: 60_000 }).catch(() => {});
  });
  await runOk('docker', ['run', '-d', '--name', names[0]!, '--network', 'none', '-v', `${volume}:/v`, BASE_IMAGE, 'sleep', '300'], { timeoutMs: 60_000 });
  // What the alerts' volume_full rule runs (domain/volume-jobs.ts volumeUsageSpec): labelled, read-only.
  await runOk('docker', ['run', '-d', '--name', names[1]!, '--network', 'none', '--label', 'berth.volume-job=usage', '-v', `${volume}:/v:ro`, BASE_IMAGE, 'sleep', '300'], { timeoutMs: 60_000 });
  assert.deepEqual((await runtime.volumeUsers(volume)).sort(), [...names].sort());
  // A restore asks so: the measurement may be reading the volume, it does not keep it from being restored.
  assert.deepEqual(await runtime.volumeUsers(volume, { 'berth.volume-job': 'usage' }), [names[0]]);
});
