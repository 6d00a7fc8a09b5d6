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
const php = (asked: string) => pick('php', { file: 'composer.json', asked, kind: 'composer' });
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

test('PHP: composer.json require.php is a Composer constraint', () => {
  for (const ok of ['^8.2', '^8', '>=8.1', '>=8.1 <9.0', '>= 8.1, < 8.5', '~8.4.0', '~8.2', '8.4.*', '8.*', '*', '^7.4 || ^8.1', '^7.4|^8.0', '8.1 - 8.4', '>8.3.99', '8.4.27', 'v8.4.27', '!=8.3.0'])
    assert.equal(php(ok).image, 'berth/stack-php:8.4-trixie', ok);
  assert.match(php('^8.2').why, /^PHP 8\.4 \(Debian 13\), the newest here that satisfies "\^8\.2" from composer\.json$/);
  // Each of these leaves 8.4.27 out, as Composer reads them.
  for (const no of ['^7.4', '~8.2.0', '<8.4', '>=8.5', '8.3.*', '^9', '8.1 - 8.3', '>=8.1 <8.4', '^0.8', '~8.4.28', '!=8.4.27'])
    assert.throws(() => php(no), DetectionError, no);
  assert.throws(() => php('8.4'), /asks for PHP "8\.4", which Composer reads as exactly 8\.4 \(write \^8\.4 or 8\.4\.\*, say\)/);
  assert.throws(() => php('>=8.1@dev'), /">=8\.1@dev", which is not a Composer version constraint/);
  assert.throws(() => php('^8.2 ||'), /which is not a Composer version constraint/);
  assert.match(pick('php', null).why, /^PHP 8\.4 \(Debian 13\), the default \(no require\.php in composer\.json\)$/);
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
  fails(() => php('^7.4'), 'composer.json asks for PHP "^7.4"; this server builds with PHP 8.4');
  fails(() => go('1.28'), 'go.mod asks for Go "1.28" or newer; this server builds with Go 1.27, 1.26, 1.25, 1.24, 1.19');
  assert.throws(() => python('pypy3.10-7.3'), /"pypy3\.10-7\.3", which is not a version or a PEP 440 specifier/);
  assert.throws(() => ruby('jruby-9.4\n\u001b[31m'), /"jruby-9\.4 {2}\[31m", which is not a version or a requirement/);
  assert.throws(() => go('banana'), /which is not a Go version/);
  assert.throws(() => python('>=3 ' + ',<4'.repeat(100), 'pyproject.toml requires-python'), /with \d+ characters; a version or requirement is at most 100/);
});

