import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../../src/lib/exec.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { dockerInspect } from '../support/docker.js';
import { BASE_IMAGE } from '../support/images.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';

const runtime = new DockerRuntime();
const runId = uniqueSuffix();
const tags: string[] = [];
let dir = '';

function tag(): string {
  const t = `berth-test/build:${runId}-${tags.length}`;
  tags.push(t);
  return t;
}

async function context(dockerfile: string, files: Record<string, string> = {}): Promise<string> {
  const d = await mkdtemp(join(dir, 'ctx-'));
  await writeFile(join(d, 'Dockerfile'), dockerfile);
  for (const [name, body] of Object.entries(files)) {
    await mkdir(join(d, name, '..'), { recursive: true });
    await writeFile(join(d, name), body);
  }
  return d;
}

/** Containers the engine left behind from builds labelled with this run (forcerm should leave none). */
async function leftoverBuildContainers(): Promise<string> {
  const res = await run('docker', ['ps', '-aq', '--filter', `label=berth.test.build=${runId}`], { timeoutMs: 10_000 });
  return res.stdout.trim();
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-build-test-'));
});

after(async () => {
  for (const t of tags) await runtime.removeImage(t);
  await rm(dir, { recursive: true, force: true });
});

test('buildImage sends the context, streams each output line and returns the image', async () => {
  const ctx = await context(
    [
      `FROM ${BASE_IMAGE}`,
      'COPY . /src/',
      'RUN test -f /src/sub/dir/data.txt && test -L /src/link && test -f /src/empty && test ! -s /src/empty && cat /src/sub/dir/data.txt',
      'RUN echo "line one" && echo "line two" >&2',
      'USER 4321',
      'EXPOSE 9000',
      '',
    ].join('\n'),
    { 'sub/dir/data.txt': 'context data arrived\n', empty: '' },
  );
  await symlink('sub/dir/data.txt', join(ctx, 'link'));
  const lines: string[] = [];
  const t = tag();
  const info = await runtime.buildImage({
    contextDir: ctx,
    dockerfile: 'Dockerfile',
    tag: t,
    labels: { 'berth.test.build': runId },
    memoryMb: 256,
    timeoutMs: 60_000,
    onLine: (l) => lines.push(l),
  });
  assert.ok(lines.some((l) => /^Step 1\/\d+ : FROM /.test(l)), lines.join('\n'));
  assert.ok(lines.includes('context data arrived'), lines.join('\n'));
  assert.ok(lines.includes('line one') && lines.includes('line two'), lines.join('\n'));
  assert.ok(lines.every((l) => !l.includes('\n')));
  assert.equal(info.user, '4321');
  assert.deepEqual(info.exposedPorts, [9000]);
  const inspected = await dockerInspect(t);
  assert.equal(inspected.Id, info.id);
  assert.equal(inspected.Config.Labels['berth.test.build'], runId);
  assert.deepEqual(await runtime.inspectImage(t), info);
});

test('a failing step rejects with the engine message and leaves no build container', async () => {
  const ctx = await context(`FROM ${BASE_IMAGE}\nLABEL berth.test.build=${runId}\nRUN echo about to fail && exit 3\n`);
  const lines: string[] = [];
  await assert.rejects(
    runtime.buildImage({ contextDir: ctx, dockerfile: 'Dockerfile', tag: tag(), timeoutMs: 60_000, onLine: (l) => lines.push(l) }),
    /build failed: .*returned a non-zero code: 3/,
  );
  assert.ok(lines.includes('about to fail'), lines.join('\n'));
  assert.equal(await leftoverBuildContainers(), '');
});

test('a broken Dockerfile or a missing one rejects with a message', async () => {
  const bad = await context(`FROM ${BASE_IMAGE}\nFROBNICATE all the things\n`);
  await assert.rejects(
    runtime.buildImage({ contextDir: bad, dockerfile: 'Dockerfile', tag: tag(), timeoutMs: 60_000 }),
    /build failed: .*unknown instruction: FROBNICATE/i,
  );
  await assert.rejects(
    runtime.buildImage({ contextDir: bad, dockerfile: 'Nope.Dockerfile', tag: tag(), timeoutMs: 60_000 }),
    /build failed: .*Nope\.Dockerfile/,
  );
  await assert.rejects(
    runtime.buildImage({ contextDir: join(dir, 'no-such-dir'), dockerfile: 'Dockerfile', tag: tag(), timeoutMs: 60_000 }),
    /ENOENT/,
  );
});

test('a build is stopped by its signal and by its timeout', async () => {
  const ctx = await context(`FROM ${BASE_IMAGE}\nLABEL berth.test.build=${runId}\nRUN echo sleeping && sleep 60\n`);
  const ac = new AbortController();
  const started = Date.now();
  await assert.rejects(
    runtime.buildImage({
      contextDir: ctx,
      dockerfile: 'Dockerfile',
      tag: tag(),
      timeoutMs: 60_000,
      signal: ac.signal,
      onLine: (l) => l === 'sleeping' && ac.abort(),
    }),
    /build canceled/,
  );
  assert.ok(Date.now() - started < 20_000);

  const t0 = Date.now();
  await assert.rejects(runtime.buildImage({ contextDir: ctx, dockerfile: 'Dockerfile', tag: tag(), timeoutMs: 1500 }), /timed out after 1500 ms/);
  assert.ok(Date.now() - t0 < 10_000);
  // The engine cancels the step when the client goes away, and forcerm removes its container.
  await waitFor('the canceled build containers to go', async () => (await leftoverBuildContainers()) === '');
});
