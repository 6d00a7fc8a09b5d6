import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { runOk } from '../../src/lib/exec.js';
import { raw, startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { startLoad, viaRouter, assertNoDrops } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { assertConsistent, assertOneLive, healthy, servedRoutes, settled } from './helpers.js';

/**
 * Engine-wide faults: a restart of the Docker Engine and of PostgreSQL. Both disturb every other
 * test that uses them at the same moment, so scripts/test.sh runs this file after the main suite,
 * alone. The control plane runs on PostgreSQL here, for the second case.
 */
const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

/** Whether a process is still there (a zombie waiting for its parent to reap it counts as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const ensureDocker = () => runOk('bash', [resolve(ROOT, 'scripts/docker.sh')], { timeoutMs: 120_000 });

/** The container Berth runs an add-on in (by its label), or '' when none runs. */
const addonContainer = async (addonId: string) =>
  (await runOk('docker', ['ps', '-q', '--filter', `label=berth.addon=${addonId}`], { timeoutMs: 30_000 })).stdout.trim();
/** SQL run inside the add-on's container with its own credentials (fixed strings only: no user data). */
const psql = async (addonId: string, query: string) =>
  (
    await runOk('docker', ['exec', await addonContainer(addonId), 'sh', '-c', `PGPASSWORD="$BERTH_ADDON_PASSWORD" psql -h /tmp -U "$BERTH_ADDON_USER" -d "$BERTH_ADDON_DB" -Atc "${query}"`], {
      timeoutMs: 30_000,
    })
  ).stdout.trim();
const redis = async (addonId: string, ...args: string[]) =>
  (await runOk('docker', ['exec', await addonContainer(addonId), 'sh', '-c', `REDISCLI_AUTH="$BERTH_ADDON_PASSWORD" redis-cli ${args.join(' ')}`], { timeoutMs: 30_000 })).stdout.trim();

describe('faults: Docker Engine and PostgreSQL restarts', () => {
  let s: TestServer;
  let dev: BerthClient;
  let image: string;
  const app = 'engine';
  const host = `${app}.localhost`;

  const snapshot = async () => ({
    apps: (await dev.call('listApps', {})).items.map((a) => a.slug).sort(),
    releases: (await dev.call('listReleases', { params: { id: app } })).items.map((r) => `v${r.version}:${r.status}`),
    events: (await dev.call('listEvents', { query: { app } })).items.length,
  });

  const addonUp = (name: string) =>
    waitFor(`add-on ${name} to run`, async () => {
      const a = await dev.call('getAddon', { params: { id: name }, query: {} });
      return a.status === 'running' ? a : undefined;
    }, { timeoutMs: 120_000, intervalMs: 300 });
  let pgId = '';
  let redisId = '';

  before(async () => {
    image = await ensureTestAppImage(new DockerRuntime({}));
    s = await startServer({ engine: 'postgres' });
    dev = await s.newUser('dev');
    await dev.call('createProject', { body: { name: 'engine' } });
    // Add-ons with data in them, to see that data through the engine restart.
    pgId = (await dev.call('createAddon', { body: { type: 'postgres', name: 'db', project: 'engine' } })).id;
    redisId = (await dev.call('createAddon', { body: { type: 'redis', name: 'cache', project: 'engine' } })).id;
    await dev.call('createApp', { body: { name: app, project: 'engine', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    await dev.call('deployApp', { params: { id: app }, body: { image_id: image, replicas: 2 } });
    assert.equal((await settled(dev, app, 1)).status, 'live');
    await healthy(dev, app, 2);
    await addonUp('db');
    await addonUp('cache');
    await waitFor('the database to take queries', async () => {
      try {
        return (await psql(pgId, 'select 1')) === '1';
      } catch {
        return false;
      }
    }, { timeoutMs: 60_000, intervalMs: 300 });
    await psql(pgId, "create table notes (body text); insert into notes values ('before the engine restart')");
    assert.equal(await redis(redisId, 'SET', 'greeting', 'kept'), 'OK');
  });
  after(async () => {
    // Whatever happened, leave the engine running for whatever comes next.
    await ensureDocker();
    await s?.destroy();
  });

  test('Docker Engine restart: containers come back by their restart policy, Berth puts them back in rotation at their new addresses; add-on data is kept', async () => {
    const before = await assertConsistent(s, dev, app, 2, 1);
    const state = await snapshot();
    const pid = Number(readFileSync('/var/run/docker.pid', 'utf8'));
    process.kill(pid, 'SIGTERM');
    await waitFor('dockerd to exit', () => !alive(pid), { timeoutMs: 90_000, intervalMs: 200 });
    const t0 = Date.now();
    await ensureDocker();
    const engineUpMs = Date.now() - t0;

    // The same containers (restarted, not recreated), healthy, in rotation, at the addresses the
    // engine gives them now. One the engine cannot start again (it kept a task from a start its
    // shutdown interrupted: moby's "task ... already exists") is replaced, and an event says so.
    const items = await assertConsistent(s, dev, app, 2, 1);
    const healthyMs = Date.now() - t0;
    const replaced = (await dev.call('listEvents', { query: { app } })).items.filter((e) => e.kind === 'container.replaced');
    const kept = items.filter((c) => before.some((b) => b.docker_id === c.docker_id));
    assert.equal(items.length - kept.length, replaced.length, `restarted, or replaced with an event that says why: ${JSON.stringify(replaced.map((e) => e.message))}`);
    if (replaced.length) console.log(`# Docker Engine restart: ${replaced.length} replica(s) replaced: ${replaced[0]!.message}`);
    const runtime = new DockerRuntime({});
    for (const c of items) {
      const info = await runtime.inspectContainer(c.docker_id!);
      assert.equal(info?.state, 'running');
      assert.equal(c.address, Object.values(info!.addresses)[0], `${c.name}: the API shows the address the engine gave it`);
    }
    const upstreams = await waitFor('the router to send traffic to the current addresses', async () => {
      const route = (await servedRoutes(s)).find((r) => r.app === app);
      const want = items.map((c) => `${c.address}:${c.port}`).sort();
      return route && JSON.stringify([...route.upstreams].sort()) === JSON.stringify(want) ? route.upstreams : undefined;
    });
    assert.equal(upstreams.length, 2);
    await waitFor('the app to answer', async () => (await viaRouter(s.routerPort, host)).status === 200, { timeoutMs: 30_000 });
    const backMs = Date.now() - t0;
    const timeline = (await dev.call('listEvents', { query: { app } })).items.filter((e) => Date.parse(e.created_at) >= t0).map((e) => `+${Date.parse(e.created_at) - t0} ms ${e.kind}`);
    console.log(`# Docker Engine restart (from the old engine's exit; the new one answered after ${engineUpMs} ms): replicas healthy in the API after ${healthyMs} ms, the app answered after ${backMs} ms; events: ${timeline.join(', ')}`);
    // A figure to read, not a pass mark: how soon depends on the engine's restart policy and the
    // machine's load (the controller re-reads everything as soon as its event stream reconnects).

    const load = startLoad({ port: s.routerPort, host });
    await waitFor('some requests', () => load.result.sent > 200, { timeoutMs: 20_000 });
    const res = await load.stop();
    assertNoDrops(res, 'after the engine restart');
    assert.equal(res.hostnames.size, 2, 'both replicas serve');
    await assertOneLive(dev, app);
    const now = await snapshot();
    assert.deepEqual(now.apps, state.apps);
    assert.deepEqual(now.releases, state.releases);
    assert.ok(now.events >= state.events, 'no event lost');

    // The add-ons' containers came back by their restart policy, with their data.
    await addonUp('db');
    await addonUp('cache');
    const rows = await waitFor('the database to answer again', async () => {
      try {
        return await psql(pgId, 'select body from notes');
      } catch {
        return undefined;
      }
    }, { timeoutMs: 60_000, intervalMs: 300 });
    assert.equal(rows, 'before the engine restart', 'PostgreSQL add-on rows survive the engine restart');
    const value = await waitFor('Redis to answer again', async () => {
      try {
        return await redis(redisId, 'GET', 'greeting');
      } catch {
        return undefined;
      }
    }, { timeoutMs: 60_000, intervalMs: 300 });
    assert.equal(value, 'kept', 'Redis add-on data survives the engine restart');

    // The control plane still drives the engine: a deploy after the restart goes live.
    await dev.call('deployApp', { params: { id: app }, body: { image_id: image } });
    assert.equal((await settled(dev, app, 2)).status, 'live');
    await assertConsistent(s, dev, app, 2, 2);
  });

  test('PostgreSQL restart under the control plane: it stays up, the app keeps serving, the API works after, nothing is lost', async () => {
    const state = await snapshot();
    const [version, cluster] = (await runOk('pg_lsclusters', ['-h'], { timeoutMs: 10_000 })).stdout.trim().split('\n')[0].split(/\s+/);
    const load = startLoad({ port: s.routerPort, host });
    const statuses = new Map<number, number>();
    let polling = true;
    let connectionErrors = 0;
    const poller = (async () => {
      while (polling) {
        try {
          const r = await raw(s, 'GET', '/healthz');
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        } catch {
          connectionErrors++;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      await runOk('pg_ctlcluster', [version, cluster, 'restart'], { timeoutMs: 120_000 });
      await waitFor('/healthz to answer 200', async () => (await raw(s, 'GET', '/healthz')).status === 200, { timeoutMs: 30_000 });
      // The pool's connections died with the server: the API must work again on fresh ones.
      await waitFor('the API to work', async () => (await dev.call('listApps', {})).items.length > 0, { timeoutMs: 30_000 });
    } finally {
      polling = false;
      await poller;
    }
    const res = await load.stop();
    assertNoDrops(res, 'the data plane does not need the database');
    assert.equal(connectionErrors, 0, 'the control plane process stayed up and kept answering');
    for (const code of statuses.keys()) assert.ok(code === 200 || code === 503, `/healthz answered ${code}`);
    console.log(`# PostgreSQL restart: /healthz answers ${JSON.stringify(Object.fromEntries(statuses))}`);

    const now = await snapshot();
    assert.deepEqual(now.apps, state.apps);
    assert.deepEqual(now.releases, state.releases);
    assert.ok(now.events >= state.events);
    // Writes work, and the controllers too: a scale goes through.
    await dev.call('scaleApp', { params: { id: app }, body: { replicas: 3 } });
    const live = await assertOneLive(dev, app);
    await assertConsistent(s, dev, app, 3, live.version);
    const r = await viaRouter(s.routerPort, host);
    assert.equal(r.status, 200);
  });
});
