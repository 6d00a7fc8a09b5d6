import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { runOk } from '../../src/lib/exec.js';
import { SourceError } from '../../src/builder/errors.js';
import { cloneRepo, validateGitUrl, validateRef } from '../../src/builder/git.js';
import { ensureBareRepo, handleGitHttp } from '../../src/builder/githttp.js';
import { tempDir } from './helpers.js';

test('git URLs: the usual forms are accepted', () => {
  for (const url of [
    'https://github.com/acme/app.git',
    'http://127.0.0.1:8080/app.git',
    'ssh://git@github.com/acme/app.git',
    'ssh://git@host:2222/acme/app.git',
    'git://example.com/app.git',
    'git@github.com:acme/app.git',
    'example.com:acme/app.git',
  ]) {
    assert.equal(validateGitUrl(url), url);
  }
});

test('git URLs: local, helper, option-like and malformed ones are refused with the field name', () => {
  const cases: [unknown, RegExp][] = [
    ['file:///etc', /scheme file is not allowed/],
    ['FILE:///etc/passwd', /scheme file is not allowed/],
    ['ext::sh -c x', /whitespace|remote helpers/],
    ['ext::sh', /remote helpers/],
    ['fd::3', /remote helpers/],
    ['-u', /must not start with "-"/],
    ['--upload-pack=x', /must not start with "-"/],
    ['/tmp/repo', /local paths/],
    ['./repo', /local paths/],
    ['../repo', /local paths/],
    ['~/repo', /local paths/],
    ['https://github.com/a b', /whitespace/],
    ['https://github.com/a\nb', /whitespace|control/],
    ['ssh://-oProxyCommand=x/repo', /must not start with "-"|not a valid URL/],
    ['git@-oProxyCommand=x:repo', /must not start with "-"|not a git URL/],
    ['ftp://example.com/repo.git', /scheme ftp is not allowed/],
    ['https://github.com', /no repository path/],
    ['https://user:token@gitlab.example.com/group/sub/app', /must not contain credentials/],
    ['https://ghp_secret@github.com/acme/app.git', /must not contain credentials/],
    ['http://:pw@127.0.0.1:8080/app.git', /must not contain credentials/],
    ['git://tok@example.com/app.git', /must not contain credentials/],
    ['ssh://git:pw@github.com/acme/app.git', /must not contain credentials/],
    ['repo', /not a git URL/],
    ['', /is required/],
    [42, /is required/],
  ];
  for (const [url, why] of cases) {
    assert.throws(
      () => validateGitUrl(url),
      (err: unknown) =>
        err instanceof SourceError && err.field === 'repo_url' && err.code === 'invalid_repo_url' && why.test(err.message),
      `expected ${JSON.stringify(url)} to be refused with ${why}`,
    );
  }
});

