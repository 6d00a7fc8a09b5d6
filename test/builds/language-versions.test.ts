import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { CLI_MAIN, startServer, type TestServer } from '../support/server.js';
import { run } from '../../src/lib/exec.js';
import { buildArchive, builtAndAnswering, logText, packFixture, removeImages, waitBuild } from './helpers.js';

/**
 * Python, Go and Ruby apps choose their line where their ecosystem writes it, as Node.js apps do:
 * the build log and the generated Dockerfile's header say which it got and why, and the running app
 * reports the version it runs on. Each fixture asks for a line other than the default (the default lines,
 * and go.mod's go line taken as a minimum the newest Go meets, run test/builds/languages' fixtures). A version the server does not offer fails the build at once with the file, the
 * version and what is on offer.
 */
describe('Python, Go and Ruby versions chosen per app', () => {
  let s: TestServer;
  let dev: BerthClient;
  const slugs = ['py-311', 'go-125', 'rb-31', 'py-future'];

  before(async () => {
    s = await startServer();
    dev = await s.newUser('versioner');
    for (const slug of slugs) await dev.call('createApp', { body: { name: slug } });
  });
  after(async () => {
    await s?.destroy();
    await removeImages(slugs);
  });

  test('each app runs on the line it asked for, and the build log and its Dockerfile say why', async () => {
    const cases = [
      { slug: 'py-311', source: () => packFixture('python-311'), answer: /^python 3\.11\.\d+$/, why: 'Python 3.11 (Debian 12), the newest here that satisfies "3.11" from .python-version' },
      { slug: 'go-125', source: () => packFixture('go-125'), answer: /^go go1\.25\.\d+$/, why: 'Go 1.25 (Debian 13 backports), the line of go.mod\'s toolchain "go1.25.0"' },
      { slug: 'rb-31', source: () => packFixture('ruby-31'), answer: /^ruby 3\.1\.\d+$/, why: 'Ruby 3.1 (Debian 12), the newest here that satisfies "~> 3.1.0" from Gemfile' },
    ];
    const builds = await Promise.all(cases.map(async (c) => buildArchive(dev, c.slug, await c.source())));
    await Promise.all(
      cases.map(async (c, i) => {
        const { log, body } = await builtAndAnswering(dev, s.routerPort, c.slug, builds[i]!.id, 600_000);
        assert.ok(log.includes(`Using ${c.why}`), `${c.slug}: the log says why\n${log}`);
        assert.match(body, c.answer, c.slug);
        // `berth builds dockerfile` shows the generated Dockerfile, whose header carries the same line.
        const { dockerfile } = await dev.call('getBuildDockerfile', { params: { id: builds[i]!.id } });
        assert.ok(dockerfile?.split('\n')[0]!.endsWith(`; ${c.why}.`), `${c.slug}: the Dockerfile header says why\n${dockerfile}`);
        // And the build itself: `berth builds info` shows it as its runtime.
        const info = await run(process.execPath, [CLI_MAIN, 'builds', 'info', builds[i]!.id], { timeoutMs: 60_000, env: { ...process.env, BERTH_URL: s.url, BERTH_TOKEN: dev.opts.token! } });
        const runtime = /^Runtime:\s+(.*)$/m.exec(info.stdout)?.[1];
        assert.ok(runtime?.startsWith(c.why), `${c.slug}: berth builds info shows the runtime\n${info.stdout}${info.stderr}`);
        assert.equal((await dev.call('getBuild', { params: { id: builds[i]!.id } })).runtime, runtime);
      }),
    );
  });

  test('a version the server does not offer fails the build before anything is built', async () => {
    const b = await waitBuild(dev, (await buildArchive(dev, 'py-future', await packFixture('python-311', { '.python-version': '3.12\n' }))).id);
    assert.equal(b.status, 'failed');
    assert.equal(b.message, '.python-version asks for Python "3.12"; this server builds with Python 3.13, 3.11');
    assert.doesNotMatch(await logText(dev, b.id), /Building image/);
  });
});
