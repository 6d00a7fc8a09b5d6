import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { LANGUAGE_LINES } from '../../src/config-stacks.js';
import { startServer, type TestServer } from '../support/server.js';
import { buildArchive, builtAndAnswering, logText, packFixture, removeImages, waitBuild } from './helpers.js';

const python = LANGUAGE_LINES.python[0]!;
const ruby = LANGUAGE_LINES.ruby[0]!;

/**
 * Python and Ruby apps install with the package manager their lockfile names, the stack's own
 * (Debian's): Poetry from poetry.lock, Pipenv from Pipfile.lock, Bundler checked against
 * Gemfile.lock's BUNDLED WITH. Each fixture depends on a local package (a vendored wheel, a path
 * gem) that only that manager puts on the app's path, and the running app reports who installed it
 * (the wheel's INSTALLER record, Bundler::VERSION): that is the stack's real version, held equal to
 * the one config-stacks.ts names and the build log prints. What the stack cannot honour (uv, which
 * Debian does not package; a Bundler of another major release) fails before anything is built.
 */
describe('package managers as the lockfile says', () => {
  let s: TestServer;
  let dev: BerthClient;
  const slugs = ['pm-poetry', 'pm-pipenv', 'pm-bundler', 'pm-bundler4', 'pm-uv'];

  before(async () => {
    s = await startServer();
    dev = await s.newUser('packager');
    for (const slug of slugs) await dev.call('createApp', { body: { name: slug } });
  });
  after(async () => {
    await s?.destroy();
    await removeImages(slugs);
  });

  test('Poetry, Pipenv and Bundler install from the lockfile, and the log says which and why', async () => {
    const cases = [
      {
        slug: 'pm-poetry',
        fixture: 'python-poetry',
        says: `Installing with Poetry ${python.tools!.poetry} (${python.source}'s) from poetry.lock (its main group; the project itself runs from /app)`,
        // Poetry's own installer writes its name and version in the wheel's INSTALLER record.
        answer: `greeter installed by Poetry ${python.tools!.poetry} on python ${python.line}.`,
        ran: /Installing dependencies from lock file/,
      },
      {
        slug: 'pm-pipenv',
        fixture: 'python-pipenv',
        says: `Installing with Pipenv ${python.tools!.pipenv} (${python.source}'s) from Pipfile.lock (--deploy: the build fails if it is out of date with the Pipfile)`,
        // Pipenv installs through pip, which writes its own name.
        answer: `greeter installed by pip on python ${python.line}.`,
        ran: /Installing dependencies from Pipfile\.lock/,
      },
      {
        slug: 'pm-bundler',
        fixture: 'ruby-bundler',
        says: `Installing gems with Bundler ${ruby.tools!.bundler} (${ruby.source}'s); Gemfile.lock was BUNDLED WITH 2.5.11, the same major release, so not fetched`,
        answer: `greeter loaded by Bundler ${ruby.tools!.bundler} on ruby ${ruby.line}.`,
        ran: /Bundle complete!/,
      },
    ];
    const builds = await Promise.all(cases.map(async (c) => buildArchive(dev, c.slug, await packFixture(c.fixture))));
    await Promise.all(
      cases.map(async (c, i) => {
        const { log, body } = await builtAndAnswering(dev, s.routerPort, c.slug, builds[i]!.id, 600_000);
        assert.ok(log.includes(`-----> ${c.says}`), `${c.slug}: the log says which manager and why\n${log}`);
        assert.match(log, c.ran, `${c.slug}: the manager's own output is in the log`);
        // The line's patch release is Debian's to move; the manager's version is what this test holds.
        assert.ok(body.startsWith(c.answer), `${c.slug}: ${body}`);
      }),
    );
    // Bundler did not try to fetch the Bundler the lockfile names.
    assert.doesNotMatch(await logText(dev, builds[2]!.id), /Installing Bundler 2\.5\.11/);
  });

  test('a lockfile the stack cannot honour fails the build before anything is built, naming the file and the versions', async () => {
    const lock4 = await packFixture('ruby-bundler', { 'Gemfile.lock': 'GEM\n  specs:\n\nBUNDLED WITH\n   4.0.1\n' });
    const uv = await packFixture('python-poetry', { 'uv.lock': 'version = 1\n' });
    const [bundler4, uvOnly] = await Promise.all([buildArchive(dev, 'pm-bundler4', lock4), buildArchive(dev, 'pm-uv', uv)]);
    const b4 = await waitBuild(dev, bundler4.id);
    assert.equal(b4.status, 'failed');
    assert.equal(
      b4.message,
      `Gemfile.lock was BUNDLED WITH "4.0.1"; Ruby ${ruby.line} (${ruby.source}) here has Bundler ${ruby.tools!.bundler}, another major release: ` +
        `relock with Bundler 2 (bundle update --bundler=${ruby.tools!.bundler}) and commit Gemfile.lock`,
    );
    const u = await waitBuild(dev, uvOnly.id);
    assert.equal(u.status, 'failed');
    assert.match(u.message ?? '', /^uv\.lock asks for uv, which Debian does not package, so Python 3\.13 \(Debian 13\) here has none: commit a requirements\.txt/);
    for (const b of [b4, u]) assert.doesNotMatch(await logText(dev, b.id), /Building image/);
  });
});
