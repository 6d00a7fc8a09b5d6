import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { detect, type PythonFacts, type RubyFacts } from '../../src/builder/detect.js';
import { generateDockerfile } from '../../src/builder/dockerfile.js';
import { DetectionError } from '../../src/builder/errors.js';
import { bundlerInstaller, pythonInstaller } from '../../src/builder/package-managers.js';
import { LANGUAGE_LINES } from '../../src/config-stacks.js';
import { tempDir } from './helpers.js';

const fixtures = path.resolve(import.meta.dirname, '../../../test/fixtures/apps');
const [py313, py311] = LANGUAGE_LINES.python;
const [rb33, rb31] = LANGUAGE_LINES.ruby;

async function detected(files: Record<string, string>) {
  const dir = await tempDir('managers');
  try {
    for (const [name, content] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await fs.writeFile(path.join(dir, name), content);
    }
    return await detect(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('a Python lockfile names the manager: uv.lock, then poetry.lock, then a Pipfile, else pip', async () => {
  const app = { 'app.py': '', 'pyproject.toml': '[project]\nname = "x"\ndependencies = ["flask"]\n', 'requirements.txt': 'flask\n' };
  const manager = async (files: Record<string, string>) => (await detected({ ...app, ...files })).python!;
  assert.equal((await manager({ 'uv.lock': '', 'poetry.lock': '', Pipfile: '' })).manager, 'uv');
  assert.equal((await manager({ 'poetry.lock': '', Pipfile: '' })).manager, 'poetry');
  assert.deepEqual(
    { ...(await manager({ Pipfile: '[packages]\nflask = "*"\n' })), request: null },
    { manager: 'pipenv', lockfile: null, installPaths: [], requirements: true, pyprojectDependencies: true, pipfilePackages: true, request: null },
  );
  assert.equal((await manager({})).manager, 'pip');
  // The lockfile and the pyproject.toml it goes with are copied before the install, the code after.
  const poetry = await detected({ ...app, 'poetry.lock': '' });
  assert.deepEqual(poetry.manifests, ['requirements.txt', 'pyproject.toml', 'poetry.lock']);
});

test('local path dependencies a lockfile names are copied before the install; URLs and paths out of the source are not', async () => {
  const poetry = await detect(path.join(fixtures, 'python-poetry'));
  assert.deepEqual(poetry.python!.installPaths, ['packages']);
  const pipenv = await detect(path.join(fixtures, 'python-pipenv'));
  assert.deepEqual(pipenv.python!.installPaths, ['packages']);
  const ruby = await detect(path.join(fixtures, 'ruby-bundler'));
  assert.deepEqual(ruby.ruby!.installPaths, ['vendor']);
  assert.equal(ruby.ruby!.bundledWith, '2.5.11');

  const uv = await detected({
    'app.py': '',
    'pyproject.toml': '',
    'uv.lock': 'source = { editable = "libs/a" }\nsource = { directory = "../outside" }\nsource = { path = "wheels/b.whl" }\nsource = { registry = "https://pypi.org/simple" }\n',
    'libs/a/x.py': '',
    'wheels/b.whl': '',
  });
  assert.deepEqual(uv.python!.installPaths, ['libs', 'wheels']);
  const lock = { default: { a: { file: 'https://example.com/a.whl' }, b: { path: './missing' }, c: { path: './lib/c' } } };
  const pipfile = await detected({ 'app.py': '', Pipfile: '[packages]\nc = {path = "./lib/c"}\n', 'Pipfile.lock': JSON.stringify(lock), 'lib/c/setup.py': '' });
  assert.deepEqual(pipfile.python!.installPaths, ['lib']);
});

test('generated Python install steps: each manager into the virtualenv, from its lockfile', async () => {
  const poetry = generateDockerfile(await detect(path.join(fixtures, 'python-poetry')), { stackImage: 'py' });
  assert.match(poetry, /^COPY \["pyproject\.toml","poetry\.lock","\.\/"\]\nCOPY \["packages","\.\/packages"\]\nRUN .*poetry install --only main --no-root --no-interaction .*\nCOPY \. \.$/m);
  // The project itself is not pip-installed beside Poetry's install.
  assert.doesNotMatch(poetry, /pip install --no-cache-dir \.$/m);
  const pipenv = generateDockerfile(await detect(path.join(fixtures, 'python-pipenv')), { stackImage: 'py' });
  assert.match(pipenv, /^RUN .*pipenv install --deploy .*\nCOPY \. \.$/m);
  // The stack's own Pipenv; only an image without one fetches it from PyPI, for this step, outside the app's virtualenv.
  assert.match(pipenv, /^RUN if ! command -v pipenv >\/dev\/null; then .*python3 -m venv \/tmp\/berth-pipenv && \/tmp\/berth-pipenv\/bin\/pip install --no-cache-dir --quiet pipenv .*; fi && PIPENV_VERBOSITY=-1 pipenv install --deploy && rm -rf \/root\/\.cache \/tmp\/berth-pipenv$/m);
  const uv = generateDockerfile(await detected({ 'app.py': '', 'pyproject.toml': '', 'uv.lock': '' }), { stackImage: 'py' });
  assert.match(uv, /UV_PROJECT_ENVIRONMENT=\/opt\/venv uv sync --frozen --no-dev --no-install-project/);
});

test('the build log names the Python manager and version; uv falls back to requirements.txt or fails', async () => {
  const facts = async (files: Record<string, string>) => (await detected({ 'app.py': '', ...files })).python!;
  assert.equal(pythonInstaller(await facts({ 'pyproject.toml': '', 'poetry.lock': '' }), py311!), "Installing with Poetry 1.3.2 (Debian 12's) from poetry.lock (its main group; the project itself runs from /app)");
  assert.equal(
    pythonInstaller(await facts({ Pipfile: '[packages]\nflask = "*"\n' }), py313!),
    "Installing with Pipenv 2024.0.1 (Debian 13's) from the Pipfile: no Pipfile.lock, so versions are resolved afresh",
  );
  assert.equal(pythonInstaller(await facts({ Pipfile: '[packages]\n' }), py313!), null);
  assert.equal(pythonInstaller(await facts({ 'requirements.txt': 'flask\n' }), py313!), "Installing with pip 25.1.1 (Debian 13's) from requirements.txt");
  assert.equal(pythonInstaller(await facts({ 'requirements.txt': '' }), py313!), null);
  // An operator's image: its business, said as such.
  assert.match(pythonInstaller(await facts({ 'pyproject.toml': '', 'uv.lock': '' }), null)!, /^Installing with uv from uv\.lock/);

  const exported = await facts({ 'pyproject.toml': '', 'uv.lock': '', 'requirements.txt': 'flask==3.1.0\n' });
  assert.match(pythonInstaller(exported, py313!)!, /^Installing with pip 25\.1\.1 \(Debian 13's\) from requirements\.txt: uv\.lock is not read, as Debian packages no uv/);
  const file = generateDockerfile({ ...(await detected({ 'app.py': '', 'pyproject.toml': '', 'uv.lock': '', 'requirements.txt': 'flask\n' })), python: exported }, { stackImage: 'py' });
  assert.match(file, /^RUN pip install --no-cache-dir -r requirements\.txt$/m);
  assert.doesNotMatch(file, /uv sync|pip install --no-cache-dir \.$/m);
  assert.throws(() => pythonInstaller(facts_({ manager: 'uv' }), py313!), (e: Error) => e instanceof DetectionError && /^uv\.lock asks for uv, which Debian does not package/.test(e.message));
  // A line without the manager (none today: both carry Pipenv and Poetry) refuses at once.
  assert.throws(() => pythonInstaller(facts_({ manager: 'poetry' }), { ...py313!, tools: {} }), /poetry\.lock asks for Poetry, and Python 3\.13 \(Debian 13\) here has none/);
});

test('Bundler: the stack\'s own for the same major release as BUNDLED WITH, a clear failure for another', () => {
  const ruby = (bundledWith: string | null, lockfile = true): RubyFacts => ({ hasGems: true, lockfile, bundledWith, installPaths: [], request: null });
  assert.equal(bundlerInstaller(ruby('2.6.7'), rb33!), "Installing gems with Bundler 2.6.7 (Debian 13's), as Gemfile.lock's BUNDLED WITH says");
  const same = ruby('2.5.11');
  assert.equal(bundlerInstaller(same, rb31!), "Installing gems with Bundler 2.3.15 (Debian 12's); Gemfile.lock was BUNDLED WITH 2.5.11, the same major release, so not fetched");
  assert.equal(same.systemBundler, '2.3.15');
  assert.equal(bundlerInstaller(ruby(null, false), rb33!), "Installing gems with Bundler 2.6.7 (Debian 13's); no Gemfile.lock");
  assert.throws(
    () => bundlerInstaller(ruby('1.17.3'), rb33!),
    (e: Error) =>
      e instanceof DetectionError &&
      e.message === 'Gemfile.lock was BUNDLED WITH "1.17.3"; Ruby 3.3 (Debian 13) here has Bundler 2.6.7, another major release: relock with Bundler 2 (bundle update --bundler=2.6.7) and commit Gemfile.lock',
  );
  // An operator's image keeps Bundler's own rules (it may fetch the locked Bundler).
  const theirs = ruby('4.0.1');
  assert.equal(bundlerInstaller(theirs, null), "Installing gems with the image's Bundler; Gemfile.lock was BUNDLED WITH 4.0.1");
  assert.equal(theirs.systemBundler, undefined);
  assert.equal(bundlerInstaller({ ...ruby('2.6.7'), hasGems: false }, rb33!), null);
});

test('the Bundler step: path gems copied first; the stack\'s Bundler pinned (BUNDLE_VERSION, BUNDLER_VERSION) only on Berth\'s own stacks', async () => {
  const d = await detect(path.join(fixtures, 'ruby-bundler'));
  assert.doesNotMatch(generateDockerfile(d, { stackImage: 'r' }), /BUNDLE_VERSION/);
  bundlerInstaller(d.ruby!, rb33!);
  const file = generateDockerfile(d, { stackImage: 'r' });
  assert.match(file, /^ENV BUNDLE_VERSION=system BUNDLER_VERSION=2\.6\.7$/m);
  assert.match(file, /^COPY \["Gemfile","Gemfile\.lock","\.\/"\]\nCOPY \["vendor","\.\/vendor\/"\]\nRUN bundle install/m);
});

/** Python facts with nothing installed but what the test says. */
function facts_(over: Partial<PythonFacts>): PythonFacts {
  return { manager: 'pip', lockfile: null, installPaths: [], requirements: false, pyprojectDependencies: false, pipfilePackages: false, request: null, ...over };
}
