import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { run, runOk } from '../../src/lib/exec.js';
import { freePort, startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { viaRouter } from '../support/load.js';
import { builtRepo, rejects, removeImages, waitBuild } from '../builds/helpers.js';
import { payload, signed } from '../integrations/fixtures.js';

const field = (e: { details?: unknown }) => (e.details as { field?: string } | undefined)?.field;
const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', GIT_CONFIG_NOSYSTEM: '1', HOME: tmpdir() };
const git = (cwd: string, ...args: string[]) =>
  runOk('git', ['-c', 'credential.helper=', '-c', 'user.name=Alice', '-c', 'user.email=alice@example.com', ...args], { cwd, timeoutMs: 300_000, env: gitEnv });

/** Alice's app: its source holds a marker no other project may read. */
const MARKER = `alice-source-${uniqueSuffix()}`;
const SERVER_JS = `// ${MARKER}\nrequire('http').createServer((q, r) => r.end('alice page ${MARKER}\\n')).listen(process.env.PORT || 8080);\n`;
const DOCKERFILE = 'FROM berth/stack-node:bookworm\nCOPY app.js /app/app.js\nCMD ["node", "/app/app.js"]\n';

/**
 * Tenant isolation of images and sources (issue #18), played as the attacker would on a real
 * install (Docker, git, a private registry on 127.0.0.1): alice and bob own unrelated projects;
 * dave is a developer in alice's project. Every attack is refused; alice's, bob's and the admin's
 * own flows still work.
 */
describe('images belong to projects; previews, vendor tokens and git URLs', () => {
  let s: TestServer;
  let alice: BerthClient;
  let bob: BerthClient;
  let dave: BerthClient;
  let work: string;
  let shared: string;
  const sfx = uniqueSuffix();
  const hello = `hello-${sfx}`;
  const thief = `thief-${sfx}`;
  const runtime = new DockerRuntime({});
  const local: string[] = [];
  let aliceImage = '';

  const releaseDone = (c: BerthClient, app: string, version: number) =>
    waitFor(`${app} v${version} to finish`, async () => {
      const r = await c.call('getRelease', { params: { id: app, version } });
      return ['live', 'failed'].includes(r.status) ? r : undefined;
    }, { timeoutMs: 180_000, intervalMs: 250 });
  const answers = (slug: string, text: string) =>
    waitFor(`${slug} to answer "${text}"`, async () => (await viaRouter(s.routerPort, `${slug}.localhost`)).body.includes(text), { timeoutMs: 60_000, intervalMs: 250 });
  const remote = (slug: string, token: string) => `${new URL(s.url).protocol}//git:${token}@${new URL(s.url).host}/git/${slug}.git`;

  before(async () => {
    shared = await ensureTestAppImage(runtime);
    // The private registry and the app's git remote are on loopback: the operator allows it (BERTH_EGRESS_ALLOW).
    s = await startServer({ egressAllow: '127.0.0.1/32' });
    alice = await s.newUser('alice');
    bob = await s.newUser('bob');
    dave = await s.newUser('dave');
    await alice.call('createProject', { body: { name: 'pa' } });
    await alice.call('addMember', { params: { id: 'pa' }, body: { username: 'dave', role: 'developer' } });
    await bob.call('createProject', { body: { name: 'pb' } });
    await alice.call('createApp', { body: { name: hello, project: 'pa' } });
    await bob.call('createApp', { body: { name: thief, project: 'pb' } });
    work = mkdtempSync(join(tmpdir(), 'berth-images-'));
  });
  after(async () => {
    await s?.destroy();
    rmSync(work, { recursive: true, force: true });
    await removeImages([hello]);
    for (const ref of local) await run('docker', ['rmi', '-f', ref], { timeoutMs: 30_000 });
  });

  test('alice\'s git push builds and deploys; the image is named by her app\'s opaque id, not its slug', async () => {
    writeFileSync(join(work, 'app.js'), SERVER_JS);
    writeFileSync(join(work, 'Dockerfile'), DOCKERFILE);
    await git(work, 'init', '-q', '-b', 'main');
    await git(work, 'add', '.');
    await git(work, 'commit', '-qm', 'first');
    await git(work, 'push', remote(hello, alice.opts.token!), 'main');
    const [build] = (await alice.call('listBuilds', { params: { id: hello } })).items;
    const done = await waitBuild(alice, build.id);
    assert.equal(done.status, 'succeeded', done.message ?? '');
    const app = await alice.call('getApp', { params: { id: hello } });
    aliceImage = done.image;
    assert.equal(aliceImage, `${await builtRepo(alice, hello)}:1`);
    assert.equal(aliceImage, `berth/${app.id.toLowerCase()}:1`);
    assert.ok(!aliceImage.includes(hello), 'the slug is not in the image name');
    await waitFor('the build\'s release', async () => (await alice.call('getBuild', { params: { id: build.id } })).release_id ?? undefined);
    assert.equal((await releaseDone(alice, hello, 1)).status, 'live');
    await answers(hello, MARKER);
  });

  test('bob cannot deploy alice\'s image by name, id or short id, nor set it with PUT or at create; the refusal is the same as for no image', async () => {
    const id = JSON.parse((await runOk('docker', ['image', 'inspect', aliceImage], { timeoutMs: 30_000 })).stdout)[0].Id as string;
    const missing = await rejects(bob.call('deployApp', { params: { id: thief }, body: { image_id: 'berth/app_nothere:1' } }), 400);
    for (const ref of [aliceImage, id, id.slice('sha256:'.length, 'sha256:'.length + 12)]) {
      const e = await rejects(bob.call('deployApp', { params: { id: thief }, body: { image_id: ref } }), 400);
      assert.equal(field(e), 'image_id', ref);
      assert.equal(e.code, 'image_refused');
      // No oracle: another project's image and an image that does not exist read the same.
      assert.equal(e.message.replace(ref, 'X'), missing.message.replace('berth/app_nothere:1', 'X'));
    }
    const put = await rejects(bob.call('updateApp', { params: { id: thief }, body: { image: aliceImage } }), 400);
    assert.equal(field(put), 'image');
    // The config change that used to roll the PUT image out: no release of alice's image.
    await bob.call('setEnv', { params: { id: thief }, body: { set: { X: '1' } } });
    const created = await rejects(bob.call('createApp', { body: { name: `thief2-${sfx}`, project: 'pb', image: aliceImage } }), 400);
    assert.equal(field(created), 'image');
    const rels = (await bob.call('listReleases', { params: { id: thief } })).items;
    assert.ok(!rels.some((r) => r.image === aliceImage), JSON.stringify(rels));
    assert.equal((await bob.call('getApp', { params: { id: thief } })).image, null);
    // Nothing live, so nothing to run `cat /app/app.js` in.
    await rejects(bob.call('runCommand', { params: { id: thief }, body: { command: ['sh', '-c', 'cat /app/app.js'] } }), 409);
  });

  test('alice deploys her own image by name and by build, and rolls back', async () => {
    const v2 = await alice.call('deployApp', { params: { id: hello }, body: { image_id: aliceImage } });
    assert.equal((await releaseDone(alice, hello, v2.version)).status, 'live');
    const [build] = (await alice.call('listBuilds', { params: { id: hello } })).items;
    const v3 = await alice.call('deployApp', { params: { id: hello }, body: { build_id: build.id } });
    assert.equal((await releaseDone(alice, hello, v3.version)).status, 'live');
    const rb = await alice.call('rollbackApp', { params: { id: hello }, body: {} });
    assert.equal((await releaseDone(alice, hello, rb.version)).status, 'live');
    await answers(hello, MARKER);
    // Her teammate may deploy it too: images belong to the project, not to a user.
    const v5 = await dave.call('deployApp', { params: { id: hello }, body: { image_id: aliceImage } });
    assert.equal((await releaseDone(dave, hello, v5.version)).status, 'live');
  });

  test('an admin deploys a hand-loaded image into bob\'s app; bob changes config and rolls back; his other project cannot use it', async () => {
    const ops = `opsloaded/hello-${sfx}:1`;
    await runOk('docker', ['tag', shared, ops], { timeoutMs: 30_000 });
    local.push(ops);
    const admin = s.admin;
    // The operator works in bob's project as a member (an admin sees only projects they belong to).
    await bob.call('addMember', { params: { id: 'pb' }, body: { username: 'admin', role: 'developer' } });
    const denied = await rejects(bob.call('deployApp', { params: { id: thief }, body: { image_id: ops } }), 400);
    assert.equal(field(denied), 'image_id');
    const r1 = await admin.call('deployApp', { params: { id: thief }, body: { image_id: ops } });
    assert.equal((await releaseDone(bob, thief, r1.version)).status, 'live');
    const r2 = await bob.call('setEnv', { params: { id: thief }, body: { set: { Y: '2' } } });
    assert.equal((await releaseDone(bob, thief, r2.release!.version)).status, 'live');
    const r3 = await bob.call('rollbackApp', { params: { id: thief }, body: {} });
    assert.equal((await releaseDone(bob, thief, r3.version)).status, 'live');
    await bob.call('createProject', { body: { name: 'pb2' } });
    const other = `other-${sfx}`;
    await bob.call('createApp', { body: { name: other, project: 'pb2' } });
    const e = await rejects(bob.call('deployApp', { params: { id: other }, body: { image_id: ops } }), 400);
    assert.equal(field(e), 'image_id');
  });

  describe('a private registry', () => {
    let dir: string;
    let registry: ChildProcess | undefined;
    let ref = '';
    const password = `pw-${uniqueSuffix()}`;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'berth-images-reg-'));
      const at = `127.0.0.1:${await freePort()}`;
      await runOk('htpasswd', ['-Bbc', join(dir, 'htpasswd'), 'alice', password], { timeoutMs: 30_000 });
      writeFileSync(join(dir, 'config.yml'), `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: ${at}\nauth:\n  htpasswd:\n    realm: berth-test\n    path: ${dir}/htpasswd\n`);
      registry = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
      const status = () =>
        new Promise<number | undefined>((resolve) =>
          httpGet(`http://${at}/v2/`, (res) => {
            res.resume();
            resolve(res.statusCode);
          }).on('error', () => resolve(undefined)),
        );
      await waitFor('the registry to answer', async () => (await status()) === 401, { timeoutMs: 30_000 });
      ref = `${at}/alice/private-${sfx}:1`;
      const env = { ...process.env, DOCKER_CONFIG: join(dir, 'docker') };
      await runOk('docker', ['tag', shared, ref], { timeoutMs: 30_000 });
      await runOk('docker', ['login', '-u', 'alice', '--password-stdin', at], { timeoutMs: 30_000, input: password, env });
      await runOk('docker', ['push', ref], { timeoutMs: 180_000, env });
      await runOk('docker', ['rmi', ref], { timeoutMs: 30_000 });
      await alice.call('createRegistry', { body: { host: at, username: 'alice', password } });
    });
    after(async () => {
      registry?.kill('SIGTERM');
      if (ref) await run('docker', ['rmi', '-f', ref], { timeoutMs: 30_000 });
      rmSync(dir, { recursive: true, force: true });
    });

    test('alice pulls her private image with her account; bob, without one, is refused although the engine has it', async () => {
      const pulled = `pulled-${sfx}`;
      await alice.call('createApp', { body: { name: pulled, project: 'pa' } });
      const a = await alice.call('deployApp', { params: { id: pulled }, body: { image_id: ref } });
      assert.equal((await releaseDone(alice, pulled, a.version)).status, 'live');
      assert.ok(await runtime.inspectImage(ref), 'the image is on the engine now');

      const b = await bob.call('deployApp', { params: { id: thief }, body: { image_id: ref } });
      const done = await releaseDone(bob, thief, b.version);
      assert.equal(done.status, 'failed');
      assert.match(done.reason ?? '', /pulling .* failed/);
      assert.match(done.reason ?? '', /unauthorized|authentication required|no basic auth|denied/i);
      const rels = (await bob.call('listReleases', { params: { id: thief } })).items;
      assert.ok(!rels.some((r) => r.status === 'live' && r.image === ref), 'bob never runs the image');
      assert.ok(rels.some((r) => r.status === 'live'), 'bob\'s app stays on its live release');
      // Alice's next release pulls again with her account, and goes live.
      const a2 = await alice.call('setEnv', { params: { id: pulled }, body: { set: { Z: '3' } } });
      assert.equal((await releaseDone(alice, pulled, a2.release!.version)).status, 'live');
      const events = (await alice.call('listEvents', { query: { app: pulled } })).items.filter((e) => e.kind === 'release.pulling');
      assert.equal(events.length, 2, 'each release pulled');
    });
  });

  test('an image whose user is uid 0 under any name runs as nobody, and the release says so; a named user runs as its numeric ids', async () => {
    const cases: [string, string, string][] = [
      ['zeros', 'USER 0000', '65534'],
      ['pair', 'USER 00:00', '65534'],
      ['toor', "RUN echo 'toor:x:0:0::/root:/bin/sh' >> /etc/passwd\nUSER toor", '65534'],
      ['named', "RUN echo 'appuser:x:1234:1235::/app:/bin/sh' >> /etc/passwd\nUSER appuser", '1234'],
    ];
    const rooty = `rooty-${sfx}`;
    await bob.call('createApp', { body: { name: rooty, project: 'pb' } });
    for (const [name, lines, uid] of cases) {
      const tag = `berth-test/uid-${name}-${sfx}:1`;
      const ctx = mkdtempSync(join(tmpdir(), 'berth-uid-'));
      writeFileSync(join(ctx, 'Dockerfile'), `FROM ${shared}\n${lines}\n`);
      await runtime.buildImage({ contextDir: ctx, dockerfile: 'Dockerfile', tag, timeoutMs: 120_000 });
      rmSync(ctx, { recursive: true, force: true });
      local.push(tag);
      const r = await bob.call('deployApp', { params: { id: rooty }, body: { image_id: tag } });
      const done = await releaseDone(bob, rooty, r.version);
      assert.equal(done.status, 'live', `${name}: ${done.reason}`);
      if (uid === '65534') assert.match(done.reason ?? '', /is uid 0 \(root\): its replicas run as 65534:65534/, name);
      else assert.equal(done.reason, null, name);
      const c = await waitFor(`${name}: a replica of v${r.version}`, async () =>
        (await bob.call('listContainers', { query: { app: rooty } })).items.find((x) => x.release === r.version && x.status === 'healthy'),
      { timeoutMs: 60_000, intervalMs: 250 });
      const id = (await runOk('docker', ['exec', c.docker_id!, 'id', '-u'], { timeoutMs: 30_000 })).stdout.trim();
      assert.equal(id, uid, name);
    }
  });

  test('a pull request\'s preview gets no volumes, no release command, no secrets, whatever the parent has', async () => {
    const site = `site-${sfx}`;
    await alice.call('createApp', { body: { name: site, project: 'pa' } });
    await alice.call('createVolume', { body: { name: `data-${sfx}`, project: 'pa' } });
    await alice.call('updateApp', {
      params: { id: site },
      body: { strategy: 'recreate', volumes: [{ volume: `data-${sfx}`, path: '/data' }], release_command: ['sh', '-c', 'rm -rf /data/*'], env: { PLAIN: 'p', DB_PASSWORD: 'prod-secret' }, secret_env: ['DB_PASSWORD'] },
    });
    // The app's own (empty) git remote on this server: the preview's build fails, its app is what is checked.
    await alice.call('setAppSource', { params: { id: site }, body: { repo_url: `${s.url}/git/${site}.git`, branch: 'main', previews: true } });
    const hook = await alice.call('getWebhook', { params: { id: site } });
    const body = payload('github-pull-request', 'evil', 'b'.repeat(40), { number: 5, action: 'opened' });
    const res = await fetch(hook.url, { method: 'POST', headers: signed('github', 'pull_request', body, hook.secret, `pr-${sfx}`), body: new Uint8Array(body) });
    const json = (await res.json()) as { preview: string };
    assert.equal(res.status, 202, JSON.stringify(json));
    const preview = await alice.call('getApp', { params: { id: json.preview } });
    assert.deepEqual(preview.volumes, []);
    assert.deepEqual(preview.release_command, []);
    assert.equal(preview.env.PLAIN, 'p');
    assert.ok(!('DB_PASSWORD' in preview.env) && !preview.secret_env.includes('DB_PASSWORD'), JSON.stringify(preview.env));
    const parent = await alice.call('getApp', { params: { id: site } });
    assert.equal(parent.volumes.length, 1, 'the parent keeps its own');
  });

  test('a developer cannot point the owner\'s vendor token at another repository', async () => {
    const v = await alice.call('createVendor', { body: { vendor: 'github', token: `ghp_alice${sfx}` } });
    await alice.call('setAppSource', { params: { id: hello }, body: { repo_url: 'https://github.com/alice/hello.git', vendor: v.id } });
    const e = await rejects(dave.call('setAppSource', { params: { id: hello }, body: { repo_url: 'https://github.com/dave/loot.git' } }), 400);
    assert.equal(field(e), 'repo_url');
    const e2 = await rejects(dave.call('updateApp', { params: { id: hello }, body: { source: { repo_url: 'https://github.com/dave/loot.git' } } }), 400);
    assert.equal(field(e2), 'source.repo_url');
    const e3 = await rejects(dave.call('setAppSource', { params: { id: hello }, body: { repo_url: 'https://github.com/dave/loot.git', vendor: v.id } }), 400);
    assert.equal(field(e3), 'vendor');
    let src = await alice.call('getAppSource', { params: { id: hello } });
    assert.deepEqual([src.repo_url, src.vendor?.id], ['https://github.com/alice/hello.git', v.id]);
    // The same repository (another branch) keeps the account; another one without it is fine.
    await dave.call('setAppSource', { params: { id: hello }, body: { repo_url: 'https://github.com/alice/hello.git', branch: 'dev' } });
    src = await alice.call('getAppSource', { params: { id: hello } });
    assert.equal(src.vendor?.id, v.id);
    src = await dave.call('setAppSource', { params: { id: hello }, body: { repo_url: 'https://github.com/dave/loot.git', vendor: null } });
    assert.equal(src.vendor, null);
    // The owner moves her own account.
    await alice.call('setAppSource', { params: { id: hello }, body: { repo_url: 'https://github.com/alice/hello2.git', vendor: v.id } });
    src = await alice.call('setAppSource', { params: { id: hello }, body: { repo_url: 'https://github.com/alice/hello3.git' } });
    assert.equal(src.vendor?.id, v.id);
  });

  test('credentials in a git URL are refused everywhere, and appear in no answer, event or log', async () => {
    const token = `ghp_leak${sfx}`;
    for (const url of [`https://${token}@github.com/alice/hello.git`, `https://x:${token}@github.com/alice/hello.git`, `${s.url.replace('//', `//${token}@`)}/git/${hello}.git`]) {
      const a = await rejects(alice.call('setAppSource', { params: { id: hello }, body: { repo_url: url } }), 400);
      assert.equal(field(a), 'repo_url', url);
      const b = await rejects(alice.call('createGitBuild', { params: { id: hello }, body: { repo_url: url } }), 400);
      assert.equal(field(b), 'repo_url', url);
      const c = await rejects(alice.call('updateApp', { params: { id: hello }, body: { source: { repo_url: url } } }), 400);
      assert.equal(field(c), 'source.repo_url', url);
      assert.ok(!JSON.stringify([a, b, c]).includes(token), 'the refusal does not echo the token');
    }
    const seen = JSON.stringify([
      await alice.call('listEvents', { query: {} }),
      await alice.call('getAppSource', { params: { id: hello } }),
      await alice.call('listBuilds', { params: { id: hello } }),
    ]);
    assert.ok(!seen.includes(token), 'an answer holds the token');
    assert.ok(!s.output().includes(token), 'the server log holds the token');
  });
});
