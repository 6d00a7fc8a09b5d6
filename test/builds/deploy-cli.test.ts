import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { run, runOk } from '../../src/lib/exec.js';
import { isIgnored, listSourceFiles, parseIgnore } from '../../src/cli/pack.js';
import { CLI_MAIN, startServer, type TestServer } from '../support/server.js';
import { viaRouter } from '../support/load.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { NODE_WEB, removeImages } from './helpers.js';

describe('packing a directory for berth deploy', () => {
  test('ignore rules: globs, anchors, folders, negation', () => {
    const r = parseIgnore('# comment\n*.log\n/build\nnode_modules/\n!keep.log\ndocs/**/*.tmp\n');
    assert.ok(isIgnored(r, 'a.log', false));
    assert.ok(isIgnored(r, 'sub/b.log', false));
    assert.ok(!isIgnored(r, 'keep.log', false));
    assert.ok(isIgnored(r, 'build/x.js', false));
    assert.ok(!isIgnored(r, 'src/build/x.js', false), '/build is anchored at the root');
    assert.ok(isIgnored(r, 'node_modules/ms/index.js', false));
    assert.ok(isIgnored(r, 'a/node_modules/x', false));
    assert.ok(!isIgnored(r, 'node_modules', false), 'a trailing slash matches folders only');
    assert.ok(isIgnored(r, 'docs/a/b/c.tmp', false));
    assert.ok(!isIgnored(r, 'index.js', false));
  });

  for (const kind of ['plain directory', 'git work tree'] as const) {
    test(`a ${kind}: .gitignore and .berthignore are respected, .git never sent`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'berth-pack-'));
      try {
        writeFileSync(join(dir, 'index.js'), '1');
        writeFileSync(join(dir, '.gitignore'), 'node_modules/\n*.log\n');
        writeFileSync(join(dir, '.berthignore'), 'secrets/\n');
        mkdirSync(join(dir, 'node_modules/x'), { recursive: true });
        writeFileSync(join(dir, 'node_modules/x/i.js'), '1');
        mkdirSync(join(dir, 'secrets'));
        writeFileSync(join(dir, 'secrets/key'), 'k');
        mkdirSync(join(dir, 'lib'));
        writeFileSync(join(dir, 'lib/a.js'), '1');
        writeFileSync(join(dir, 'debug.log'), '1');
        if (kind === 'git work tree') await runOk('git', ['init', '-q'], { cwd: dir, timeoutMs: 10_000 });
        assert.deepEqual(await listSourceFiles(dir), ['.berthignore', '.gitignore', 'index.js', 'lib/a.js']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('berth deploy', () => {
  let s: TestServer;
  let dev: BerthClient;
  let home: string;
  const slug = `cli-${uniqueSuffix()}`;
  const berth = (cwd: string, ...args: string[]) =>
    run(process.execPath, [CLI_MAIN, ...args], {
      cwd,
      timeoutMs: 300_000,
      env: { ...process.env, BERTH_CONFIG: join(home, 'config.json'), BERTH_URL: s.url, BERTH_TOKEN: dev.opts.token },
    });

  before(async () => {
    s = await startServer();
    dev = await s.newUser('dev');
    home = mkdtempSync(join(tmpdir(), 'berth-cli-'));
    cpSync(NODE_WEB, join(home, 'app'), { recursive: true });
    mkdirSync(join(home, 'app/node_modules/junk'), { recursive: true });
    writeFileSync(join(home, 'app/node_modules/junk/x.js'), 'not sent');
    writeFileSync(join(home, 'app/.gitignore'), 'node_modules/\n');
    writeFileSync(join(home, 'app/.berthignore'), 'notes.txt\n');
    writeFileSync(join(home, 'app/notes.txt'), 'not sent');
    await dev.call('createApp', { body: { name: slug } });
  });
  after(async () => {
    await s?.destroy();
    rmSync(home, { recursive: true, force: true });
    await removeImages([slug]);
  });

  test('deploys a directory: packs it, follows the build log, waits for the rollout and prints the URL', async () => {
    const res = await berth(home, 'deploy', 'app', '--app', slug);
    const out = res.stdout + res.stderr;
    assert.equal(res.code, 0, out);
    assert.match(out, /-----> Packed 5 files from app/, 'package.json, package-lock.json, index.js, .gitignore, .berthignore');
    assert.match(out, /npm (ci|install)/);
    assert.match(out, /-----> Build succeeded/);
    const app = await dev.call('getApp', { params: { id: slug } });
    assert.ok(out.includes(`Deployed ${slug} (v1): ${app.url}`), out);
    const r = await waitFor('the app to answer', async () => {
      const x = await viaRouter(s.routerPort, `${slug}.localhost`);
      return x.status === 200 ? x : undefined;
    });
    assert.match(r.body, /hello from node/);
  });

  test('--json prints one result for scripts; builds, info, logs and dockerfile show the build', async () => {
    const res = await berth(join(home, 'app'), '--json', 'deploy', '--app', slug);
    assert.equal(res.code, 0, res.stderr);
    const result = JSON.parse(res.stdout);
    assert.equal(result.build.status, 'succeeded');
    assert.equal(result.build.number, 2);
    assert.equal(result.app.slug, slug);
    const list = await berth(home, 'builds', slug);
    assert.match(list.stdout, /^2\s+bld_\S+\s+succeeded/m);
    assert.match((await berth(home, 'builds', 'info', result.build.id)).stdout, /Builder:\s+node/);
    assert.match((await berth(home, 'builds', 'logs', result.build.id)).stdout, /Successfully tagged/);
    assert.match((await berth(home, 'builds', 'dockerfile', result.build.id)).stdout, /^FROM berth\/stack-node/m);
    const done = await berth(home, 'builds', 'cancel', result.build.id);
    assert.notEqual(done.code, 0);
    assert.match(done.stderr, /already succeeded/);
  });

  test('a release that fails after a live one: berth deploy exits 1 with the reason, not "Deployed" with the old version', async () => {
    writeFileSync(join(home, 'app/index.js'), "console.error('cannot start: DATABASE_URL is not set');\nprocess.exit(3);\n");
    const res = await berth(join(home, 'app'), 'deploy', '--app', slug);
    const out = res.stdout + res.stderr;
    assert.equal(res.code, 1, out);
    assert.match(out, /-----> Build succeeded/);
    const rel = await dev.call('getRelease', { params: { id: slug, version: 3 } });
    assert.equal(rel.status, 'failed');
    assert.ok(out.includes(`v3 of ${slug} failed: ${rel.reason!.split('\n')[0].trim()}`), out);
    assert.ok(!out.includes('Deployed'), out);
    assert.equal((await dev.call('getApp', { params: { id: slug } })).release, 2, 'v2 still serves');
  });
});
