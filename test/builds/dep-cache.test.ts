import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../support/server.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { buildArchive, logText, packFixture, removeImages, waitBuild } from './helpers.js';

// npm at its http log level names every tarball it fetches and whether its cache had it.
const NPMRC = 'loglevel=http\n';
// As npm writes them: with `resolved`, npm takes a cached tarball by its integrity without asking the registry.
const MS = { version: '2.1.3', resolved: 'https://registry.npmjs.org/ms/-/ms-2.1.3.tgz', integrity: 'sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==', license: 'MIT' };
const ESCAPE_HTML = { version: '1.0.3', resolved: 'https://registry.npmjs.org/escape-html/-/escape-html-1.0.3.tgz', integrity: 'sha512-NiSupZ4OeuGwr68lGIeym/ksIZMJodUGOSCZ/FSnTxcrekbvqrgdUxlJOMpijaKZVjAJrWrGs/6Jy8OMuyj9ow==', license: 'MIT' };

function nodeApp(deps: Record<string, { version: string; resolved: string; integrity: string; license: string }>): Record<string, string> {
  const dependencies = Object.fromEntries(Object.entries(deps).map(([n, d]) => [n, d.version]));
  const pkg = { name: 'node-web', version: '1.0.0', private: true, scripts: { start: 'node index.js' }, dependencies };
  const lock = {
    name: 'node-web',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: 'node-web', version: '1.0.0', dependencies }, ...Object.fromEntries(Object.entries(deps).map(([n, d]) => [`node_modules/${n}`, d])) },
  };
  return { '.npmrc': NPMRC, 'package.json': JSON.stringify(pkg, null, 2), 'package-lock.json': JSON.stringify(lock, null, 2) };
}

/** The tarballs npm downloaded (its cache did not have them): package names. */
const downloaded = (log: string) => [...log.matchAll(/npm http fetch GET 200 \S+\/-\/([a-z0-9-]+)-[0-9.]+\.tgz .*\(cache miss\)/g)].map((m) => m[1]!).sort();
/** Every registry request npm made, cached or not (packuments and tarballs). */
const requested = (log: string) => [...log.matchAll(/npm http fetch GET \d+ https:\/\/registry\.npmjs\.org\/([a-z0-9-]+)/g)].map((m) => m[1]!).sort();

/**
 * Download caches persist between a project's builds (issue 21): after a lockfile change, npm
 * downloads only the package that changed. And they are the project's: its directory goes with it.
 */
describe('dependency downloads are cached between builds', () => {
  let s: TestServer;
  let dev: BerthClient;
  const slug = `depcache-${uniqueSuffix()}`;
  let projectId: string;

  before(async () => {
    s = await startServer();
    dev = await s.newUser('cacher');
    projectId = (await dev.call('createProject', { body: { name: `dc-${uniqueSuffix()}` } })).id;
    await dev.call('createApp', { body: { name: 'depcache', slug, project: projectId, auto_deploy: false } });
  });
  after(async () => {
    await s?.destroy();
    await removeImages([slug]);
  });

  test('a rebuild after adding a dependency downloads only that package; deleting the project removes its cache', async () => {
    const first = await waitBuild(dev, (await buildArchive(dev, slug, await packFixture('node-web', nodeApp({ ms: MS })))).id, 420_000);
    const firstLog = await logText(dev, first.id);
    assert.equal(first.status, 'succeeded', `${first.message}\n${firstLog}`);
    assert.match(firstLog, /RUN --mount=type=cache,id=npm,target=\/root\/\.npm npm ci/);
    assert.deepEqual(downloaded(firstLog), ['ms'], firstLog);

    const second = await waitBuild(dev, (await buildArchive(dev, slug, await packFixture('node-web', nodeApp({ ms: MS, 'escape-html': ESCAPE_HTML })))).id, 420_000);
    const secondLog = await logText(dev, second.id);
    assert.equal(second.status, 'succeeded', `${second.message}\n${secondLog}`);
    assert.deepEqual(downloaded(secondLog), ['escape-html'], secondLog);
    // ms was installed (two packages) without a request for it: from the cache, by its integrity.
    assert.deepEqual(requested(secondLog), ['escape-html'], secondLog);
    assert.match(secondLog, /^added 2 packages/m, secondLog);

    // Where the files are: the project's own directory, which goes with the project.
    const dir = join(s.env.BERTH_BUILD_STORE || '/var/lib/berth-buildah', 'caches', s.instance, projectId);
    assert.ok(existsSync(join(dir, 'buildah-cache', 'npm')), `${dir} holds the npm cache`);
    await dev.call('deleteApp', { params: { id: slug }, query: {} });
    await waitFor('the app to be deleted', async () => ((await dev.call('listApps', { query: { project: projectId } })).items.length === 0 ? true : undefined), { timeoutMs: 60_000 });
    await dev.call('deleteProject', { params: { id: projectId } });
    await waitFor('the project cache to be removed', async () => (existsSync(dir) ? undefined : true), { timeoutMs: 30_000 });
  });
});
