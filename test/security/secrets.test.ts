import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { runOk } from '../../src/lib/exec.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { dockerInspect } from '../support/docker.js';
import { viaRouter } from '../support/load.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';
import { explained } from './helpers.js';
import { buildArchive, dockerfileApp, logText, removeImages, waitBuild } from '../builds/helpers.js';

/**
 * A secret config var is given to the app's containers and to nobody else: not in any API answer,
 * not in the server's log, not in the database or any file in clear, and not to builds at all.
 * The hardening of app containers and the isolation of projects are checked in
 * test/runtime/apps.test.ts ("hardened", "other projects cannot reach them") and
 * test/runtime/isolation.test.ts; here the container that holds the secret is inspected again.
 */
describe('secrets stay secret', () => {
  let s: TestServer;
  let dev: BerthClient;
  const slug = `vault-${uniqueSuffix()}`;
  const SECRET = `s3cr3t-${uniqueSuffix()}-${uniqueSuffix()}`;

  before(async () => {
    const image = await ensureTestAppImage(new DockerRuntime({}));
    s = await startServer();
    await explained(s.output, () => setUp(image));
  });
  async function setUp(image: string) {
    dev = await s.newUser('dev');
    await dev.call('createApp', { body: { name: 'vault', slug, auto_deploy: false, health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    await dev.call('deployApp', { params: { id: slug }, body: { image_id: image } });
    const set = await dev.call('setEnv', { params: { id: slug }, body: { set: { API_KEY: SECRET, PLAIN: 'visible' }, secret: ['API_KEY'] } });
    assert.equal(set.env.API_KEY, '********');
    assert.ok(!JSON.stringify(set).includes(SECRET));
    await waitFor(
      'the release with the secret to serve',
      async () => {
        const r = await viaRouter(s.routerPort, `${slug}.localhost`);
        return r.status === 200 && JSON.parse(r.body).env.API_KEY === SECRET;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
  }
  after(async () => {
    await s?.destroy();
    await removeImages([slug]);
  });

  test('the container gets it, hardened; no API answer, log line or stored file has it in clear', async () => {
    const containers = (await dev.call('listContainers', { query: { app: slug } })).items.filter((c) => c.status === 'healthy');
    assert.ok(containers.length >= 1);
    const info = await dockerInspect(containers[0].docker_id!);
    assert.ok(info.Config.Env.includes(`API_KEY=${SECRET}`), 'the app receives its secret');
    assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
    assert.equal(info.HostConfig.Privileged, false);
    assert.ok(!['', '0', 'root'].includes(info.Config.User), `runs as ${info.Config.User}`);
    assert.ok(info.HostConfig.SecurityOpt.some((o: string) => o.startsWith('no-new-privileges')));

    const answers = [
      await dev.call('getApp', { params: { id: slug } }),
      await dev.call('listApps'),
      await dev.call('listReleases', { params: { id: slug } }),
      await dev.call('getRelease', { params: { id: slug, version: 2 } }),
      await dev.call('listEvents', { query: { limit: 1000 } }),
      await dev.call('listContainers'),
      ...(await Promise.all(containers.map((c) => dev.call('getContainer', { params: { id: c.id } })))),
      ...(await Promise.all(containers.map((c) => dev.call('containerLogs', { params: { id: c.id } })))),
      await dev.call('appLogs', { params: { id: slug } }),
      await dev.call('updateApp', { params: { id: slug }, body: { auto_deploy: false } }),
    ];
    for (const a of answers) assert.ok(!JSON.stringify(a).includes(SECRET), `an API answer has the secret: ${JSON.stringify(a).slice(0, 300)}`);
    assert.ok(JSON.stringify(answers[0]).includes('visible'), 'plain vars are shown');

    assert.ok(!s.output().includes(SECRET), 'the server log has the secret');
    const leaks: string[] = [];
    for (const file of await filesUnder(s.dataDir)) {
      const body = await readFile(file).catch(() => Buffer.alloc(0));
      if (body.includes(SECRET)) leaks.push(file);
    }
    assert.deepEqual(leaks, [], 'files in the data directory hold the secret in clear');
  });

  test('a build of the app never receives runtime config vars, secret or not', async () => {
    const archive = await dockerfileApp(
      // The slug makes the steps unique, so the layer cache cannot skip them (and their output).
      `FROM berth/base:bookworm\nRUN echo ${slug} && env | sort\nRUN echo ${slug}` + ' "seen-key=${API_KEY:-unset} seen-plain=${PLAIN:-unset}"\nCMD ["true"]\n',
    );
    const b = await waitBuild(dev, (await buildArchive(dev, slug, archive)).id);
    const log = await logText(dev, b.id);
    assert.equal(b.status, 'succeeded', log);
    assert.match(log, /seen-key=unset seen-plain=unset/);
    assert.ok(!log.includes(SECRET));
    const image = await dockerInspect(b.image);
    assert.ok(!JSON.stringify(image.Config).includes(SECRET));
    const history = await runOk('docker', ['history', '--no-trunc', b.image], { timeoutMs: 30_000 });
    assert.ok(!history.stdout.includes(SECRET));
    assert.ok(!JSON.stringify(await dev.call('getBuild', { params: { id: b.id } })).includes(SECRET));
    assert.ok(!s.output().includes(SECRET));
  });
});

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}
