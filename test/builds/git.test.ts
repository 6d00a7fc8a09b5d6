import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { run, runOk } from '../../src/lib/exec.js';
import { startServer, type TestServer } from '../support/server.js';
import { uniqueSuffix } from '../support/wait.js';
import { NODE_WEB, builtRepo, logText, removeImages, waitBuild } from './helpers.js';

const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', GIT_CONFIG_NOSYSTEM: '1', HOME: tmpdir() };
const git = (cwd: string, ...args: string[]) => run('git', ['-c', 'credential.helper=', ...args], { cwd, timeoutMs: 300_000, env: gitEnv });

/** The apps' git remotes over smart HTTP: push to build, and a git URL build from another app's remote. */
describe('git push and git URL builds', () => {
  let s: TestServer;
  let dev: BerthClient;
  let viewer: BerthClient;
  let work: string;
  let head: string;
  const a = `push-${uniqueSuffix()}`;
  const b = `gurl-${uniqueSuffix()}`;
  const remote = (slug: string, token?: string) => `${new URL(s.url).protocol}//${token ? `git:${token}@` : ''}${new URL(s.url).host}/git/${slug}.git`;

  before(async () => {
    // The repositories are this server's own git remotes, on loopback: allowed for this test only.
    s = await startServer({ egressAllow: '127.0.0.1/32' });
    dev = await s.newUser('dev');
    viewer = await s.newUser('viewer');
    await dev.call('createProject', { body: { name: 'code' } });
    await dev.call('addMember', { params: { id: 'code' }, body: { username: 'viewer', role: 'viewer' } });
    await dev.call('createApp', { body: { name: a, project: 'code' } });
    await dev.call('createApp', { body: { name: b, project: 'code', auto_deploy: false } });
    work = mkdtempSync(join(tmpdir(), 'berth-push-'));
    cpSync(NODE_WEB, work, { recursive: true });
    await runOk('git', ['init', '-q', '-b', 'main'], { cwd: work, timeoutMs: 10_000 });
    await runOk('git', ['add', '.'], { cwd: work, timeoutMs: 10_000 });
    await runOk('git', ['-c', 'user.name=Ada Lovelace', '-c', 'user.email=ada@example.com', 'commit', '-qm', 'First version'], { cwd: work, timeoutMs: 10_000 });
    head = (await runOk('git', ['rev-parse', 'HEAD'], { cwd: work, timeoutMs: 10_000 })).stdout.trim();
  });
  after(async () => {
    await s?.destroy();
    rmSync(work, { recursive: true, force: true });
    await removeImages([a, b]);
  });

  test('a push needs a token with developer rights', async () => {
    const anon = await git(work, 'push', remote(a), 'main');
    assert.notEqual(anon.code, 0);
    assert.match(anon.stderr, /Authentication failed|could not read Username|401/);
    const bad = await git(work, 'push', remote(a, 'berth_wrong'), 'main');
    assert.notEqual(bad.code, 0);
    const ro = await git(work, 'push', remote(a, viewer.opts.token), 'main');
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /403/);
    assert.equal((await dev.call('listBuilds', { params: { id: a } })).items.length, 0);
  });

  test('git push to main builds the pushed commit, shows the build log, waits for the release and prints its URL', async () => {
    const push = await git(work, 'push', remote(a, dev.opts.token), 'main');
    const out = push.stderr + push.stdout;
    assert.equal(push.code, 0, out);
    assert.match(out, /remote: -----> Build #1 queued for/);
    assert.match(out, /remote: .*npm (ci|install)/);
    assert.match(out, new RegExp(`remote: Successfully tagged ${await builtRepo(dev, a)}:1`));
    const app = await dev.call('getApp', { params: { id: a } });
    // The push returns once the release is live, not while it rolls out.
    assert.ok(out.includes(`remote: -----> v1 released: ${app.url}`), out);
    assert.equal(app.status, 'running');
    assert.equal(app.release, 1);
    const [build] = (await dev.call('listBuilds', { params: { id: a } })).items;
    assert.equal(build.source, 'push');
    assert.equal(build.status, 'succeeded');
    assert.equal(build.commit_sha, head);
    assert.equal(build.commit_message, 'First version');
    assert.equal(build.committer, 'Ada Lovelace <ada@example.com>');
    assert.equal(build.builder, 'node');
    // The short-lived push token is gone once the push is over.
    const tokens = await dev.call('listTokens');
    assert.ok(!tokens.items.some((t) => t.name.startsWith('git push')), JSON.stringify(tokens.items));
  });

  test('a push to another branch is stored but not built; a viewer can clone', async () => {
    const push = await git(work, 'push', remote(a, dev.opts.token), 'main:feature');
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stderr, /nothing to build/);
    assert.equal((await dev.call('listBuilds', { params: { id: a } })).items.length, 1);
    const dir = mkdtempSync(join(tmpdir(), 'berth-clone-'));
    try {
      const clone = await git(dir, 'clone', '-q', remote(a, viewer.opts.token), 'c');
      assert.equal(clone.code, 0, clone.stderr);
      assert.equal((await runOk('git', ['rev-parse', 'HEAD'], { cwd: join(dir, 'c'), timeoutMs: 10_000 })).stdout.trim(), head);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a git URL build clones another app's remote over smart HTTP with a vendor account, records the commit and hides the token", async () => {
    // A token inside the URL is refused: credentials live in vendor accounts only.
    await assert.rejects(
      dev.call('createGitBuild', { params: { id: b }, body: { repo_url: remote(a, dev.opts.token), branch: 'main' } }),
      (e: { status: number; details?: { field: string } }) => e.status === 400 && e.details?.field === 'repo_url',
    );
    const v = await dev.call('createVendor', { body: { vendor: 'gitlab', host: new URL(s.url).host, token: dev.opts.token!, username: 'git' } });
    await dev.call('setAppSource', { params: { id: b }, body: { repo_url: remote(a), branch: 'main', vendor: v.id } });
    const created = await dev.call('buildAppSource', { params: { id: b } });
    assert.equal(created.source, 'git');
    assert.ok(!created.repo_url!.includes(dev.opts.token!), 'the token never comes back');
    const done = await waitBuild(dev, created.id);
    const log = await logText(dev, done.id);
    assert.equal(done.status, 'succeeded', `${done.message}\n${log}`);
    assert.equal(done.commit_sha, head);
    assert.equal(done.builder, 'node');
    assert.ok(!log.includes(dev.opts.token!), 'the token is not in the log');
    // auto_deploy is off for this app: the image is built, no release is made.
    assert.equal(done.release_id, null);

    // A branch that does not exist fails the build with git's reason.
    await dev.call('setAppSource', { params: { id: b }, body: { repo_url: remote(a), branch: 'nope' } });
    const missing = await waitBuild(dev, (await dev.call('buildAppSource', { params: { id: b } })).id);
    assert.equal(missing.status, 'failed');
    assert.match(missing.message!, /nope/);
  });

  test('createPushBuild refuses a commit that was never pushed', async () => {
    await assert.rejects(
      dev.call('createPushBuild', { params: { id: a }, body: { commit: 'f'.repeat(40) } }),
      (e: { status: number; details?: { field: string } }) => e.status === 400 && e.details?.field === 'commit',
    );
  });

  test('a push whose release fails says so as its last line; the hook exits non-zero, the refs are updated', async () => {
    // This commit builds, but its app exits as it starts: the build succeeds and v2 fails.
    writeFileSync(join(work, 'index.js'), "console.error('cannot start: DATABASE_URL is not set');\nprocess.exit(3);\n");
    await runOk('git', ['-c', 'user.name=Ada Lovelace', '-c', 'user.email=ada@example.com', 'commit', '-qam', 'Broken start'], { cwd: work, timeoutMs: 10_000 });
    const push = await git(work, 'push', remote(a, dev.opts.token), 'main');
    const out = push.stderr + push.stdout;
    // git ignores a post-receive hook's exit status: the push itself succeeds, its output tells.
    assert.equal(push.code, 0, out);
    assert.match(out, /remote: -----> Build #\d+ queued/);
    const last = out.split('\n').filter((l) => l.startsWith('remote: ')).at(-1) ?? '';
    assert.match(last, /^remote: -----> v2 failed: \S/, out);
    const rel = await dev.call('getRelease', { params: { id: a, version: 2 } });
    assert.equal(rel.status, 'failed');
    assert.ok(last.includes(rel.reason!.split('\n')[0].trim()), `${last}\n${rel.reason}`);
    // v1 still serves, and the refs were updated all the same (a post-receive hook cannot refuse a push).
    const app = await dev.call('getApp', { params: { id: a } });
    assert.equal(app.release, 1);
    const pushed = (await runOk('git', ['rev-parse', 'HEAD'], { cwd: work, timeoutMs: 10_000 })).stdout.trim();
    assert.equal((await git(work, 'ls-remote', remote(a, dev.opts.token), 'refs/heads/main')).stdout.split(/\s/)[0], pushed);
  });
});
