import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { dockerInspect } from '../support/docker.js';
import { startLoad, viaRouter, assertNoDrops } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { run } from '../../src/lib/exec.js';
import { healthy as healthyReplicas, settled } from '../support/rollout.js';

/**
 * Deploying and running apps on the real Docker Engine, reached through the real Caddy router,
 * the way a user would: through the API, then by the app's hostname.
 */
describe('apps on the Docker Engine, through the router', () => {
  let s: TestServer;
  let dev: BerthClient;
  let image: string;
  const runtime = new DockerRuntime({});

  const get = (slug: string, path = '/') => viaRouter(s.routerPort, `${slug}.localhost`, path);
  // The waits of this file are 90 s.
  const live = (slug: string, version: number) => settled(dev, slug, version, 90_000);
  const healthy = (slug: string, n: number) => healthyReplicas(dev, slug, n, { timeoutMs: 90_000 });

  before(async () => {
    image = await ensureTestAppImage(runtime);
    s = await startServer();
    dev = await s.newUser('dev');
    await dev.call('createProject', { body: { name: 'web' } });
  });
  after(async () => {
    await s?.destroy();
  });

  test('deploy an image: release v1 goes live and the app answers at its hostname, hardened', async () => {
    await dev.call('createApp', { body: { name: 'hello', project: 'web', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    const rel = await dev.call('deployApp', { params: { id: 'hello' }, body: { image_id: image, replicas: 2 } });
    assert.equal(rel.version, 1);
    assert.equal(rel.status, 'pending', 'deploy returns at once; the controller rolls it out');
    assert.equal((await live('hello', 1)).status, 'live');
    const ctrs = await healthy('hello', 2);
    const res = await get('hello');
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body);
    assert.equal(body.env.PORT, '8080');
    assert.notEqual(body.uid, 0, 'the app runs as root');

    const info = await dockerInspect(ctrs[0].docker_id!);
    assert.notEqual(info.Config.User, '');
    assert.notEqual(info.Config.User, 'root');
    assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
    assert.ok(info.HostConfig.SecurityOpt.includes('no-new-privileges:true') || info.HostConfig.SecurityOpt.includes('no-new-privileges'));
    assert.equal(info.HostConfig.Memory, 512 * 1024 * 1024);
    assert.ok(info.HostConfig.PidsLimit > 0);
    assert.equal(info.HostConfig.Privileged, false);
    assert.deepEqual(info.HostConfig.PortBindings ?? {}, {});
    assert.ok(!(info.HostConfig.Binds ?? []).length, 'no host paths');
    assert.ok(!(info.Mounts ?? []).some((m: { Source: string }) => m.Source.includes('docker.sock')));
    assert.ok(['unless-stopped', 'on-failure', 'always'].includes(info.HostConfig.RestartPolicy.Name));

    const app = await dev.call('getApp', { params: { id: 'hello' } });
    assert.equal(app.status, 'running');
    assert.equal(app.release, 1);
  });

  test('scale 2 -> 3 spreads requests; scale 0 answers 503; scale 1 serves again', async () => {
    await dev.call('scaleApp', { params: { id: 'hello' }, body: { replicas: 3 } });
    await healthy('hello', 3);
    const seen = new Set<string>();
    for (let i = 0; i < 30 && seen.size < 3; i++) seen.add(JSON.parse((await get('hello')).body).hostname);
    assert.equal(seen.size, 3, 'requests did not reach all three replicas');

    await dev.call('scaleApp', { params: { id: 'hello' }, body: { replicas: 0 } });
    await waitFor('no containers', async () => (await dev.call('listContainers', { query: { app: 'hello' } })).items.length === 0, { timeoutMs: 60_000 });
    await waitFor('503', async () => (await get('hello')).status === 503);
    await dev.call('scaleApp', { params: { id: 'hello' }, body: { replicas: 1 } });
    await healthy('hello', 1);
    assert.equal((await get('hello')).status, 200);
  });

  test('stop answers 503 naming the app; start serves again; unknown hosts get 404', async () => {
    await dev.call('stopApp', { params: { id: 'hello' } });
    const stopped = await waitFor('503', async () => {
      const r = await get('hello');
      return r.status === 503 ? r : undefined;
    });
    assert.match(stopped.body, /hello/);
    assert.equal((await dev.call('getApp', { params: { id: 'hello' } })).status, 'stopped');
    await waitFor('containers gone', async () => (await dev.call('listContainers', { query: { app: 'hello' } })).items.length === 0);
    await dev.call('startApp', { params: { id: 'hello' } });
    await healthy('hello', 1);
    assert.equal((await get('hello')).status, 200);
    assert.equal((await get('no-such-app')).status, 404);
  });

  test('config vars make a new release; secrets are masked in the API; rollback restores the old config', async () => {
    const res = await dev.call('setEnv', { params: { id: 'hello' }, body: { set: { GREETING: 'hi', API_KEY: 'k-123-secret' }, secret: ['API_KEY'] } });
    assert.equal(res.release?.version, 2);
    assert.equal(res.env.API_KEY, '********');
    assert.equal((await live('hello', 2)).status, 'live');
    await healthy('hello', 1);
    const env = JSON.parse((await get('hello')).body).env;
    assert.equal(env.GREETING, 'hi');
    assert.equal(env.API_KEY, 'k-123-secret', 'the container gets the secret in clear');
    const releases = await dev.call('listReleases', { params: { id: 'hello' } });
    assert.deepEqual(releases.items.map((r) => [r.version, r.status]), [[2, 'live'], [1, 'superseded']]);
    assert.ok(!JSON.stringify(releases).includes('k-123-secret'));
    const events = await dev.call('listEvents', { query: { app: 'hello' } });
    assert.ok(!JSON.stringify(events).includes('k-123-secret'));

    const rb = await dev.call('rollbackApp', { params: { id: 'hello' }, body: {} });
    assert.equal(rb.version, 3);
    assert.match(rb.description, /Rollback to v1/);
    assert.equal((await live('hello', 3)).status, 'live');
    await healthy('hello', 1);
    assert.equal(JSON.parse((await get('hello')).body).env.GREETING, undefined);
    assert.equal((await dev.call('getRelease', { params: { id: 'hello', version: 2 } })).status, 'rolled-back');
  });

  test('a release that never becomes healthy fails with its log, and the old one keeps answering', async () => {
    const load = startLoad({ port: s.routerPort, host: 'hello.localhost', concurrency: 2 });
    const res = await dev.call('setEnv', { params: { id: 'hello' }, body: { set: { CRASH_ON_START: '1' } } });
    const failed = await live('hello', res.release!.version);
    const r = await load.stop();
    assert.equal(failed.status, 'failed');
    assert.match(failed.reason ?? '', /exited with code 2/);
    assert.match(failed.reason ?? '', /crashing on start as asked/, 'the reason carries the last log lines');
    assertNoDrops(r, 'while the bad release was tried');
    assert.ok(r.sent > 0);
    const app = await dev.call('getApp', { params: { id: 'hello' } });
    assert.equal(app.release, 3, 'v3 is still the live release');
    assert.equal((await get('hello')).status, 200);
    await healthy('hello', 1);
    await dev.call('setEnv', { params: { id: 'hello' }, body: { unset: ['CRASH_ON_START'] } });
  });

  test('rolling restart replaces every replica without dropping a request', async () => {
    await dev.call('scaleApp', { params: { id: 'hello' }, body: { replicas: 2 } });
    const latest = (await dev.call('listReleases', { params: { id: 'hello' } })).items[0];
    await live('hello', latest.version);
    const before = await healthy('hello', 2);
    const load = startLoad({ port: s.routerPort, host: 'hello.localhost' });
    await dev.call('restartApp', { params: { id: 'hello' } });
    await waitFor('new replicas', async () => {
      const items = (await dev.call('listContainers', { query: { app: 'hello' } })).items;
      return items.length === 2 && items.every((c) => c.status === 'healthy' && !before.some((b) => b.id === c.id));
    }, { timeoutMs: 90_000 });
    const r = await load.stop();
    assertNoDrops(r, 'during the restart');
    assert.ok(r.sent > 20);
  });

  test('recreate: every old replica stops before a new one starts; a recreate that fails brings the last good release back', async () => {
    await dev.call('createApp', { body: { name: 'rec', project: 'web', strategy: 'recreate', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    await dev.call('deployApp', { params: { id: 'rec' }, body: { image_id: image, replicas: 2 } });
    assert.equal((await live('rec', 1)).status, 'live');
    await healthy('rec', 2);
    const appId = (await dev.call('getApp', { params: { id: 'rec' } })).id;

    const since = String(Math.floor(Date.now() / 1000) - 1);
    const v2 = await dev.call('setEnv', { params: { id: 'rec' }, body: { set: { STEP: 'two' } } });
    assert.equal((await live('rec', v2.release!.version)).status, 'live');
    await healthyReplicas(dev, 'rec', 2, { release: 2, timeoutMs: 90_000 });
    assert.equal(JSON.parse((await get('rec')).body).env.STEP, 'two');
    // The engine's own record of the rollout: the last v1 container died before the first v2 started.
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const events = (
      await run('docker', ['events', '--since', since, '--until', until, '--filter', `label=berth.app=${appId}`, '--filter', 'type=container', '--format', '{{.Action}} {{index .Actor.Attributes "berth.version"}} {{.TimeNano}}'], { timeoutMs: 30_000 })
    ).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' '));
    const lastDie = Math.max(...events.filter(([a, v]) => a === 'die' && v === '1').map(([, , t]) => Number(t)));
    const starts = events.filter(([a, v]) => a === 'start' && v === '2').map(([, , t]) => Number(t));
    assert.equal(starts.length, 2, `two v2 replicas started: ${JSON.stringify(events)}`);
    assert.ok(lastDie < Math.min(...starts), `v1 stopped before v2 started: ${JSON.stringify(events)}`);

    const bad = await dev.call('setEnv', { params: { id: 'rec' }, body: { set: { CRASH_ON_START: '1' } } });
    const failed = await live('rec', bad.release!.version);
    assert.equal(failed.status, 'failed');
    assert.match(failed.reason ?? '', /crashing on start as asked/);
    assert.equal((await dev.call('getApp', { params: { id: 'rec' } })).release, 2, 'v2 is live again');
    await healthyReplicas(dev, 'rec', 2, { release: 2, timeoutMs: 90_000 });
    assert.equal(JSON.parse((await get('rec')).body).env.STEP, 'two');
    await dev.call('deleteApp', { params: { id: 'rec' } });
  });

  test('an image whose command cannot run fails its release with the reason in its log; the old release keeps serving', async () => {
    const bad = 'berth-test/bad-entrypoint:1';
    await run('docker', ['build', '-q', '-t', bad, '-'], { input: `FROM ${image}\nENTRYPOINT ["/no/such/binary"]\n`, timeoutMs: 120_000 });
    await dev.call('createApp', { body: { name: 'broken', project: 'web', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    await dev.call('deployApp', { params: { id: 'broken' }, body: { image_id: image, replicas: 1 } });
    assert.equal((await live('broken', 1)).status, 'live');
    const before = await healthy('broken', 1);
    const v2 = await dev.call('deployApp', { params: { id: 'broken' }, body: { image_id: bad } });
    const failed = await live('broken', v2.version);
    assert.equal(failed.status, 'failed');
    // Under init (every replica has one) the command's failure is an exit, with init's words in the log.
    assert.match(failed.reason ?? '', /exited with code 127/);
    assert.match(failed.reason ?? '', /no\/such\/binary/);
    assert.equal((await dev.call('getApp', { params: { id: 'broken' } })).release, 1);
    assert.deepEqual((await healthy('broken', 1)).map((c) => c.id), before.map((c) => c.id), 'the old replica was never touched');
    assert.equal((await get('broken')).status, 200);
    await dev.call('deleteApp', { params: { id: 'broken' } });
    await run('docker', ['rmi', bad], { timeoutMs: 30_000 });
  });

  test('apps in one project reach each other by name; other projects cannot reach them', async () => {
    await dev.call('createProject', { body: { name: 'other' } });
    await dev.call('createApp', { body: { name: 'api', project: 'web', slug: 'api-web' } });
    await dev.call('createApp', { body: { name: 'intruder', project: 'other' } });
    const a = await dev.call('deployApp', { params: { id: 'api-web' }, body: { image_id: image } });
    const b = await dev.call('deployApp', { params: { id: 'intruder' }, body: { image_id: image } });
    await live('api-web', a.version);
    await live('intruder', b.version);
    const [api] = await healthy('api-web', 1);
    const [intruder] = await healthy('intruder', 1);
    const hello = (await healthy('hello', 2))[0];
    const probe = (from: string, url: string) =>
      dockerExecFetch(from, url);
    assert.match(await probe(hello.docker_id!, 'http://api:8080/health'), /^OK 200/);
    assert.match(await probe(intruder.docker_id!, `http://${api.address}:8080/health`), /^ERR/);
    assert.match(await probe(intruder.docker_id!, 'http://api:8080/health'), /^ERR/);
  });

  test('a container that crashes shows as crashed, in events, and comes back', async () => {
    const [c] = await healthy('api-web', 1);
    await viaRouter(s.routerPort, 'api-web.localhost', '/crash');
    const crashed = await waitFor('a crash event', async () => {
      const ev = (await dev.call('listEvents', { query: { app: 'api-web' } })).items.find((e) => e.kind === 'container.crashed');
      return ev;
    }, { timeoutMs: 30_000 });
    assert.match(crashed.message, /exited with code 3/);
    assert.ok((crashed.data?.log as string[]).some((l) => l.includes('crashing as asked')), 'the crash event carries the log');
    await waitFor('the replica back in rotation', async () => {
      const items = (await dev.call('listContainers', { query: { app: 'api-web' } })).items;
      return items.length === 1 && items[0].id === c.id && items[0].status === 'healthy' && items[0].in_rotation;
    }, { timeoutMs: 60_000 });
    assert.equal((await viaRouter(s.routerPort, 'api-web.localhost')).status, 200);
  });

  test('logs of all replicas, and of one container', async () => {
    await get('hello', '/logged-path');
    const lines = await waitFor('the request in the log', async () => {
      const l = (await dev.call('appLogs', { params: { id: 'hello' }, query: { tail: 50 } })).lines;
      return l.some((x) => x.line.includes('GET /logged-path')) ? l : undefined;
    });
    // The replicas' own lines (the router's access lines, type router, are kept beside them: test/logs/store).
    const own = lines.filter((l) => l.process_type !== 'router');
    assert.ok(own.length > 0 && own.every((l) => l.container?.startsWith('hello-')), JSON.stringify(lines.filter((l) => !l.container?.startsWith('hello-'))));
    const [c] = (await dev.call('listContainers', { query: { app: 'hello' } })).items;
    const one = await dev.call('containerLogs', { params: { id: c.id }, query: { tail: 10 } });
    assert.ok(one.lines.length > 0);
  });

  test('deleting an app removes its containers and its route', async () => {
    const [c] = await healthy('intruder', 1);
    await dev.call('deleteApp', { params: { id: 'intruder' } });
    await waitFor('the container gone', async () => !(await runtime.inspectContainer(c.docker_id!)));
    await waitFor('404 for its host', async () => (await viaRouter(s.routerPort, 'intruder.localhost')).status === 404);
  });

  /** Runs a fetch from inside an app container (its network namespace) with node, as a neighbour would. */
  async function dockerExecFetch(containerId: string, url: string): Promise<string> {
    const { run } = await import('../../src/lib/exec.js');
    const script =
      "fetch(process.argv[1],{signal:AbortSignal.timeout(3000)}).then(r=>console.log('OK '+r.status)).catch(e=>console.log('ERR '+(e.cause&&e.cause.code||e.name)))";
    const r = await run('docker', ['exec', containerId, 'node', '-e', script, url], { timeoutMs: 20_000 });
    return r.stdout.trim();
  }
});
