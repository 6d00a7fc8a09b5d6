import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { run, runOk } from '../../src/lib/exec.js';
import { detect, type Language } from '../../src/builder/detect.js';
import { prepareBuildContext } from '../../src/builder/dockerfile.js';
import { stackImage } from '../../src/config-stacks.js';
import { tempDir, uniqueName } from './helpers.js';

// Real builds with the real engine: each fixture app is detected, gets a generated Dockerfile,
// builds, runs as a hardened-enough container on a user network, and answers HTTP on $PORT.
const repo = path.resolve(import.meta.dirname, '../../..');
const fixtures = path.join(repo, 'test/fixtures/apps');
const id = uniqueName('berth-test-builder');
const network = id;
const label = `berth.test=${id}`;
const dirs: string[] = [];
// The classic builder prints "Using cache" per step, which the cache test reads.
const env = { ...process.env, DOCKER_BUILDKIT: '0' };

before(async () => {
  await runOk('bash', [path.join(repo, 'scripts/stacks.sh')], { timeoutMs: 15 * 60_000, cwd: repo });
  await runOk('docker', ['network', 'create', '--label', label, network], { timeoutMs: 30_000 });
});

after(async () => {
  const containers = (await run('docker', ['ps', '-aq', '--filter', `label=${label}`], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
  if (containers.length) await run('docker', ['rm', '-f', ...containers], { timeoutMs: 60_000 });
  await run('docker', ['network', 'rm', network], { timeoutMs: 30_000 });
  const images = (await run('docker', ['images', '-q', '--filter', `label=${label}`], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
  if (images.length) await run('docker', ['rmi', '-f', ...new Set(images)], { timeoutMs: 60_000 });
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});

async function sourceCopy(fixture: string): Promise<string> {
  const dir = await tempDir(fixture);
  dirs.push(dir);
  await fs.cp(path.join(fixtures, fixture), dir, { recursive: true });
  return dir;
}

async function build(dir: string, tag: string): Promise<string> {
  const d = await detect(dir);
  const ctx = await prepareBuildContext(dir, d, { stackImage: stackImage(d.language as Language) });
  const res = await runOk('docker', ['build', '--label', label, '-f', path.join(dir, ctx.dockerfile), '-t', tag, dir], {
    timeoutMs: 10 * 60_000,
    env,
  });
  return res.stdout + res.stderr;
}

async function serve(image: string, port: number): Promise<{ body: string; user: string }> {
  const name = uniqueName('berth-test-builder-app');
  await runOk(
    'docker',
    ['run', '-d', '--rm', '--name', name, '--label', label, '--network', network, '-e', `PORT=${port}`, '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', image],
    { timeoutMs: 60_000 },
  );
  try {
    const inspect = await runOk('docker', ['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}} {{.Config.User}}`, name], { timeoutMs: 30_000 });
    const [ip, user] = inspect.stdout.trim().split(' ');
    assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/);
    const deadline = Date.now() + 30_000;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`http://${ip}:${port}/`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) return { body: await res.text(), user };
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = String(err);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const logs = await run('docker', ['logs', name], { timeoutMs: 10_000 });
    throw new Error(`${image} did not answer on ${ip}:${port}: ${last}\n${logs.stdout}${logs.stderr}`);
  } finally {
    await run('docker', ['rm', '-f', name], { timeoutMs: 30_000 });
  }
}

for (const lang of ['python', 'go', 'ruby'] as const) {
  test(`${lang} fixture builds from its generated Dockerfile and answers on $PORT as uid 10001`, async () => {
    const dir = await sourceCopy(`${lang}-web`);
    const tag = `${id}/${lang}`;
    await build(dir, tag);
    const { body, user } = await serve(tag, 9090);
    // go-web also says which Go built it (test/builds/languages checks the line).
    assert.equal(body.trim().replace(/ go1\.\d+\.\d+$/, ''), `hello from ${lang} uid=10001`);
    assert.equal(user, '10001:10001');
  });
}

test('node fixture installs its npm dependency in the build; a code-only change reuses that layer', async () => {
  const dir = await sourceCopy('node-web');
  const tag = `${id}/node`;
  const first = await build(dir, tag);
  assert.match(first, /Step \d+\/\d+ : RUN npm ci/);
  const { body } = await serve(tag, 9091);
  // "1m" comes from the `ms` package, installed by npm inside the build.
  assert.equal(body.trim(), 'hello from node 1m uid=10001');

  await fs.appendFile(path.join(dir, 'index.js'), '\n// a code-only change\n');
  await fs.rm(path.join(dir, 'Dockerfile'));
  const started = Date.now();
  const second = await build(dir, `${tag}:v2`);
  const seconds = (Date.now() - started) / 1000;
  const npmStep = /Step \d+\/\d+ : RUN npm ci[^\n]*\n ---> ([^\n]*)/.exec(second);
  assert.ok(npmStep, second);
  assert.equal(npmStep[1], 'Using cache', second);
  const codeStep = /Step \d+\/\d+ : COPY \. \.\n ---> ([^\n]*)/.exec(second);
  assert.notEqual(codeStep?.[1], 'Using cache', 'the changed code must be copied again');
  assert.ok(seconds < 30, `code-only rebuild took ${seconds} s`);
  assert.equal((await serve(`${tag}:v2`, 9092)).body.trim(), 'hello from node 1m uid=10001');
});
