import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { run, runOk } from '../../src/lib/exec.js';
import { startServer, type TestServer } from '../support/server.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { viaRouter } from '../support/load.js';
import { builtRepo, logText, rejects, removeImages, waitBuild } from '../builds/helpers.js';
import { payload, signed } from './fixtures.js';

const field = (e: { details?: unknown }) => (e.details as { field?: string } | undefined)?.field;
const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', GIT_CONFIG_NOSYSTEM: '1', HOME: tmpdir() };
const git = (cwd: string, ...args: string[]) => runOk('git', ['-c', 'credential.helper=', '-c', 'user.name=Ada Lovelace', '-c', 'user.email=ada@example.com', ...args], { cwd, timeoutMs: 120_000, env: gitEnv });

const SERVE = (version: number) =>
  `import os, http.server\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.end_headers(); self.wfile.write(b"version ${version}\\n")\nhttp.server.HTTPServer(("", int(os.environ["PORT"])), H).serve_forever()\n`;
const DOCKERFILE = 'FROM berth/stack-python:bookworm\nCOPY serve.py /srv/serve.py\nUSER 10001\nCMD ["python3", "/srv/serve.py"]\n';

/** Whether `needle` occurs in the output of a command (streamed: `docker save` is large). */
function streamContains(cmd: string, args: string[], needles: string[]): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const keep = Math.max(...needles.map((n) => n.length));
    let tail = Buffer.alloc(0);
    let found = false;
    p.stdout.on('data', (c: Buffer) => {
      const buf = Buffer.concat([tail, c]);
      if (needles.some((n) => buf.includes(n))) found = true;
      tail = buf.subarray(Math.max(0, buf.length - keep));
    });
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(found) : reject(new Error(`${cmd} exited with ${code}`))));
  });
}

/**
 * A private repository on a real smart-HTTP git server that requires Basic auth (Berth's own git
 * remote of another app, on 127.0.0.1), cloned with a vendor account, built by push webhooks in
 * GitHub, GitLab and Bitbucket formats, deployed and answering through the router.
 */
