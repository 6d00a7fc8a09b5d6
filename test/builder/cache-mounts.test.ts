import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { detect } from '../../src/builder/detect.js';
import { generateDockerfile } from '../../src/builder/dockerfile.js';
import { BuildCaches, buildCachesDir } from '../../src/imagebuild/build-cache.js';
import { checkDockerfile, DockerfileRefused } from '../../src/imagebuild/dockerfile-check.js';
import { tempDir } from './helpers.js';

async function generated(files: Record<string, string>, cacheMounts: boolean): Promise<string> {
  const dir = await tempDir('cache-mounts');
  try {
    for (const [name, content] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await fs.writeFile(path.join(dir, name), content);
    }
    return generateDockerfile(await detect(dir), { stackImage: 'stack', runtimeImage: 'base', cacheMounts });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const npmApp = { 'package.json': '{"dependencies":{"ms":"2.1.3"},"scripts":{"start":"node index.js"}}', 'package-lock.json': '{}', 'index.js': '' };
const goApp = { 'go.mod': 'module m\n', 'go.sum': 'github.com/x/y v1.0.0 h1:abc=\n', 'main.go': 'package main' };

test('with cache mounts, each download step mounts its tool cache and cleans nothing', async () => {
  const npm = await generated(npmApp, true);
  assert.match(npm, /^RUN --mount=type=cache,id=npm,target=\/root\/\.npm npm ci --omit=dev --no-audit --no-fund$/m);
  assert.doesNotMatch(npm, /cache clean/);

  const pnpm = await generated(
    { 'pnpm-lock.yaml': '', 'index.js': '', 'package.json': '{"packageManager":"pnpm@9.1.0","dependencies":{"ms":"2.1.3"},"scripts":{"start":"node index.js","build":"true"}}' },
    true,
  );
  assert.match(pnpm, /^RUN --mount=type=cache,id=corepack,target=\/root\/\.cache\/node\/corepack --mount=type=cache,id=pnpm,target=\/root\/\.local\/share\/pnpm\/store NODE_ENV=development pnpm install --frozen-lockfile$/m);
    // The build step runs pnpm through Corepack again: its cache, not the store.
    assert.match(pnpm, /^RUN --mount=type=cache,id=corepack,[^ ]+ pnpm run build && pnpm prune --prod$/m);

  const py = await generated({ 'requirements.txt': 'flask==3.0\n', 'app.py': '' }, true);
  assert.match(py, /^RUN --mount=type=cache,id=python,target=\/root\/\.cache pip install -r requirements.txt$/m);
  assert.doesNotMatch(py, /--no-cache-dir/);
  // Poetry (and Pipenv, uv) keep their caches under /root/.cache: mounted, so it is not removed (it could not be).
  const fixtures = path.resolve(import.meta.dirname, '../../../test/fixtures/apps');
  const poetry = generateDockerfile(await detect(path.join(fixtures, 'python-poetry')), { stackImage: 'py', cacheMounts: true });
  assert.match(poetry, /^RUN --mount=type=cache,id=python,target=\/root\/\.cache .*poetry install --only main --no-root --no-interaction && rm -rf \/tmp\/berth-poetry$/m);
  const poetryPlain = generateDockerfile(await detect(path.join(fixtures, 'python-poetry')), { stackImage: 'py' });
  assert.match(poetryPlain, /^RUN .*poetry install --only main --no-root --no-interaction && rm -rf \/root\/\.cache \/tmp\/berth-poetry$/m);

  // Go: the modules are in the mount, not the download step's layer, so the build mounts them too.
  const go = await generated(goApp, true);
  assert.match(go, /^RUN --mount=type=cache,id=gomod,target=\/root\/go\/pkg\/mod go mod download$/m);
  assert.match(go, /^RUN --mount=type=cache,id=gomod,target=\/root\/go\/pkg\/mod --mount=type=cache,id=gobuild,target=\/root\/\.cache\/go-build go build /m);

  const rb = await generated({ Gemfile: "gem 'sinatra'\n", 'Gemfile.lock': '', 'app.rb': '' }, true);
  assert.match(rb, /^RUN --mount=type=cache,id=bundler,target=\/root\/\.bundle\/cache BUNDLE_GLOBAL_GEM_CACHE=true bundle install /m);

  const php = await generated({ 'composer.json': '{"require":{"monolog/monolog":"^3"}}', 'index.php': '' }, true);
  assert.match(php, /^RUN --mount=type=cache,id=composer,target=\/root\/\.cache\/composer COMPOSER_CACHE_DIR=\/root\/\.cache\/composer composer install --no-dev .*--no-scripts$/m);
  assert.doesNotMatch(php, /clear-cache/);

  // Maven's local repository (what came from Maven Central) and the Gradle wrapper's caches.
  const pom = '<project><modelVersion>4.0.0</modelVersion><groupId>g</groupId><artifactId>a</artifactId><version>1</version></project>';
  const mvn = await generated({ 'pom.xml': pom, 'src/Main.java': '' }, true);
  assert.match(mvn, /^RUN --mount=type=cache,id=maven,target=\/root\/\.m2\/repository mvn --batch-mode .*package$/m);
  assert.doesNotMatch(mvn, /rm -rf \/root\/\.m2/);
  assert.match(await generated({ 'pom.xml': pom, 'src/Main.java': '' }, false), /^RUN mvn --batch-mode .*package && rm -rf \/root\/\.m2$/m);

  // Every generated Dockerfile passes the check buildah builds run.
  for (const file of [npm, pnpm, py, poetry, go, rb, php, mvn]) checkDockerfile(file, { cacheMounts: true });
});

test('without cache mounts (the engine builder), the steps are as before: no mount, caches cleaned in the layer', async () => {
  const npm = await generated(npmApp, false);
  assert.match(npm, /^RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force$/m);
  assert.match(await generated({ 'requirements.txt': 'flask==3.0\n', 'app.py': '' }, false), /^RUN pip install --no-cache-dir -r requirements.txt$/m);
  assert.match(await generated(goApp, false), /^RUN go mod download$/m);
  assert.match(await generated({ 'composer.json': '{"require":{"monolog/monolog":"^3"}}', 'index.php': '' }, false), /--no-scripts && composer clear-cache --quiet$/m);
  assert.doesNotMatch(npm, /--mount/);
  // The engine builder's check still refuses every RUN flag, a generated cache mount too.
  const mounted = await generated(npmApp, true);
  assert.throws(() => checkDockerfile(mounted), DockerfileRefused);
});

test("the check admits a cache mount only in its narrow form: a plain id, an absolute target, no other place", () => {
  const ok = (mount: string) => checkDockerfile(`FROM x\nRUN --mount=${mount} true\n`, { cacheMounts: true });
  const refused = (mount: string, why: RegExp) =>
    assert.throws(() => ok(mount), (e: Error) => e instanceof DockerfileRefused && why.test(e.message), mount);
  ok('type=cache,target=/root/.npm');
  ok('type=cache,id=npm,target=/root/.npm');
  ok('type=cache,target=/c,mode=0700,uid=10001,gid=10001,ro');
  checkDockerfile('FROM x\nRUN --mount=type=cache,target=/a --mount=type=cache,target=/b true\n', { cacheMounts: true });
  // buildah 1.28 joins the id to its cache directory unconfined (CVE-2024-9675): out of the project's directory.
  refused('type=cache,id=../../other,target=/c', /id must be a name/);
  refused('type=cache,id=a/../../b,target=/c', /id must be a name/);
  refused('type=cache,id=/abs,target=/c', /id must be a name/);
  refused('type=cache,target=/c/../../x', /without "\.\."/);
  refused('type=cache,target=relative', /absolute path/);
  refused('type=cache,target=$HOME', /absolute path/);
  refused('type=cache,target=/c,from=builder', /"from" is not supported/);
  refused('type=cache,target=/c,source=/etc', /"source" is not supported/);
  refused('type=cache,target=/c,src=..', /"src" is not supported/);
  refused('type=cache,target=/c,id=a,id=b', /given twice/);
  refused('type=cache,target=/c,sharing=private', /sharing must be/);
  refused('type=bind,source=/,target=/host', /only cache mounts/);
  refused('type=tmpfs,target=/t', /only cache mounts/);
  refused('type=secret,id=x', /only cache mounts/);
  refused('target=/c', /only cache mounts/);
  refused('type=cache', /needs a target/);
  refused('"type=cache,target=/c"', /not supported in a cache mount|only cache mounts/);
  // Other RUN flags, and mounts through another spelling, stay refused.
  assert.throws(() => checkDockerfile('FROM x\nRUN --network=host true\n', { cacheMounts: true }), /RUN --network is not supported/);
  assert.throws(() => checkDockerfile('FROM x\nRUN --security=insecure true\n', { cacheMounts: true }), /RUN --security is not supported/);
  assert.throws(() => checkDockerfile('FROM x\nONBUILD RUN --mount=type=bind,source=/,target=/h true\n', { cacheMounts: true }), /only cache mounts/);
  // Without a builder that keeps them per project, no mount at all.
  assert.throws(() => checkDockerfile('FROM x\nRUN --mount=type=cache,target=/c true\n'), /RUN --mount is not supported/);
});

test('build caches: one directory per project, removed when the project is gone, dropped when over the limit, never while in use', async () => {
  const store = await tempDir('build-caches');
  try {
    const root = buildCachesDir(store, 'inst1');
    assert.equal(root, path.join(store, 'caches', 'inst1'));
    assert.throws(() => buildCachesDir(store, '../x'));
    const caches = new BuildCaches(root, 64 * 1024);
    assert.throws(() => caches.dir('../p'), /invalid project id/);
    const fill = (p: string, bytes: number) =>
      caches.use(p, async (tmp) => {
        assert.equal(tmp, path.join(root, p));
        assert.equal((await fs.stat(tmp)).mode & 0o777, 0o700);
        await fs.mkdir(path.join(tmp, 'buildah-cache', 'npm'), { recursive: true });
        await fs.writeFile(path.join(tmp, 'buildah-cache', 'npm', 'blob'), Buffer.alloc(bytes, 1));
      });
    await fill('small', 1024);
    await fill('big', 256 * 1024);
    await fill('gone', 1024);
    assert.ok((await caches.usage('big')) >= 256 * 1024);
    assert.equal(await caches.usage('never-built'), 0);

    // In use: neither removed nor trimmed, whatever the collection says.
    let release!: () => void;
    const held = caches.use('gone', () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setImmediate(r));
    const busy = await caches.collect(['small', 'big'], Date.now() + 1000);
    assert.deepEqual(busy, { removed: [], trimmed: ['big'] });
    release();
    await held;

    // A project made after the live list was read (its directory newer than the read) is kept.
    const early = await caches.collect(['small'], 0);
    assert.deepEqual(early.removed, []);

    const after = await caches.collect(['small', 'big'], Date.now() + 1000);
    assert.deepEqual(after, { removed: ['gone'], trimmed: [] });
    assert.deepEqual((await fs.readdir(root)).sort(), ['small']);
  } finally {
    await fs.rm(store, { recursive: true, force: true });
  }
});
