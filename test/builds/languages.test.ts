import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../support/server.js';
import { viaRouter } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { buildArchive, logText, packFixture, removeImages, tarGz, waitBuild } from './helpers.js';

/**
 * Source in every supported language (and a Dockerfile app) goes in; a running app that answers
 * at its hostname comes out: detect, generate, build, release, roll out, route.
 */
describe('build and deploy apps in every supported language', () => {
  let s: TestServer;
  let dev: BerthClient;
  const slugs = ['lang-python', 'lang-go', 'lang-ruby', 'lang-docker'];

  before(async () => {
    s = await startServer();
    dev = await s.newUser('polyglot');
    for (const slug of slugs) await dev.call('createApp', { body: { name: slug } });
  });
  after(async () => {
    await s?.destroy();
    await removeImages(slugs);
  });

  const cases: [slug: string, source: () => Promise<Buffer>, builder: string, answer: RegExp][] = [
    ['lang-python', () => packFixture('python-web'), 'python', /^hello from python uid=10001/],
    // go.mod's go line (1.19) is a minimum: the newest Go here builds it (test/builds/language-versions
    // covers a toolchain line and an older one).
    ['lang-go', () => packFixture('go-web'), 'go', /^hello from go uid=10001 go1\.27\.\d+$/m],
    ['lang-ruby', () => packFixture('ruby-web'), 'ruby', /^hello from ruby/],
    [
      'lang-docker',
      () =>
        tarGz([
          {
            name: 'Dockerfile',
            body: 'FROM berth/stack-python:bookworm\nCOPY serve.py /srv/serve.py\nUSER 10001\nCMD ["python3", "/srv/serve.py"]\n',
          },
          {
            name: 'serve.py',
            body: 'import os, http.server\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.end_headers(); self.wfile.write(b"hello from a Dockerfile\\n")\nhttp.server.HTTPServer(("", int(os.environ["PORT"])), H).serve_forever()\n',
          },
        ]),
      'dockerfile',
      /^hello from a Dockerfile/,
    ],
  ];

  test('each is detected, built, deployed and answers through the router', async () => {
    // All four at once: the queue runs two at a time, the rest wait their turn.
    const builds = await Promise.all(cases.map(async ([slug, source]) => buildArchive(dev, slug, await source())));
    await Promise.all(
      cases.map(async ([slug, , builder, answer], i) => {
        const b = await waitBuild(dev, builds[i].id, 420_000);
        assert.equal(b.status, 'succeeded', `${slug}: ${b.message}\n${await logText(dev, b.id)}`);
        assert.equal(b.builder, builder);
        if (slug === 'lang-go') {
          const log = await logText(dev, b.id);
          assert.ok(log.includes('Using Go 1.27 (Debian 13 backports), the newest here, as go.mod\'s go "1.19" is a minimum'), log);
        }
        const res = await waitFor(
          `${slug} to answer`,
          async () => {
            const r = await viaRouter(s.routerPort, `${slug}.localhost`);
            return r.status === 200 ? r : undefined;
          },
          { timeoutMs: 120_000, intervalMs: 250 },
        ).catch(async (err) => {
          // Say why: the releases (a failed one carries its reason and log) and the containers.
          const releases = (await dev.call('listReleases', { params: { id: slug } })).items.map((r) => `v${r.version} ${r.status} ${r.reason ?? ''}`);
          const ctrs = (await dev.call('listContainers', { query: { app: slug } })).items.map((c) => `${c.name} ${c.status} ${c.message ?? ''}`);
          throw new Error(`${(err as Error).message}\nreleases: ${releases.join(' | ')}\ncontainers: ${ctrs.join(' | ')}`);
        });
        assert.match(res.body, answer);
        // The new replica answers as soon as the router serves it; the release goes live a moment
        // later, once the rollout has finished its bookkeeping.
        await waitFor(
          `${slug} to be running`,
          async () => {
            const a = await dev.call('getApp', { params: { id: slug } });
            return a.status === 'running' ? a : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 100 },
        );
      }),
    );
  });
});