test('branches follow check-ref-format; bad ones are refused with the field name', () => {
  for (const ok of ['main', 'feature/login', 'v1.2.3', 'release-2024_01', 'a'.repeat(40), 'user@x']) {
    assert.equal(validateRef(ok), ok);
  }
  for (const bad of ['--foo', '-x', 'a..b', 'a b', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[', 'a\\b', '/a', 'a/', 'a//b', 'a.', '.a', 'a/.b', 'a.lock', 'a@{1}', '@', '', 'x\ty']) {
    assert.throws(
      () => validateRef(bad),
      (err: unknown) => err instanceof SourceError && err.field === 'branch' && err.code === 'invalid_branch',
      `expected ${JSON.stringify(bad)} to be refused`,
    );
  }
});

/** A node:http server that serves the bare repos under `root` through handleGitHttp. */
async function gitServer(root: string, seen: { users: string[] }) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const answer = await handleGitHttp({
      method: req.method ?? 'GET',
      pathInfo: decodeURIComponent(url.pathname),
      query: url.search.slice(1),
      headers: req.headers,
      body: req,
      projectRoot: root,
      remoteUser: 'alice',
      env: { BERTH_TEST_APP: 'app with spaces' },
    });
    seen.users.push('alice');
    res.writeHead(answer.status, answer.headers);
    answer.body.pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Ada Lovelace',
  GIT_AUTHOR_EMAIL: 'ada@example.com',
  GIT_COMMITTER_NAME: 'Ada Lovelace',
  GIT_COMMITTER_EMAIL: 'ada@example.com',
  GIT_TERMINAL_PROMPT: '0',
};

test('push over smart HTTP runs the post-receive hook, the pusher sees its output, and the repo clones', async () => {
  const dir = await tempDir('git');
  const server = await gitServer(path.join(dir, 'repos'), { users: [] });
  try {
    // The hook command is an argument array: its odd arguments must arrive unchanged, not run.
    const hook = path.join(dir, 'hook.mjs');
    const marker = path.join(dir, 'injected');
    await fs.writeFile(
      hook,
      [
        "import { readFileSync } from 'node:fs';",
        "const refs = readFileSync(0, 'utf8').trim();",
        "console.log('berth: received ' + refs);",
        "console.log('berth: args ' + JSON.stringify(process.argv.slice(2)));",
        "console.log('berth: user ' + process.env.REMOTE_USER + ', app ' + process.env.BERTH_TEST_APP);",
      ].join('\n'),
    );
    const evilArg = `it's $(touch ${marker}) "quoted"`;
    await ensureBareRepo(path.join(dir, 'repos', 'app.git'), { postReceive: [process.execPath, hook, evilArg] });
    // Idempotent: a second call keeps the repository.
    await ensureBareRepo(path.join(dir, 'repos', 'app.git'), { postReceive: [process.execPath, hook, evilArg] });

    const work = path.join(dir, 'work');
    await fs.mkdir(work);
    const git = (args: string[], cwd = work) => runOk('git', args, { cwd, env: gitEnv, timeoutMs: 30_000 });
    await git(['init', '-q', '--initial-branch=main']);
    await fs.writeFile(path.join(work, 'app.py'), 'print("v1")\n');
    await git(['add', '.']);
    await git(['commit', '-q', '-m', 'First version\n\nWith a body.']);
    const first = (await git(['rev-parse', 'HEAD'])).stdout.trim();
    await fs.writeFile(path.join(work, 'app.py'), 'print("v2")\n');
    await git(['commit', '-q', '-am', 'Second version']);
    const second = (await git(['rev-parse', 'HEAD'])).stdout.trim();

    const push = await git(['push', `${server.url}/app.git`, 'main']);
    const out = push.stderr;
    assert.match(out, new RegExp(`remote: berth: received 0{40} ${second} refs/heads/main`));
    assert.match(out, /remote: berth: user alice, app app with spaces/);
    assert.ok(out.includes(`remote: berth: args ${JSON.stringify([evilArg])}`), out);
    await assert.rejects(fs.stat(marker), 'the hook argument was run by a shell');

    const lines: string[] = [];
    const clone = await cloneRepo(`${server.url}/app.git`, 'main', path.join(dir, 'clone'), {
      timeoutMs: 60_000,
      onLine: (l) => lines.push(l),
    });
    assert.deepEqual(clone, { commit: second, message: 'Second version', committer: 'Ada Lovelace <ada@example.com>' });
    assert.equal(await fs.readFile(path.join(dir, 'clone', 'app.py'), 'utf8'), 'print("v2")\n');
    // Shallow: only the one commit came over.
    assert.equal((await git(['rev-list', '--count', 'HEAD'], path.join(dir, 'clone'))).stdout.trim(), '1');
    assert.ok(lines.some((l) => /Cloning into/.test(l)), lines.join('\n'));

    // An exact older commit, by sha.
    const pinned = await cloneRepo(`${server.url}/app.git`, first, path.join(dir, 'pinned'), { timeoutMs: 60_000 });
    assert.equal(pinned.commit, first);
    assert.equal(pinned.message, 'First version');
    assert.equal(await fs.readFile(path.join(dir, 'pinned', 'app.py'), 'utf8'), 'print("v1")\n');

    // A branch that does not exist fails as a build failure naming the branch.
    await assert.rejects(
      cloneRepo(`${server.url}/app.git`, 'nope', path.join(dir, 'nope'), { timeoutMs: 60_000 }),
      (err: unknown) => err instanceof SourceError && err.code === 'clone_failed' && /nope/.test(err.message),
    );
    // Traversal in the HTTP path is answered 404, not served.
    const res = await fetch(`${server.url}/..%2F..%2Fetc/info/refs?service=git-upload-pack`);
    assert.equal(res.status, 404);
  } finally {
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('cloneRepo refuses bad input before running git', async () => {
  await assert.rejects(cloneRepo('file:///etc', 'main', '/tmp/never', { timeoutMs: 1000 }), /scheme file/);
  await assert.rejects(cloneRepo('https://example.com/a.git', '--upload-pack=x', '/tmp/never', { timeoutMs: 1000 }), /branch/);
});