test('Java: system.properties names a line; pom.xml and Gradle compatibility are minimums; 21 is the default', () => {
  const fails = (fn: () => unknown, message: string) => assert.throws(fn, (err: Error) => err instanceof DetectionError && err.message === message);
  const java = (asked: string, file = 'system.properties', kind?: 'minimum') => pick('java', { file, asked, ...(kind ? { kind } : {}) });
  assert.equal(java('25').image, 'berth/stack-java:25-trixie');
  assert.match(java('25').why, /^Java 25 \(Debian 13\), the newest here that satisfies "25" from system\.properties$/);
  assert.equal(java('21.0.4').image, 'berth/stack-java:21-trixie');
  assert.equal(java('21.0.4+7').image, 'berth/stack-java:21-trixie');
  fails(() => java('17'), 'system.properties asks for Java "17"; this server builds with Java 25, 21');
  fails(() => java('1.8'), 'system.properties asks for Java "1.8"; this server builds with Java 25, 21');
  assert.throws(() => java('zulu'), /asks for Java "zulu", which is not a Java version \(write 21, 25 or 1\.8, say\)/);
  const release = 'pom.xml maven.compiler.release';
  // Bytecode for 17 (or 8) runs on 21, the default; 25's needs 25.
  assert.equal(java('17', release, 'minimum').image, 'berth/stack-java:21-trixie');
  assert.match(java('17', release, 'minimum').why, /^Java 21 \(Debian 13\), the default, which meets pom\.xml maven\.compiler\.release "17" \(a minimum\)$/);
  assert.equal(java('1.8', 'pom.xml maven.compiler.target', 'minimum').image, 'berth/stack-java:21-trixie');
  assert.equal(java('22', release, 'minimum').image, 'berth/stack-java:25-trixie');
  assert.match(java('25', release, 'minimum').why, /^Java 25 \(Debian 13\), the newest here, as pom\.xml maven\.compiler\.release "25" is a minimum$/);
  fails(() => java('26', release, 'minimum'), 'pom.xml maven.compiler.release asks for Java "26" or newer; this server builds with Java 25, 21');
  assert.equal(pick('java', null).image, 'berth/stack-java:21-trixie');
  assert.match(pick('java', null).why, /^Java 21 \(Debian 13\), the default \(no java\.runtime\.version in system\.properties, no release or target in pom\.xml or the Gradle build\)$/);
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
    await Promise.all(['main.go', 'go.mod'].map((f) => fs.rm(path.join(dir, f))));

    // composer.json wins over the package.json a Laravel app has for its assets.
    await write('package.json', '{"scripts":{"build":"vite build"}}');
    const repositories = [{ type: 'path', url: 'packages/*' }, { type: 'path', url: '../outside' }, { type: 'vcs', url: 'https://example.com/x.git' }];
    await write('composer.json', JSON.stringify({ require: { php: '>=8.1' }, repositories }));
    await write('artisan', '');
    await Promise.all(['packages', 'public', 'storage', 'bootstrap/cache'].map((d) => fs.mkdir(path.join(dir, d), { recursive: true })));
    const p = await detect(dir);
    assert.equal(p.language, 'php');
    const request = { file: 'composer.json', asked: '>=8.1', kind: 'composer' };
    assert.deepEqual(p.php, { composer: true, lockfile: false, installFolders: ['packages'], publicDir: true, writable: ['storage', 'bootstrap/cache'], request });
    const file = generateDockerfile(p, { stackImage: 'berth/stack-php:8.4-trixie' });
    assert.match(file, /^ENV PORT=8080 PHP_DOCUMENT_ROOT=\/app\/public$/m);
    assert.match(file, /^COPY \["composer\.json","\.\/"\]\nCOPY \["packages","\.\/packages\/"\]\nRUN composer install --no-dev .*--no-autoloader --no-scripts/m);
    assert.match(file, /^COPY \. \.\nRUN composer install --no-dev --optimize-autoloader --no-interaction .*\nRUN mkdir -p storage bootstrap\/cache && chown -R 10001:10001 storage bootstrap\/cache$/m);
    assert.match(file, /^CMD \["berth-php-serve"\]$/m);
    // A lone index.php is a PHP app too, served from the app root, with no Composer step.
    await Promise.all(['package.json', 'composer.json', 'artisan', 'public'].map((f) => fs.rm(path.join(dir, f), { recursive: true })));
    await write('index.php', '<?php echo "hi";');
    const bare = await detect(dir);
    assert.equal(bare.php?.request, null);
    const bareFile = generateDockerfile(bare, { stackImage: 'berth/stack-php:8.4-trixie' });
    assert.match(bareFile, /PHP_DOCUMENT_ROOT=\/app$/m);
    assert.doesNotMatch(bareFile, /composer/);
    // A Procfile's web line still wins over the stack's web process.
    await write('Procfile', 'web: php -S 0.0.0.0:$PORT -t public\n');
    assert.match(generateDockerfile(await detect(dir), { stackImage: 'berth/stack-php:8.4-trixie' }), /^CMD \["sh","-c","php -S 0\.0\.0\.0:\$PORT -t public"\]$/m);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('Java: the version from system.properties, pom.xml or the Gradle build; Maven, or the project\'s Gradle wrapper', async () => {
  const dir = await tempDir('lang-version-java');
  const write = (name: string, body: string) => fs.writeFile(path.join(dir, name), body);
  const pom = (props: string, plugins = '') =>
    `<project><modelVersion>4.0.0</modelVersion><!-- <maven.compiler.release>8</maven.compiler.release> -->\n<properties>${props}</properties><build><plugins>${plugins}</plugins></build></project>`;
  try {
    await write('pom.xml', pom('<maven.compiler.release>\n      17\n    </maven.compiler.release>'));
    let d = await detect(dir);
    assert.equal(d.language, 'java');
    assert.deepEqual(d.java, { tool: 'maven', request: { file: 'pom.xml maven.compiler.release', asked: '17', kind: 'minimum' } });
    // Spring Boot's java.version, through the property that names it.
    await write('pom.xml', pom('<java.version>21</java.version><maven.compiler.target>${java.version}</maven.compiler.target>'));
    assert.deepEqual((await detect(dir)).java?.request, { file: 'pom.xml maven.compiler.target', asked: '21', kind: 'minimum' });
    await write('pom.xml', pom('', '<plugin><artifactId>maven-compiler-plugin</artifactId><configuration><release>25</release></configuration></plugin>'));
    assert.deepEqual((await detect(dir)).java?.request, { file: 'pom.xml <release>', asked: '25', kind: 'minimum' });
    await write('pom.xml', pom(''));
    assert.equal((await detect(dir)).java?.request, null);
    await write('system.properties', '# Heroku\njava.runtime.version=25\nmaven.version=3.9.9\n');
    d = await detect(dir);
    assert.deepEqual(d.java?.request, { file: 'system.properties', asked: '25' });

    // Maven in the stack, tests skipped, the jar found at build time, the heap sized from the container's limit.
    const file = generateDockerfile(d, { stackImage: 'berth/stack-java:25-trixie' });
    assert.match(file, /^RUN mvn --batch-mode --no-transfer-progress -DskipTests package && rm -rf \/root\/\.m2$/m);
    assert.match(file, /^RUN berth-java-jar target$/m);
    assert.match(file, /^ENV PORT=8080 JDK_JAVA_OPTIONS="-XX:MaxRAMPercentage=75\.0"$/m);
    assert.match(file, /^CMD \["java","-jar","\/app\/berth-app\.jar"\]$/m);
    // A Procfile web line runs its own command: no jar is picked.
    await write('Procfile', 'web: java -cp "target/classes:target/dependency/*" dev.example.Main\n');
    const own = generateDockerfile(await detect(dir), { stackImage: 'berth/stack-java:25-trixie' });
    assert.doesNotMatch(own, /berth-java-jar/);
    assert.match(own, /^CMD \["sh","-c","java -cp \\"target\/classes:target\/dependency\/\*\\" dev\.example\.Main"\]$/m);
    await Promise.all(['pom.xml', 'system.properties', 'Procfile'].map((f) => fs.rm(path.join(dir, f))));

    // Gradle: Debian's 4.4 runs on neither JDK, so only the project's wrapper builds it.
    await write('build.gradle.kts', 'java {\n  toolchain {\n    languageVersion = JavaLanguageVersion.of(25)\n  }\n}\n');
    await assert.rejects(detect(dir), /build\.gradle\.kts found but no Gradle wrapper \(gradlew\).*Gradle \(4\.4\) cannot run on Java 21 or 25; run `gradle wrapper`/);
    await write('gradlew', '#!/bin/sh\n');
    await assert.rejects(detect(dir), /gradlew found but not gradle\/wrapper\/gradle-wrapper\.jar/);
    await fs.mkdir(path.join(dir, 'gradle/wrapper'), { recursive: true });
    await write('gradle/wrapper/gradle-wrapper.jar', '');
    d = await detect(dir);
    assert.deepEqual(d.java, { tool: 'gradle', request: { file: 'build.gradle.kts toolchain languageVersion', asked: '25' } });
    const gradle = generateDockerfile(d, { stackImage: 'berth/stack-java:25-trixie' });
    assert.match(gradle, /\.\/gradlew --no-daemon --quiet --version >\/dev\/null \|\| \{ echo "berth: \.\/gradlew could not start Gradle: the wrapper downloads the distributionUrl/);
    // The probe and the build are one step, so the wrapper's Gradle never stays in a layer of its own.
    assert.match(gradle, /^RUN chmod \+x gradlew && \(\.\/gradlew --no-daemon --quiet --version .* && \.\/gradlew --no-daemon build -x check && rm -rf \/root\/\.gradle$/m);
    const cached = generateDockerfile(d, { stackImage: 'berth/stack-java:25-trixie', cacheMounts: true });
    assert.match(cached, /^RUN --mount=type=cache,id=gradle,target=\/root\/\.gradle chmod \+x gradlew && .* && \.\/gradlew --no-daemon build -x check$/m);
    assert.match(gradle, /^RUN berth-java-jar build\/libs$/m);
    await write('build.gradle.kts', 'java {\n  sourceCompatibility = JavaVersion.VERSION_17\n}\n');
    assert.deepEqual((await detect(dir)).java?.request, { file: 'build.gradle.kts sourceCompatibility', asked: '17', kind: 'minimum' });
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
