import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { detect, parseProcfile } from '../../src/builder/detect.js';
import { generateDockerfile, prepareBuildContext } from '../../src/builder/dockerfile.js';
import { DetectionError } from '../../src/builder/errors.js';
import { stackImage, stackImages } from '../../src/config-stacks.js';
import { tempDir } from './helpers.js';

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await tempDir('detect');
  for (const [name, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), content);
  }
  return dir;
}

async function detected(files: Record<string, string>) {
  const dir = await tree(files);
  try {
    return await detect(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const fixtures = path.resolve(import.meta.dirname, '../../../test/fixtures/apps');

test('each fixture app is detected as its language with its conventional start command', async () => {
  const cases = [
    ['node-web', 'node', ['npm', 'start']],
    ['python-web', 'python', ['python3', 'app.py']],
    ['go-web', 'go', ['/app/bin/go-web']],
    ['ruby-web', 'ruby', ['ruby', 'app.rb']],
  ] as const;
  for (const [name, language, argv] of cases) {
    const d = await detect(path.join(fixtures, name));
    assert.equal(d.builder, language);
    assert.equal(d.language, language);
    assert.deepEqual(d.start, { source: 'convention', argv });
  }
});

test('a Dockerfile wins over language files', async () => {
  const d = await detected({ Dockerfile: 'FROM scratch\n', 'package.json': '{}', 'requirements.txt': '' });
  assert.equal(d.builder, 'dockerfile');
  assert.equal(d.start, null);
  assert.throws(() => generateDockerfile(d, { stackImage: 'x' }), /own Dockerfile/);
});

test('every Python marker file is recognized', async () => {
  for (const marker of ['requirements.txt', 'pyproject.toml', 'Pipfile']) {
    const d = await detected({ [marker]: '', 'main.py': '' });
    assert.equal(d.builder, 'python', marker);
    assert.deepEqual(d.start, { source: 'convention', argv: ['python3', 'main.py'] });
  }
});

test('a Procfile web line sets the start command, run by sh -c as the user wrote it', async () => {
  const web = 'gunicorn app:app --bind 0.0.0.0:$PORT --workers "2"';
  const d = await detected({ 'requirements.txt': 'gunicorn==21.2.0\n', Procfile: `# comment\nweb: ${web}\nworker: python3 worker.py\n` });
  assert.deepEqual(d.start, { source: 'Procfile', shell: web });
  assert.equal(d.processes.worker, 'python3 worker.py');
  const file = generateDockerfile(d, { stackImage: 'berth/stack-python:bookworm' });
  assert.ok(file.includes(`CMD ${JSON.stringify(['sh', '-c', web])}`), file);
  assert.deepEqual(parseProcfile('web:node a.js\r\nbad line\nweb: node b.js'), { web: 'node b.js' });
});

test('Node.js start: start script, then main, then index.js; none is a clear error', async () => {
  assert.deepEqual((await detected({ 'package.json': '{"main":"lib/srv.js"}', 'lib/srv.js': '' })).start, {
    source: 'convention',
    argv: ['node', 'lib/srv.js'],
  });
  assert.deepEqual((await detected({ 'package.json': '{"main":"../../etc/passwd"}', 'index.js': '' })).start, {
    source: 'convention',
    argv: ['node', 'index.js'],
  });
  await assert.rejects(detected({ 'package.json': '{}' }), (e: unknown) => e instanceof DetectionError && /Procfile/.test(e.message));
  await assert.rejects(detected({ 'package.json': '{nope' }), /package.json is not valid JSON/);
});

test('nothing to build: the error names every file looked for', async () => {
  await assert.rejects(detected({ 'README.md': '# hi' }), (e: unknown) => {
    assert.ok(e instanceof DetectionError);
    for (const f of ['Dockerfile', 'package.json', 'requirements.txt', 'pyproject.toml', 'Pipfile', 'go.mod', 'Gemfile', 'pom.xml', 'build.gradle', 'build.gradle.kts', 'composer.json', 'index.php']) {
      assert.ok(e.message.includes(f), `${f} missing from: ${e.message}`);
    }
    return true;
  });
  await assert.rejects(detected({ 'requirements.txt': 'flask\n' }), /Python app found but no start command.*app\.py/);
});

test('a marker file that is a symlink out of the source is not read', async () => {
  const dir = await tree({ 'app.py': '' });
  try {
    await fs.symlink('/etc/hostname', path.join(dir, 'requirements.txt'));
    await fs.symlink('/etc/passwd', path.join(dir, 'Procfile'));
    const d = await detect(dir).catch((e: Error) => e);
    assert.ok(d instanceof DetectionError, 'the symlinked marker must not count');
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('generated Dockerfiles: dependencies before code, non-root, PORT, installs only what is declared', async () => {
  const node = generateDockerfile(await detect(path.join(fixtures, 'node-web')), { stackImage: 'berth/stack-node:bookworm' });
  const at = (s: string) => node.indexOf(s);
  assert.ok(at('COPY ["package.json","package-lock.json","./"]') > 0);
  assert.ok(at('COPY ["package.json"') < at('RUN npm ci --omit=dev') && at('RUN npm ci') < at('COPY . .'), node);
  assert.match(node, /^USER 10001:10001$/m);
  assert.match(node, /^ENV .*PORT=8080/m);
  assert.match(node, /^EXPOSE 8080$/m);

  const py = (files: Record<string, string>) => detected(files).then((d) => generateDockerfile(d, { stackImage: 'py' }));
  assert.doesNotMatch(await py({ 'requirements.txt': '# none\n\n', 'app.py': '' }), /pip install/);
  assert.match(await py({ 'requirements.txt': 'flask==3.0\n', 'app.py': '' }), /RUN pip install --no-cache-dir -r requirements.txt\nCOPY \. \./);
  assert.match(await py({ 'pyproject.toml': '[project]\nname="x"\ndependencies = ["flask"]\n', 'app.py': '' }), /COPY \. \.\nRUN pip install --no-cache-dir \./);

  const go = async (files: Record<string, string>) => generateDockerfile(await detected(files), { stackImage: 'g', runtimeImage: 'base' });
  const plain = await go({ 'go.mod': 'module example.com/x/api\n', 'main.go': 'package main' });
  assert.doesNotMatch(plain, /go mod download/);
  assert.match(plain, /FROM base\n/);
  assert.match(plain, /CMD \["\/app\/bin\/api"\]/);
  const withDeps = await go({ 'go.mod': 'module m\n', 'go.sum': 'github.com/x/y v1.0.0 h1:abc=\n', 'cmd/srv/main.go': 'package main' });
  assert.match(withDeps, /COPY \["go.mod","go.sum","\.\/"\]\nRUN go mod download\nCOPY \. \./);
  assert.match(withDeps, /go build .* "\.\/cmd\/srv"/);

  const rb = async (files: Record<string, string>) => generateDockerfile(await detected(files), { stackImage: 'r' });
  assert.doesNotMatch(await rb({ Gemfile: 'source "https://rubygems.org"\n', 'app.rb': '' }), /bundle install/);
  const sinatra = await rb({ Gemfile: "gem 'sinatra'\n", 'Gemfile.lock': '', 'app.rb': '' });
  assert.match(sinatra, /RUN bundle install/);
  assert.match(sinatra, /CMD \["bundle","exec","ruby","app.rb"\]/);

  const nodeDetection = await detect(path.join(fixtures, 'node-web'));
  assert.throws(() => generateDockerfile(nodeDetection, { stackImage: 'x\nRUN evil' }), /invalid image/);
});

test('prepareBuildContext writes the Dockerfile and a .dockerignore, never through a planted symlink', async () => {
  const dir = await tree({ 'app.py': 'print(1)', '.git/HEAD': 'ref: refs/heads/main\n' });
  const outside = await tempDir('outside');
  try {
    await fs.symlink(path.join(outside, 'victim'), path.join(dir, 'Dockerfile.tmp'));
    await fs.symlink(path.join(outside, 'victim'), path.join(dir, '.dockerignore-not'));
    const d = await detected({ 'requirements.txt': '', 'app.py': '' });
    const ctx = await prepareBuildContext(dir, d, { stackImage: 'berth/stack-python:bookworm' });
    assert.equal(ctx.generated, true);
    assert.equal(await fs.readFile(path.join(dir, 'Dockerfile'), 'utf8'), ctx.content);
    assert.match(await fs.readFile(path.join(dir, '.dockerignore'), 'utf8'), /^\.git$/m);
    // A .dockerignore that is a symlink out of the tree is replaced, not followed.
    const dir2 = await tree({ 'app.py': '' });
    await fs.symlink(path.join(outside, 'victim2'), path.join(dir2, 'Dockerfile'));
    await fs.rm(path.join(dir2, 'Dockerfile'));
    await fs.symlink(path.join(outside, 'victim2'), path.join(dir2, '.dockerignore'));
    await prepareBuildContext(dir2, d, { stackImage: 'p' });
    assert.deepEqual(await fs.readdir(outside), []);
    assert.equal((await fs.lstat(path.join(dir2, '.dockerignore'))).isFile(), true);
    await fs.rm(dir2, { recursive: true, force: true });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rm(outside, { recursive: true, force: true });
  }
});

test('stack images are settings', () => {
  assert.equal(stackImage('node', {}), 'berth/stack-node:bookworm');
  assert.equal(stackImage('node', { BERTH_STACK_NODE: 'node:20-bookworm-slim' }), 'node:20-bookworm-slim');
  assert.deepEqual(stackImages({ BERTH_STACK_GO: 'golang:1.22' }), {
    node: 'berth/stack-node:bookworm',
    python: 'berth/stack-python:bookworm',
    go: 'golang:1.22',
    ruby: 'berth/stack-ruby:bookworm',
    php: 'berth/stack-php:8.4-trixie',
    java: 'berth/stack-java:21-trixie',
  });
});

test('composer.json beside package.json: PHP when it requires something (Laravel), else the Node.js app it was', async () => {
  const pkg = JSON.stringify({ name: 'web', scripts: { start: 'node server.js' } });
  assert.equal((await detected({ 'package.json': pkg, 'composer.json': '{"require":{"php":"^8.2","laravel/framework":"^11.0"}}' })).builder, 'php');
  assert.equal((await detected({ 'package.json': pkg, 'composer.json': '{"require-dev":{"phpstan/phpstan":"^1"}}' })).builder, 'node');
  assert.equal((await detected({ 'package.json': pkg, 'composer.json': 'not json' })).builder, 'node');
  assert.equal((await detected({ 'composer.json': '{}' })).builder, 'php', 'no package.json: a PHP app');
});
