import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { chooseVersion, type VersionRequest } from '../../src/builder/lang-version.js';
import { generateDockerfile } from '../../src/builder/dockerfile.js';
import { detect } from '../../src/builder/detect.js';
import { LANGUAGE_LINES, languageLines, type VersionedLanguage } from '../../src/config-stacks.js';
import { DetectionError } from '../../src/builder/errors.js';
import { tempDir } from './helpers.js';

const repo = path.resolve(import.meta.dirname, '../../..');
const pick = (language: VersionedLanguage, request: VersionRequest | null) => chooseVersion(language, request, languageLines(language, {}), 'unused');
const python = (asked: string, file = '.python-version') => pick('python', { file, asked, ...(file.includes('requires-python') ? { kind: 'pep440' as const } : {}) }).image;
const ruby = (asked: string, file = '.ruby-version') => pick('ruby', { file, asked, ...(file === 'Gemfile' ? { kind: 'gem' as const } : {}) }).image;
const go = (min: string, toolchain: string | null = null) => pick('go', { file: 'go.mod', asked: min, go: min, toolchain });

test('Python: a bare version names its line; requires-python is a PEP 440 specifier set', () => {
  assert.equal(python('3.11'), 'berth/stack-python:bookworm');
  assert.equal(python('3.11.9'), 'berth/stack-python:bookworm');
  assert.equal(python('3'), 'berth/stack-python:3.13-trixie');
  assert.equal(python('python-3.13.1', 'runtime.txt'), 'berth/stack-python:3.13-trixie');
  const req = 'pyproject.toml requires-python';
  assert.equal(python('>=3.10', req), 'berth/stack-python:3.13-trixie');
  assert.equal(python('>=3.9,<3.13', req), 'berth/stack-python:bookworm');
  assert.equal(python('==3.11.*', req), 'berth/stack-python:bookworm');
  assert.equal(python('~=3.11', req), 'berth/stack-python:3.13-trixie');
  assert.equal(python('~=3.11.0', req), 'berth/stack-python:bookworm');
  assert.equal(python('>=3.11, !=3.13.*', req), 'berth/stack-python:bookworm');
  assert.match(pick('python', { file: '.python-version', asked: '3.11' }).why, /^Python 3\.11 \(Debian 12\), the newest here that satisfies "3\.11" from \.python-version$/);
});

test('Ruby: .ruby-version names its line; the Gemfile ruby line is a RubyGems requirement', () => {
  assert.equal(ruby('3.1'), 'berth/stack-ruby:bookworm');
  assert.equal(ruby('ruby-3.3.8'), 'berth/stack-ruby:3.3-trixie');
  assert.equal(ruby('3.3.8', 'Gemfile'), 'berth/stack-ruby:3.3-trixie');
  assert.equal(ruby('~> 3.1.0', 'Gemfile'), 'berth/stack-ruby:bookworm');
  assert.equal(ruby('~> 3.1', 'Gemfile'), 'berth/stack-ruby:3.3-trixie');
  assert.equal(ruby('>= 3.0, < 3.3', 'Gemfile'), 'berth/stack-ruby:bookworm');
});

