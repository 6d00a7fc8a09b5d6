import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../support/server.js';
import { buildArchive, builtAndAnswering, logText, packFixture, removeImages, tarGz, waitBuild } from './helpers.js';

const SERVER = "require('http').createServer((q, r) => r.end('node ' + process.version)).listen(process.env.PORT);\n";
const app = (files: Record<string, string>) =>
  tarGz(Object.entries({ 'server.js': SERVER, ...files }).map(([name, body]) => ({ name, body })));

/**
 * An app chooses its Node.js line where its ecosystem writes it; the build says which it got and
 * why, and the running app reports that version. A version the server does not offer fails the build
 * at once with the file, the version and what is on offer.
 */
describe('Node.js versions chosen per app', () => {
  let s: TestServer;
  let dev: BerthClient;
  const slugs = ['node-22', 'node-default', 'node-future', 'node-yarn', 'node-pnpm'];

  before(async () => {
    s = await startServer();
    dev = await s.newUser('noder');
    for (const slug of slugs) await dev.call('createApp', { body: { name: slug } });
  });
  after(async () => {
    await s?.destroy();
    await removeImages(slugs);
  });

  test('engines.node 22.x runs on Node.js 22; an app asking nothing runs on 24', async () => {
    const cases = [
      { slug: 'node-22', files: { 'package.json': '{"name":"a","main":"server.js","engines":{"node":"22.x"}}' }, version: 'v22.23.5', why: /Using Node\.js 22\.23\.5, the newest here that satisfies "22\.x" from package\.json engines\.node/ },
      { slug: 'node-default', files: { 'package.json': '{"name":"b","main":"server.js"}' }, version: 'v24.22.3', why: /Using Node\.js 24\.22\.3, the default/ },
    ];
    const builds = await Promise.all(cases.map(async (c) => buildArchive(dev, c.slug, await app(c.files))));
    await Promise.all(
      cases.map(async (c, i) => {
        const { log, body } = await builtAndAnswering(dev, s.routerPort, c.slug, builds[i]!.id, 420_000);
        assert.match(log, c.why);
        assert.equal(body, `node ${c.version}`);
      }),
    );
  });

  test('Yarn and pnpm install exactly what their lockfiles say', async () => {
    // Both lockfiles pin ms 2.1.2 where package.json allows ^2.1.0: npm install would take 2.1.3.
    const cases = [
      { slug: 'node-yarn', manager: /Using Node\.js 24\.22\.3, the default .*, installing with Yarn/, step: /yarn install --non-interactive --frozen-lockfile/ },
      { slug: 'node-pnpm', manager: /Using Node\.js 22\.23\.5, .*, installing with pnpm/, step: /pnpm install --frozen-lockfile/ },
    ];
    const builds = await Promise.all(cases.map(async (c) => buildArchive(dev, c.slug, await packFixture(c.slug))));
    await Promise.all(
      cases.map(async (c, i) => {
        const { log, body } = await builtAndAnswering(dev, s.routerPort, c.slug, builds[i]!.id, 420_000);
        assert.match(log, c.manager);
        assert.match(log, c.step);
        assert.equal(body, 'ms 2.1.2');
      }),
    );
  });

  test('a version the server does not offer fails the build before anything is built', async () => {
    const b = await waitBuild(dev, (await buildArchive(dev, 'node-future', await app({ '.nvmrc': '99\n', 'package.json': '{"name":"c","main":"server.js"}' }))).id);
    assert.equal(b.status, 'failed');
    assert.equal(b.message, '.nvmrc asks for Node.js "99"; this server builds with Node.js 24.22.3, 22.23.5, 18.20.4');
    assert.doesNotMatch(await logText(dev, b.id), /Building image/);
  });
});