describe('private repositories and push webhooks', () => {
  let s: TestServer;
  let dev: BerthClient;
  let other: BerthClient;
  let work: string;
  let secretToken: string;
  let vendorId: string;
  const repo = `repo-${uniqueSuffix()}`;
  const site = `site-${uniqueSuffix()}`;
  const heads: string[] = [];
  let repoUrl: string;
  let hook: { url: string; secret: string };

  const commit = async (version: number, branch = 'release') => {
    writeFileSync(join(work, 'serve.py'), SERVE(version));
    await git(work, 'add', '.');
    await git(work, 'commit', '-qm', `Version ${version}`);
    const remote = repoUrl.replace('//', `//git:${dev.opts.token}@`);
    await git(work, 'push', '-q', remote, `HEAD:${branch}`);
    heads.push((await git(work, 'rev-parse', 'HEAD')).stdout.trim());
    return heads.at(-1)!;
  };
  const deliver = (headers: Record<string, string>, body: Buffer, url = hook.url) =>
    fetch(url, { method: 'POST', headers, body: new Uint8Array(body) }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));
  const buildCount = async () => (await dev.call('listBuilds', { params: { id: site } })).total;
  const answers = (text: string, slug = site) =>
    waitFor(`${slug} to answer "${text}"`, async () => (await viaRouter(s.routerPort, `${slug}.localhost`)).body.includes(text), { timeoutMs: 120_000, intervalMs: 250 });

  before(async () => {
    // The git server under test listens on loopback: allowed for this test only.
    // The dashboard is also served at the name request #8's preview would get: that preview is refused.
    s = await startServer({ egressAllow: '127.0.0.1/32', env: { BERTH_CONTROL_HOSTS: `localhost,${site}-pr-8.localhost` } });
    dev = await s.newUser('dev');
    other = await s.newUser('other');
    await dev.call('createApp', { body: { name: repo, auto_deploy: false } });
    await dev.call('createApp', { body: { name: site } });
    repoUrl = `${s.url}/git/${repo}.git`;
    // The account's token: an API token of a user who may read that remote, used only as a git credential.
    secretToken = (await dev.call('createToken', { body: { name: 'vendor token' } })).token;
    work = mkdtempSync(join(tmpdir(), 'berth-private-'));
    await git(work, 'init', '-q', '-b', 'release');
    writeFileSync(join(work, 'Dockerfile'), DOCKERFILE);
    await commit(1);
  });
  after(async () => {
    await s?.destroy();
    rmSync(work, { recursive: true, force: true });
    await removeImages([site, repo]);
  });

  test('the repository really is private: an anonymous clone is refused', async () => {
    const anon = await run('git', ['-c', 'credential.helper=', 'ls-remote', repoUrl], { timeoutMs: 30_000, env: gitEnv });
    assert.notEqual(anon.code, 0);
    assert.match(anon.stderr, /Authentication failed|could not read Username/);
  });

  test('bad vendor and source input is a 400 naming the field', async () => {
    const e1 = await rejects(dev.call('createVendor', { body: { vendor: 'gitlab', host: 'https://gitlab.example.com/x', token: 't' } }), 400);
    assert.equal(field(e1), 'host');
    const e2 = await rejects(dev.call('createVendor', { body: { vendor: 'github', host: 'example.com', token: 't' } }), 400);
    assert.equal(field(e2), 'host');
    const e3 = await rejects(dev.call('createVendor', { body: { vendor: 'gitea' as 'github', token: 't' } }), 400);
    assert.equal(field(e3), 'vendor');
    const e4 = await rejects(dev.call('createVendor', { body: { vendor: 'github', token: 'has space' } }), 400);
    assert.equal(field(e4), 'token');
    const theirs = await other.call('createVendor', { body: { vendor: 'github', token: 'ghp_theirs' } });
    const e5 = await rejects(dev.call('setAppSource', { params: { id: site }, body: { repo_url: 'https://github.com/o/r.git', vendor: theirs.id } }), 400);
    assert.equal(field(e5), 'vendor');
    const e6 = await rejects(dev.call('setAppSource', { params: { id: site }, body: { repo_url: 'https://u:pw@github.com/o/r.git' } }), 400);
    assert.equal(field(e6), 'repo_url');
    const e7 = await rejects(dev.call('setAppSource', { params: { id: site }, body: { repo_url: 'file:///etc' } }), 400);
    assert.equal(field(e7), 'repo_url');
    const gh = await dev.call('createVendor', { body: { vendor: 'github', token: 'ghp_mine' } });
    // The token would go to another host than the account's: refused.
    const e8 = await rejects(dev.call('setAppSource', { params: { id: site }, body: { repo_url: repoUrl, vendor: gh.id } }), 400);
    assert.equal(field(e8), 'repo_url');
    assert.match(e8.message, /github account is for github\.com/);
    await rejects(dev.call('getWebhook', { params: { id: site } }), 404);
    // The same checks through PUT /apps/{id} {"source"}, the field named under source.; nothing changes.
    const before = await dev.call('getApp', { params: { id: site } });
    const e9 = await rejects(dev.call('updateApp', { params: { id: site }, body: { source: { repo_url: 'file:///etc' }, replicas: 3 } }), 400);
    assert.equal(field(e9), 'source.repo_url');
    const e10 = await rejects(dev.call('updateApp', { params: { id: site }, body: { source: { repo_url: 'https://github.com/o/r.git', vendor: theirs.id } } }), 400);
    assert.equal(field(e10), 'source.vendor');
    assert.equal((await dev.call('getApp', { params: { id: site } })).replicas, before.replicas);
    await rejects(dev.call('getAppSource', { params: { id: site } }), 404);
    await dev.call('deleteVendor', { params: { id: gh.id } });
    await rejects(dev.call('deleteVendor', { params: { id: theirs.id } }), 404);
  });

  test('without an account the build fails and says what to do', async () => {
    await dev.call('setAppSource', { params: { id: site }, body: { repo_url: repoUrl, branch: 'release' } });
    const b = await waitBuild(dev, (await dev.call('buildAppSource', { params: { id: site } })).id);
    assert.equal(b.status, 'failed');
    assert.match(b.message!, /Authentication failed.*needs credentials: add a vendor account \(berth vendors add\)/);
  });

  test('with the account, the source is set and its webhook has a URL and a secret', async () => {
    const host = new URL(s.url).host;
    const v = await dev.call('createVendor', { body: { vendor: 'gitlab', host, token: secretToken, username: 'git' } });
    vendorId = v.id;
    assert.deepEqual(Object.keys(v).sort(), ['created_at', 'host', 'id', 'username', 'vendor']);
    // Set through PUT /apps/{id} {"source"} (the shape); the source route reads it back.
    await dev.call('updateApp', { params: { id: site }, body: { source: { repo_url: repoUrl, branch: 'release', vendor: v.id } } });
    const src = await dev.call('getAppSource', { params: { id: site } });
    assert.equal(src.vendor?.id, v.id);
    assert.equal(src.branch, 'release');
    hook = await dev.call('getWebhook', { params: { id: site } });
    assert.equal(hook.url, `${s.url}/api/v1/webhooks/${(await dev.call('getApp', { params: { id: site } })).id}`);
    assert.match(hook.secret, /^[0-9a-f]{48}$/);
  });

  test('unsigned, wrongly signed or unknown deliveries build nothing', async () => {
    const before = await buildCount();
    const body = payload('github-push', 'release', heads[0]);
    const h = signed('github', 'push', body, 'not-the-secret', 'bad-1');
    assert.equal((await deliver(h, body)).status, 401);
    const unsigned: Record<string, string> = { ...signed('github', 'push', body, hook.secret, 'bad-2') };
    delete unsigned['x-hub-signature-256'];
    const r2 = await deliver(unsigned, body);
    assert.equal(r2.status, 401);
    assert.match(r2.json.error.message, /X-Hub-Signature-256 is missing/);
    assert.equal((await deliver(signed('gitlab', 'Push Hook', body, 'nope', 'bad-3'), payload('gitlab-push', 'release', heads[0]))).status, 401);
    assert.equal((await deliver(signed('bitbucket', 'repo:push', body, 'nope', 'bad-4'), payload('bitbucket-push', 'release', heads[0]))).status, 401);
    const notJson = Buffer.from('{"ref":');
    const r5 = await deliver(signed('github', 'push', notJson, hook.secret, 'bad-5'), notJson);
    assert.equal(r5.status, 400);
    assert.equal(r5.json.error.details.field, 'body');
    const huge = Buffer.alloc(2 * 1024 * 1024, 'a');
    assert.equal((await deliver(signed('github', 'push', huge, hook.secret, 'bad-6'), huge)).status, 413);
    const r7 = await deliver({ 'content-type': 'application/json' }, body);
    assert.equal(r7.status, 400);
    assert.equal((await deliver(signed('github', 'push', body, hook.secret, 'bad-8'), body, hook.url.replace(/[^/]+$/, 'app_nosuchapp'))).status, 404);
    assert.equal(await buildCount(), before);
  });

  test('pings, other branches and other events get a 2xx that says why, and build nothing', async () => {
    const before = await buildCount();
    const ping = payload('github-ping');
    const p = await deliver(signed('github', 'ping', ping, hook.secret, 'ping-1'), ping);
    assert.equal(p.status, 200);
    assert.match(p.json.message, /pong/);
    const bbPing = Buffer.from('{}');
    assert.equal((await deliver(signed('bitbucket', 'diagnostics:ping', bbPing, hook.secret, 'ping-2'), bbPing)).status, 200);
    const main = payload('github-push', 'main', heads[0]);
    const m = await deliver(signed('github', 'push', main, hook.secret, 'other-1'), main);
    assert.equal(m.status, 202);
    assert.equal(m.json.built, false);
    assert.equal(m.json.reason, "branch main is not the app's branch release");
    const pr = payload('github-pull-request', 'release', heads[0]);
    const r = await deliver(signed('github', 'pull_request', pr, hook.secret, 'other-2'), pr);
    assert.equal(r.status, 202);
    assert.match(r.json.reason, /previews are off/);
    assert.equal(await buildCount(), before);
  });

  test('a GitHub push builds the pushed commit with the account and deploys it; a redelivery builds once', async () => {
    const body = payload('github-push', 'release', heads[0]);
    const h = signed('github', 'push', body, hook.secret, 'gh-delivery-1');
    const first = await deliver(h, body);
    assert.equal(first.status, 202, JSON.stringify(first.json));
    assert.equal(first.json.built, true);
    const again = await deliver(h, body);
    assert.equal(again.status, 200);
    assert.equal(again.json.built, false);
    assert.equal(again.json.build_id, first.json.build_id);
    const b = await waitBuild(dev, first.json.build_id);
    assert.equal(b.status, 'succeeded', `${b.message}\n${await logText(dev, b.id)}`);
    assert.equal(b.commit_sha, heads[0]);
    assert.match(await logText(dev, b.id), /with the gitlab account/);
    await answers('version 1');
    assert.equal((await dev.call('listBuilds', { params: { id: site } })).items.filter((x) => x.commit_sha === heads[0] && x.status === 'succeeded').length, 1);
  });

  test('GitLab and Bitbucket pushes build and deploy the next commits', async () => {
    for (const [provider, event, file, version] of [
      ['gitlab', 'Push Hook', 'gitlab-push', 2],
      ['bitbucket', 'repo:push', 'bitbucket-push', 3],
    ] as const) {
      const sha = await commit(version);
      const body = payload(file, 'release', sha);
      const res = await deliver(signed(provider, event, body, hook.secret, `${provider}-1`), body);
      assert.equal(res.status, 202, JSON.stringify(res.json));
      const b = await waitBuild(dev, res.json.build_id);
      assert.equal(b.status, 'succeeded', `${provider}: ${b.message}\n${await logText(dev, b.id)}`);
      assert.equal(b.commit_sha, sha);
      await answers(`version ${version}`);
    }
  });

  test('a rotated secret refuses deliveries signed with the old one', async () => {
    const old = hook.secret;
    const rotated = await dev.call('rotateWebhook', { params: { id: site } });
    assert.notEqual(rotated.secret, old);
    const body = payload('github-push', 'release', heads.at(-1));
    const before = await buildCount();
    assert.equal((await deliver(signed('github', 'push', body, old, 'rot-1'), body)).status, 401);
    assert.equal(await buildCount(), before);
    hook = rotated;
  });

  test('with previews on, a pull request builds its branch into <slug>-pr-7; a merge removes that app, its containers and images', async () => {
    const preview = `${site}-pr-7`;
    const off = payload('github-pull-request', 'feature', heads.at(-1), { number: 7, action: 'opened' });
    const r0 = await deliver(signed('github', 'pull_request', off, hook.secret, 'pr-off'), off);
    assert.equal(r0.status, 202);
    assert.match(r0.json.reason, /previews are off/);
    const src = await dev.call('setAppSource', { params: { id: site }, body: { repo_url: repoUrl, branch: 'release', previews: true } });
    assert.equal(src.previews, true);
    assert.equal(src.vendor?.id, vendorId);
    const sha = await commit(99, 'feature');
    const body = payload('github-pull-request', 'feature', sha, { number: 7, action: 'opened' });
    const res = await deliver(signed('github', 'pull_request', body, hook.secret, 'pr-7-open'), body);
    assert.equal(res.status, 202, JSON.stringify(res.json));
    assert.equal(res.json.preview, preview);
    assert.match(res.json.url, new RegExp(`^http://${preview}\\.localhost:`));
    const b = await waitBuild(dev, res.json.build_id);
    assert.equal(b.status, 'succeeded', `${b.message}\n${await logText(dev, b.id)}`);
    assert.equal(b.commit_sha, sha);
    await answers('version 99', preview);
    await answers('version 3'); // the parent still serves its own branch
    const app = await dev.call('getApp', { params: { id: preview } });
    assert.equal(app.project.id, (await dev.call('getApp', { params: { id: site } })).project.id);

    const merged = payload('gitlab-merge-request', 'feature', sha, { number: 7, action: 'merge' });
    const m = await deliver(signed('gitlab', 'Merge Request Hook', merged, hook.secret, 'mr-7-merge'), merged);
    assert.equal(m.status, 202, JSON.stringify(m.json));
    assert.match(m.json.reason, /preview deleted/);
    await waitFor('the preview app to go', async () => (await dev.call('getApp', { params: { id: preview } }).then(() => false, () => true)), { timeoutMs: 30_000 });
    await waitFor('its containers and images to go', async () => {
      const ctrs = (await runOk('docker', ['ps', '-aq', '--filter', `label=berth.app=${app.id}`], { timeoutMs: 30_000 })).stdout.trim();
      const imgs = (await runOk('docker', ['image', 'ls', '-q', `berth/${app.id.toLowerCase()}`], { timeoutMs: 30_000 })).stdout.trim();
      return ctrs === '' && imgs === '';
    }, { timeoutMs: 60_000, intervalMs: 250 });
  });


  test("a pull request whose preview would take the dashboard's name is refused, and no app is made", async () => {
    const body = payload('github-pull-request', 'feature', heads.at(-1), { number: 8, action: 'opened' });
    const r = await deliver(signed('github', 'pull_request', body, hook.secret, 'pr-8-open'), body);
    assert.equal(r.status, 409, JSON.stringify(r.json));
    assert.match(r.json.error.message, /reserved for this Berth's dashboard/);
    await assert.rejects(dev.call('getApp', { params: { id: `${site}-pr-8` } }));
  });
  test('the token appears in no response, build log, server log, database file or image', async () => {
    const needles = [secretToken, Buffer.from(`git:${secretToken}`).toString('base64')];
    const responses = JSON.stringify([
      await dev.call('listVendors', {}),
      await dev.call('getAppSource', { params: { id: site } }),
      await dev.call('listBuilds', { params: { id: site } }),
    ]);
    const logs = (await Promise.all((await dev.call('listBuilds', { params: { id: site } })).items.map((b) => logText(dev, b.id)))).join('\n');
    const serverLog = s.output();
    for (const n of needles) {
      assert.ok(!responses.includes(n), 'a response holds the token');
      assert.ok(!logs.includes(n), 'a build log holds the token');
      assert.ok(!serverLog.includes(n), 'the server log holds the token');
    }
    // The database files (SQLite and its WAL): only the sealed form is stored.
    const dbFiles = readdirSync(s.dataDir).filter((f) => f.startsWith('berth.db'));
    assert.ok(dbFiles.length >= 1);
    for (const f of dbFiles) {
      const bytes = readFileSync(join(s.dataDir, f));
      for (const n of needles) assert.ok(!bytes.includes(n), `${f} holds the token`);
    }
    const images = (await runOk('docker', ['image', 'ls', '-q', '--filter', `reference=${await builtRepo(dev, site)}`], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
    assert.ok(images.length >= 1);
    assert.equal(await streamContains('docker', ['save', ...new Set(images)], needles), false, 'an image holds the token');
  });

  test('a removed account stops the builds that used it, with a clear message', async () => {
    await dev.call('deleteVendor', { params: { id: vendorId } });
    const src = await dev.call('getAppSource', { params: { id: site } });
    assert.equal(src.vendor, null);
    const b = await waitBuild(dev, (await dev.call('buildAppSource', { params: { id: site } })).id);
    assert.equal(b.status, 'failed');
    assert.match(b.message!, /needs credentials/);
  });
});
