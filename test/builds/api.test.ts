import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { BerthClient } from '../../src/client/index.js';
import { listSourceFiles, packTarGz } from '../../src/cli/pack.js';
import { ENGINES, startServer, type TestServer } from '../support/server.js';
import { viaRouter } from '../support/load.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { NODE_WEB, buildArchive, builtRepo, collectWs, logText, rejects, removeImages, tarGz, upload, waitBuild } from './helpers.js';

/** Archive builds through the API on both databases: the happy path, refusals and access rules. */
for (const engine of ENGINES) {
  describe(`builds API on ${engine}`, () => {
    let s: TestServer;
    let dev: BerthClient;
    let viewer: BerthClient;
    let stranger: BerthClient;
    const slug = `nw-${uniqueSuffix()}`;

    before(async () => {
      // A small upload limit so the 413 test does not need a big body.
      s = await startServer({ engine, env: { BERTH_BUILD_MAX_UPLOAD_BYTES: String(2 * 1024 * 1024) } });
      dev = await s.newUser('dev');
      viewer = await s.newUser('viewer');
      stranger = await s.newUser('stranger');
      await dev.call('createProject', { body: { name: 'shop' } });
      await dev.call('addMember', { params: { id: 'shop' }, body: { username: 'viewer', role: 'viewer' } });
      await dev.call('createApp', { body: { name: slug, project: 'shop' } });
    });
    after(async () => {
      await s?.destroy();
      await removeImages([slug]);
    });

    test('an uploaded Node.js app builds with the node builder, a readable Dockerfile and an npm step, and is deployed', async () => {
      const archive = await packTarGz(NODE_WEB, await listSourceFiles(NODE_WEB));
      const queued = await buildArchive(dev, slug, archive);
      assert.equal(queued.status, 'queued');
      assert.equal(queued.number, 1);
      assert.equal(queued.image, `${await builtRepo(dev, slug)}:1`);
      const b = await waitBuild(dev, queued.id);
      const log = await logText(dev, b.id);
      assert.equal(b.status, 'succeeded', `${b.message}\n${log}`);
      assert.equal(b.builder, 'node');
      assert.ok(b.started_at && b.finished_at && b.duration_s !== null);
      assert.match(log, /npm (ci|install)/, 'the log shows the npm step');
      assert.match(log, /Successfully tagged/);
      const df = await dev.call('getBuildDockerfile', { params: { id: b.id } });
      assert.equal(df.generated, true);
      assert.match(df.dockerfile!, /^FROM /m);
      assert.match(df.dockerfile!, /npm/);
      // A viewer may read builds; the list shows it.
      const list = await viewer.call('listBuilds', { params: { id: slug } });
      assert.equal(list.items[0].id, b.id);

      // Auto-deploy: the build becomes a release, and (with the app controller) the app answers.
      const built = await waitFor('the release', async () => (await dev.call('getBuild', { params: { id: b.id } })).release_id ?? undefined);
      const rel = await dev.call('listReleases', { params: { id: slug } });
      const mine = rel.items.find((r) => r.id === built);
      assert.ok(mine, 'the release of the build exists');
      assert.equal(mine.image, `${await builtRepo(dev, slug)}:1`);
      assert.match(mine.description, /^Build #1/);
      const app = await waitFor('the rollout', async () => {
        const a = await dev.call('getApp', { params: { id: slug } });
        return a.status === 'deploying' ? undefined : a;
      }, { timeoutMs: 120_000, intervalMs: 250 });
      assert.equal(app.status, 'running');
      const res = await waitFor('the app to answer', async () => {
        const r = await viaRouter(s.routerPort, `${slug}.localhost`);
        return r.status === 200 ? r : undefined;
      }, { timeoutMs: 30_000, intervalMs: 250 });
      assert.match(res.body, /hello from node 1m uid=10001/);

      // The same build deployed again by its id makes a new release of its image; another app cannot use it.
      const again = await dev.call('deployApp', { params: { id: slug }, body: { build_id: b.id } });
      assert.equal(again.build_id, b.id);
      assert.equal(again.image, `${await builtRepo(dev, slug)}:1`);
      await dev.call('createApp', { body: { name: `${slug}-other` } });
      await assert.rejects(dev.call('deployApp', { params: { id: `${slug}-other` }, body: { build_id: b.id } }), /not found/);

      // The finished build's log socket replays everything, then the status, then closes normally.
      const ws = await collectWs(s.url, b.id, dev.opts.token!, 'query');
      assert.equal(ws.code, 1000);
      const lines = ws.messages.filter((m) => m.type === 'line');
      assert.deepEqual(lines.map((m) => m.seq), lines.map((_, i) => i + 1));
      assert.equal(ws.messages.at(-1)!.type, 'status');
      assert.equal(ws.messages.at(-1)!.status, 'succeeded');
    });

    test('upload refusals: traversal and links out are 400, garbage is 400, over the limit is 413, twice is 409', async () => {
      const cases: [string, Buffer, number, RegExp][] = [
        ['traversal', await tarGz([{ name: 'package.json', body: '{}' }, { name: '../evil.txt', body: 'x' }]), 400, /evil|outside|\.\./],
        ['absolute', await tarGz([{ name: '/etc/evil', body: 'x' }]), 400, /evil|absolute/],
        ['link out', await tarGz([{ name: 'l', type: 'symlink', linkname: '/etc/passwd' }]), 400, /link|outside/],
        ['garbage', randomBytes(4096), 400, /./],
        ['too large', randomBytes(3 * 1024 * 1024), 413, /limit/],
      ];
      for (const [what, body, status, msg] of cases) {
        const b = await dev.call('createBuild', { params: { id: slug } });
        const up = await upload(dev, b.id, body);
        assert.equal(up.status, status, `${what}: ${JSON.stringify(up.json)}`);
        assert.match(up.json.error.message, msg, what);
        assert.equal((await dev.call('getBuild', { params: { id: b.id } })).status, 'pending', `${what}: the build still waits for a good upload`);
        await dev.call('cancelBuild', { params: { id: b.id } });
      }
      // Refused on its declared size, the body is still read to its end: the client sees the 413
      // every time, never a connection reset while it sends (fetch failed so about 3 times in 100).
      const tooLarge = await dev.call('createBuild', { params: { id: slug } });
      const big = randomBytes(3 * 1024 * 1024);
      for (let i = 0; i < 30; i++) assert.equal((await upload(dev, tooLarge.id, big)).status, 413, `upload ${i + 1} of 30`);
      await dev.call('cancelBuild', { params: { id: tooLarge.id } });
      const b = await dev.call('createBuild', { params: { id: slug } });
      const wrongType = await upload(dev, b.id, await tarGz([{ name: 'a', body: 'b' }]), 'text/plain');
      assert.equal(wrongType.status, 415);
      const good = await tarGz([{ name: 'Dockerfile', body: 'FROM berth/base:bookworm\nCMD ["true"]\n' }]);
      assert.equal((await upload(dev, b.id, good)).status, 200);
      const again = await upload(dev, b.id, good);
      assert.equal(again.status, 409);
      await waitBuild(dev, b.id);
    });

    test('hostile git URLs and branches are 400 naming the field', async () => {
      for (const repo_url of ['file:///etc', 'ext::sh -c touch% /tmp/pwned', '/srv/repo.git', '../repo', '--upload-pack=touch /tmp/x', 'ftp://host/repo', '']) {
        const e = await rejects(dev.call('createGitBuild', { params: { id: slug }, body: { repo_url } }), 400);
        assert.equal((e.details as { field: string }).field, 'repo_url', repo_url);
      }
      for (const branch of ['--orphan', 'a..b', 'x y', 'a:b', 'refs/heads/x.lock']) {
        const e = await rejects(dev.call('createGitBuild', { params: { id: slug }, body: { repo_url: 'https://example.com/r.git', branch } }), 400);
        assert.equal((e.details as { field: string }).field, 'branch', branch);
      }
      assert.equal((await dev.call('listBuilds', { params: { id: slug } })).items.filter((b) => b.source === 'git').length, 0);
    });

    test('a viewer cannot create or cancel builds (403); a non-member sees none of them (404)', async () => {
      await rejects(viewer.call('createBuild', { params: { id: slug } }), 403);
      await rejects(viewer.call('createGitBuild', { params: { id: slug }, body: { repo_url: 'https://example.com/r.git' } }), 403);
      const b = await dev.call('createBuild', { params: { id: slug } });
      await rejects(viewer.call('cancelBuild', { params: { id: b.id } }), 403);
      const v = await upload(viewer, b.id, await tarGz([{ name: 'a', body: 'b' }]));
      assert.equal(v.status, 403);
      await rejects(stranger.call('createBuild', { params: { id: slug } }), 404);
      await rejects(stranger.call('listBuilds', { params: { id: slug } }), 404);
      for (const call of [
        () => stranger.call('getBuild', { params: { id: b.id } }),
        () => stranger.call('getBuildLog', { params: { id: b.id } }),
        () => stranger.call('getBuildDockerfile', { params: { id: b.id } }),
        () => stranger.call('cancelBuild', { params: { id: b.id } }),
      ]) {
        await rejects(call(), 404);
      }
      const s404 = await upload(stranger, b.id, await tarGz([{ name: 'a', body: 'b' }]));
      assert.equal(s404.status, 404);
      await assert.rejects(collectWs(s.url, b.id, stranger.opts.token!), (e: { status?: number }) => e.status === 404);
      await assert.rejects(collectWs(s.url, b.id, 'berth_wrong'), (e: { status?: number }) => e.status === 401);
      const c = await dev.call('cancelBuild', { params: { id: b.id } });
      assert.equal(c.status, 'canceled');
      await rejects(dev.call('cancelBuild', { params: { id: b.id } }), 409);
    });
  });
}