test('Go: the go line is a minimum; the toolchain line picks its own line when this server has it', () => {
  assert.equal(go('1.22').image, 'berth/stack-go:1.27-trixie');
  assert.match(go('1.22').why, /^Go 1\.27 \(Debian 13 backports\), the newest here, as go\.mod's go "1\.22" is a minimum$/);
  assert.equal(go('1.19').image, 'berth/stack-go:1.27-trixie');
  assert.equal(go('1.24', 'go1.25.0').image, 'berth/stack-go:1.25-trixie');
  assert.match(go('1.24', 'go1.25.0').why, /^Go 1\.25 \(Debian 13 backports\), the line of go\.mod's toolchain "go1\.25\.0"$/);
  assert.equal(go('1.26.1').image, 'berth/stack-go:1.27-trixie');
  // A toolchain line older than the go line, or one this server has no line for: the minimum decides.
  assert.equal(go('1.24', 'go1.23.4').image, 'berth/stack-go:1.27-trixie');
  assert.match(go('1.24', 'go1.23.4').why, /its toolchain "go1\.23\.4" is not a line here/);
});

test('nothing asked: the newest line, and the log says why', () => {
  assert.equal(pick('python', null).image, 'berth/stack-python:3.13-trixie');
  assert.equal(pick('go', null).image, 'berth/stack-go:1.27-trixie');
  assert.match(pick('ruby', null).why, /^Ruby 3\.3 \(Debian 13\), the default \(no ruby line in the Gemfile, no \.ruby-version\)$/);
});

test('a version no line serves fails the build, naming the file, the version and what is offered', () => {
  const fails = (fn: () => unknown, message: string) =>
    assert.throws(fn, (err: Error) => {
      assert.ok(err instanceof DetectionError);
      assert.equal(err.message, message);
      return true;
    });
  fails(() => python('3.12'), '.python-version asks for Python "3.12"; this server builds with Python 3.13, 3.11');
  fails(() => python('>=3.14', 'pyproject.toml requires-python'), 'pyproject.toml requires-python asks for Python ">=3.14"; this server builds with Python 3.13, 3.11');
  fails(() => ruby('3.4.1'), '.ruby-version asks for Ruby "3.4.1"; this server builds with Ruby 3.3, 3.1');
  fails(() => go('1.28'), 'go.mod asks for Go "1.28" or newer; this server builds with Go 1.27, 1.26, 1.25, 1.24, 1.19');
  assert.throws(() => python('pypy3.10-7.3'), /"pypy3\.10-7\.3", which is not a version or a PEP 440 specifier/);
  assert.throws(() => ruby('jruby-9.4\n\u001b[31m'), /"jruby-9\.4 {2}\[31m", which is not a version or a requirement/);
  assert.throws(() => go('banana'), /which is not a Go version/);
  assert.throws(() => python('>=3 ' + ',<4'.repeat(100), 'pyproject.toml requires-python'), /with \d+ characters; a version or requirement is at most 100/);
});

test('an operator-pinned image is used for every app and the log says the request was not checked', () => {
  const c = chooseVersion('python', { file: '.python-version', asked: '3.12' }, languageLines('python', { BERTH_STACK_PYTHON: 'python:3.12-slim' }), 'python:3.12-slim');
  assert.equal(c.image, 'python:3.12-slim');
  assert.match(c.why, /BERTH_STACK_PYTHON.*\.python-version asks for "3\.12", which that image decides/);
});

test('detection reads each language where its ecosystem writes the version', async () => {
  const dir = await tempDir('lang-version');
  const write = (name: string, body: string) => fs.writeFile(path.join(dir, name), body);
  try {
    await write('app.py', '');
    await write('pyproject.toml', '[project]\nname = "a"\nrequires-python = ">=3.12"\n');
    assert.deepEqual((await detect(dir)).python?.request, { file: 'pyproject.toml requires-python', asked: '>=3.12', kind: 'pep440' });
    await write('runtime.txt', 'python-3.13.1\n');
    assert.deepEqual((await detect(dir)).python?.request, { file: 'runtime.txt', asked: 'python-3.13.1' });
    await write('.python-version', '# pyenv\n3.11\n');
    assert.deepEqual((await detect(dir)).python?.request, { file: '.python-version', asked: '3.11' });
    await Promise.all(['app.py', 'pyproject.toml', 'runtime.txt', '.python-version'].map((f) => fs.rm(path.join(dir, f))));

    await write('app.rb', '');
    await write('.ruby-version', 'ruby-3.1.2\n');
    await write('Gemfile', 'source "https://rubygems.org"\n');
    assert.deepEqual((await detect(dir)).ruby?.request, { file: '.ruby-version', asked: 'ruby-3.1.2' });
    await write('Gemfile', 'source "https://rubygems.org"\nruby ">= 3.1", "< 3.4"\n');
    assert.deepEqual((await detect(dir)).ruby?.request, { file: 'Gemfile', asked: '>= 3.1, < 3.4', kind: 'gem' });
    await Promise.all(['app.rb', 'Gemfile', '.ruby-version'].map((f) => fs.rm(path.join(dir, f))));

    await write('main.go', 'package main\n');
    await write('go.mod', 'module example.com/a\n\ngo 1.24.2\n\ntoolchain go1.25.3\n');
    const d = await detect(dir);
    assert.deepEqual(d.go?.request, { file: 'go.mod', asked: '1.24.2 with toolchain go1.25.3', go: '1.24.2', toolchain: 'go1.25.3' });
    // Go never fetches a toolchain the go.mod names: the stack's is the one that builds.
    assert.match(generateDockerfile(d, { stackImage: 'berth/stack-go:1.25-trixie' }), /^ENV CGO_ENABLED=0 GOTOOLCHAIN=local /m);
    await write('go.mod', 'module example.com/a\n');
    assert.equal((await detect(dir)).go?.request, null);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('the stacks script builds exactly the Debian 13 lines the builder offers', async () => {
  const script = await fs.readFile(path.join(repo, 'scripts/stacks.sh'), 'utf8');
  const declared = /declare -A TRIXIE_LINES=\(([^)]*)\)/.exec(script)?.[1] ?? '';
  const built = [...declared.matchAll(/\["(\w+) ([\d.]+)"\]/g)].map((m) => `berth/stack-${m[1]}:${m[2]}-trixie`).sort();
  const offered = Object.values(LANGUAGE_LINES)
    .flatMap((ls) => ls.map((l) => l.image))
    .filter((image) => image.endsWith('-trixie'))
    .sort();
  assert.deepEqual(built, offered);
});
