import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { runOk } from '../../src/lib/exec.js';
import { startServer, type TestServer } from '../support/server.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { buildArchive, builtRepo, logText, removeImages, tarGz, waitBuild } from '../builds/helpers.js';

const SERVE = (v: number) =>
  `import os, http.server\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.end_headers(); self.wfile.write(b"v${v}\\n")\nhttp.server.HTTPServer(("", int(os.environ["PORT"])), H).serve_forever()\n`;
const source = (v: number) =>
  tarGz([
    { name: 'Dockerfile', body: 'FROM berth/stack-python:bookworm\nCOPY serve.py /srv/serve.py\nUSER 10001\nCMD ["python3", "/srv/serve.py"]\n' },
    { name: 'serve.py', body: SERVE(v) },
  ]);

/** 15 real builds and deploys with BERTH_IMAGE_KEEP=3, then garbage collection on the real engine. */
describe('image garbage collection across 15 deploys', () => {
  let s: TestServer;
  let dev: BerthClient;
  const slug = `gc-${uniqueSuffix()}`;
  let repo = '';
  const onEngine = async () =>
    (await runOk('docker', ['image', 'ls', '--format', '{{.Tag}}', repo], { timeoutMs: 30_000 })).stdout
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .sort((a, b) => a - b);
  const live = (version: number) =>
    waitFor(`v${version} live`, async () => {
      const r = await dev.call('getRelease', { params: { id: slug, version } });
      if (r.status === 'failed') throw new Error(`v${version} failed: ${r.reason}`);
      return r.status === 'live';
    }, { timeoutMs: 120_000, intervalMs: 200 });

  before(async () => {
    s = await startServer({ env: { BERTH_IMAGE_KEEP: '3' } });
    dev = await s.newUser('dev');
    await dev.call('createApp', { body: { name: slug } });
    repo = await builtRepo(dev, slug);
  });
  after(async () => {
    await s?.destroy();
    await removeImages([slug]);
  });

  test('15 deploys; prune keeps the last 3 releases’ images; after a rollback it keeps the live and rollback images', async () => {
    for (let v = 1; v <= 15; v++) {
      const b = await waitBuild(dev, (await buildArchive(dev, slug, await source(v))).id);
      assert.equal(b.status, 'succeeded', `${b.message}\n${await logText(dev, b.id)}`);
      await live(v);
    }
    assert.deepEqual(await onEngine(), Array.from({ length: 15 }, (_, i) => i + 1));
    const listed = await dev.call('listImages', { query: { app: slug } });
    assert.equal(listed.keep_releases, 3);
    assert.equal(listed.items.length, 15);
    const v15 = listed.items.find((i) => i.image === `${repo}:15`)!;
    assert.deepEqual([v15.source, v15.build?.number, v15.releases, v15.live, v15.kept, v15.present], ['build', 15, [15], true, true, true]);
    assert.ok(v15.size! > 0);
    assert.equal(listed.items.filter((i) => i.kept).length, 3);

    const pruned = await dev.call('pruneImages', { body: { app: slug } });
    assert.deepEqual(pruned.removed.map((r) => r.image).sort(), Array.from({ length: 12 }, (_, i) => `${repo}:${i + 1}`).sort());
    assert.deepEqual(await onEngine(), [13, 14, 15]);

    // Roll back to v14: v16 runs v14's image; the last 3 releases are v14..v16, v15 is the rollback target, v13 goes.
    const rb = await dev.call('rollbackApp', { params: { id: slug }, body: { release: 14 } });
    await live(rb.version);
    const again = await dev.call('pruneImages', { body: { app: slug } });
    assert.deepEqual(again.removed.map((r) => r.image), [`${repo}:13`]);
    assert.ok(again.freed_bytes >= 0);
    assert.deepEqual(await onEngine(), [14, 15]);
    assert.deepEqual((await dev.call('pruneImages', {body: { app: slug } })).removed, []);
    const after = await dev.call('listImages', { query: { app: slug } });
    assert.deepEqual(after.items.filter((i) => i.present).map((i) => i.image).sort(), [`${repo}:14`, `${repo}:15`]);
    assert.deepEqual(after.items.find((i) => i.image === `${repo}:14`)!.releases, [14, 16]);
  });
});
