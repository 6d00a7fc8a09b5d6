import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/lib/exec.js';
import { CLI_MAIN, startServer, type TestServer } from '../support/server.js';
import { uniqueSuffix } from '../support/wait.js';

/** `berth vendors`, `berth source` and `berth webhook` against a real server. */
describe('integrations CLI', () => {
  let s: TestServer;
  let home: string;
  let token: string;
  const slug = `cli-${uniqueSuffix()}`;
  const berth = (args: string[], input?: string) =>
    run(process.execPath, [CLI_MAIN, ...args], {
      timeoutMs: 30_000,
      input,
      env: { ...process.env, BERTH_CONFIG: join(home, 'config.json'), BERTH_URL: s.url, BERTH_TOKEN: token },
    });

  before(async () => {
    s = await startServer();
    home = mkdtempSync(join(tmpdir(), 'berth-cli-int-'));
    const dev = await s.newUser('dev');
    token = dev.opts.token!;
    await dev.call('createApp', { body: { name: slug, auto_deploy: false } });
  });
  after(async () => {
    await s?.destroy();
    rmSync(home, { recursive: true, force: true });
  });

  test('an account added from stdin is listed without its token and named by a source; the webhook rotates', async () => {
    const add = await berth(['vendors', 'add', 'bitbucket', '--username', 'emma', '--token-stdin', '--json'], 'app-password-123\n');
    assert.equal(add.code, 0, add.stderr);
    const v = JSON.parse(add.stdout);
    assert.equal(v.username, 'emma');
    assert.equal(v.host, 'bitbucket.org');
    const ls = await berth(['vendors', 'ls']);
    assert.match(ls.stdout, /bitbucket\s+bitbucket\.org\s+emma/);
    assert.ok(!ls.stdout.includes('app-password-123'));
    const set = await berth(['source', 'set', slug, 'https://bitbucket.org/emma/app.git', '--branch', 'prod', '--vendor', v.id, '--previews', 'on']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /Previews:\s+on\n?/);
    assert.match(set.stdout, /Branch:\s+prod/);
    assert.match(set.stdout, new RegExp(`Account:\\s+bitbucket \\(${v.id}\\)`));
    const hook = JSON.parse((await berth(['webhook', slug, '--json'])).stdout);
    assert.match(hook.url, /\/api\/v1\/webhooks\/app_/);
    const rotated = JSON.parse((await berth(['webhook', slug, '--rotate', '--json'])).stdout);
    assert.notEqual(rotated.secret, hook.secret);
    const human = await berth(['webhook', slug]);
    assert.match(human.stdout, new RegExp(`Secret:\\s+${rotated.secret}`));
    const bad = await berth(['source', 'set', slug, 'https://github.com/emma/app.git', '--vendor', v.id]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /repo_url is on github\.com, but the bitbucket account is for bitbucket\.org/);
    const noToken = await berth(['vendors', 'add', 'github']);
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /--token-stdin/);
  });

  test('a registry account is added from stdin and listed without its password; a URL as host is refused', async () => {
    const add = await berth(['registries', 'add', 'registry.example.com:5000', '--username', 'deployer', '--password-stdin', '--json'], 'p4ss-word\n');
    assert.equal(add.code, 0, add.stderr);
    assert.equal(JSON.parse(add.stdout).host, 'registry.example.com:5000');
    const ls = await berth(['registries', 'ls']);
    assert.match(ls.stdout, /registry\.example\.com:5000\s+deployer/);
    assert.ok(!ls.stdout.includes('p4ss-word'));
    const bad = await berth(['registries', 'add', 'https://registry.example.com', '--username', 'u', '--password', 'p']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /host must not have a scheme/);
  });

  test('berth images lists per app and prune says what it freed', async () => {
    const ls = await berth(['images', '--app', slug]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /\(none\)\n\(garbage collection keeps the images of the last 10 releases/);
    const prune = await berth(['images', 'prune', '--app', slug]);
    assert.equal(prune.code, 0, prune.stderr);
    assert.match(prune.stdout, /Nothing to remove\.\nFreed 0\.0 MB\./);
    const json = JSON.parse((await berth(['images', 'prune', '--json'])).stdout);
    assert.deepEqual(json, { removed: [], freed_bytes: 0, skipped: [] });
  });

  test('berth notify adds, lists and removes targets; the webhook secret is shown once', async () => {
    const add = await berth(['notify', 'add', slug, '--webhook', 'https://ops.example.com/berth/hook', '--json']);
    assert.equal(add.code, 0, add.stderr);
    const t = JSON.parse(add.stdout);
    assert.match(t.secret, /^[0-9a-f]{48}$/);
    const slack = await berth(['notify', 'add', slug, '--slack', 'https://hooks.slack.com/services/T0/B0/XYZ']);
    assert.match(slack.stdout, /^Added slack target ntf_\w+ \(https:\/\/hooks\.slack\.com\/…\) for: release\.deploying, /);
    const ls = await berth(['notify', 'ls', slug]);
    assert.match(ls.stdout, /webhook\s+https:\/\/ops\.example\.com\/…/);
    assert.ok(!ls.stdout.includes('XYZ'));
    const dl = await berth(['notify', 'deliveries', slug, t.id]);
    assert.equal(dl.stdout.trim(), '(none)');
    assert.equal((await berth(['notify', 'rm', slug, t.id])).code, 0);
    const both = await berth(['notify', 'add', slug]);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /give one of --slack URL or --webhook URL/);
    const bad = await berth(['notify', 'add', slug, '--webhook', 'file:///etc/passwd']);
    assert.match(bad.stderr, /url scheme file is not allowed/);
  });
});
