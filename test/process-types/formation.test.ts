import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type BerthClient } from '../../src/client/index.js';
import { CLI_MAIN, startServer, type TestServer } from '../support/server.js';
import { run } from '../../src/lib/exec.js';
import { settled } from '../support/rollout.js';
import { listSourceFiles, packTarGz } from '../../src/cli/pack.js';
import { buildArchive, removeImages, waitBuild } from '../builds/helpers.js';
import { NODE_QUEUE, NODE_WORKER, crashReported, formed as formedIn, heard as heardBy } from './helpers.js';
import { request } from 'node:http';
import { viaRouter } from '../support/load.js';
import { waitFor } from '../support/wait.js';

/**
 * Heroku's process model on the real Docker Engine: a built app whose Procfile has `web` and
 * `worker` runs both (the worker reports to web by the app's name, and web lists what it hears),
 * scales them apart through the API and the CLI, rolls both with a new release, and brings a
 * killed worker back.
 */
describe('process types', () => {
  let s: TestServer;
  let dev: BerthClient;
  const berth = (args: string[]) => run(process.execPath, [CLI_MAIN, ...args], { timeoutMs: 60_000, env: { ...process.env, BERTH_URL: s.url, BERTH_TOKEN: dev.opts.token! } });
  const formed = (web: number, worker: number, release: number) => formedIn(dev, 'jobs', web, worker, release);
  const heard = (n: number, release: string) => heardBy(s.routerPort, 'jobs.localhost', n, release);

  before(async () => {
    s = await startServer();
    dev = await s.newUser('dev');
    await dev.call('createProject', { body: { name: 'procs' } });
    await dev.call('createApp', { body: { name: 'jobs', project: 'procs', health_check: { path: '/workers', timeout_s: 60, grace_s: 0 } } });
    // The worker reaches web by the app's name on the project network (web's replicas carry it as a DNS alias).
    await dev.call('setEnv', { params: { id: 'jobs' }, body: { set: { BEAT_HOST: 'jobs' } } });
  });
  after(async () => {
    await s?.destroy();
    await removeImages(['jobs', 'mill']);
  });

  test('web and worker both run; each scales on its own; a new release rolls both; a killed worker comes back', async () => {
    const built = await waitBuild(dev, (await buildArchive(dev, 'jobs', await packTarGz(NODE_WORKER, await listSourceFiles(NODE_WORKER)))).id);
    assert.equal(built.status, 'succeeded', built.message ?? '');
    assert.equal((await settled(dev, 'jobs', 1, 120_000)).status, 'live');
    assert.deepEqual(await dev.call('getFormation', { params: { id: 'jobs' } }), { web: 1, worker: 1 }, 'a Procfile type runs once until scaled');
    const v1 = await formed(1, 1, 1);
    const seen = await heard(1, 'v1');
    assert.equal(seen.workers[0].type, 'worker', 'the worker knows its process type');
    const worker1 = v1.find((x) => x.process_type === 'worker')!;
    assert.match(worker1.name, /-v1-worker-r0-g0$/);

    // The worker alone scales: web keeps its one replica.
    assert.deepEqual(await dev.call('updateFormation', { params: { id: 'jobs' }, body: { worker: 3 } }), { web: 1, worker: 3 });
    await formed(1, 3, 1);
    await heard(3, 'v1');
    // Then web alone, through the CLI; the workers stay.
    const scaled = await berth(['ps:scale', 'jobs', 'web=2', '--json']);
    assert.deepEqual(JSON.parse(scaled.stdout), { web: 2, worker: 3 });
    await formed(2, 3, 1);
    assert.equal((await dev.call('getApp', { params: { id: 'jobs' } })).replicas, 2);
    await dev.call('updateFormation', { params: { id: 'jobs' }, body: { web: 1, worker: 2 } });
    await formed(1, 2, 1);
    const ps = (await berth(['ps', 'jobs'])).stdout;
    assert.match(ps, /\bTYPE\b/);
    assert.equal(ps.split('\n').filter((l) => /\bworker\b.*\brunning\b/.test(l)).length, 2, ps);

    // An unknown type is refused naming it, and changes nothing.
    const refused = await dev.call('updateFormation', { params: { id: 'jobs' }, body: { worker: 1, clock: 1 } }).catch((e: unknown) => e);
    assert.ok(refused instanceof ApiError && refused.status === 400, String(refused));
    assert.deepEqual(refused.details, { field: 'clock' });
    assert.deepEqual(await dev.call('getFormation', { params: { id: 'jobs' } }), { web: 1, worker: 2 });

    // A config change makes v2 (no build): both types roll to it, keeping the formation.
    await dev.call('setEnv', { params: { id: 'jobs' }, body: { set: { MARK: 'two' } } });
    assert.equal((await settled(dev, 'jobs', 2, 120_000)).status, 'live');
    const v2 = await formed(1, 2, 2);
    await heard(2, 'v2');
    const oldIds = new Set(v1.map((x) => x.docker_id));
    assert.ok(v2.every((x) => !oldIds.has(x.docker_id)), 'every replica is new');
    // The old workers were stopped with SIGTERM (their grace period), not killed.
    const events = (await dev.call('listEvents', { query: { app: 'jobs', limit: 1000 } })).items;
    const crashes = events.filter((e) => e.kind === 'container.crashed');
    assert.deepEqual(crashes.map((e) => e.message), [], 'a rollout or a scale-down is no crash');

    // A worker killed behind Berth's back is seen as crashed and started again.
    const victim = v2.find((x) => x.process_type === 'worker')!;
    await run('docker', ['kill', victim.docker_id!], { timeoutMs: 30_000 });
    await crashReported(dev, 'jobs', victim.id, 30_000);
    const back = await formed(1, 2, 2);
    assert.ok(back.some((x) => x.id === victim.id), 'the same replica runs again');
    const state = (await run('docker', ['inspect', '-f', '{{.State.Running}}', victim.docker_id!], { timeoutMs: 30_000 })).stdout.trim();
    assert.equal(state, 'true');
    await heard(2, 'v2');
  });

  test('workers consume a queue in a Redis add-on that web fills: every job done once, shared by the workers, and on after one is killed', async () => {
    await dev.call('createApp', { body: { name: 'mill', project: 'procs' } });
    await dev.call('createAddon', { body: { type: 'redis', name: 'queue', project: 'procs' } });
    await waitFor('the Redis add-on to run', async () => ((await dev.call('getAddon', { params: { id: 'queue' }, query: {} })).status === 'running' ? true : undefined), { timeoutMs: 120_000, intervalMs: 300 });
    await dev.call('attachAddon', { params: { id: 'queue' }, query: {}, body: { app: 'mill' } });
    const built = await waitBuild(dev, (await buildArchive(dev, 'mill', await packTarGz(NODE_QUEUE, await listSourceFiles(NODE_QUEUE)))).id);
    assert.equal(built.status, 'succeeded', built.message ?? '');
    const live = (await dev.call('listReleases', { params: { id: 'mill' } })).items[0]!.version;
    assert.equal((await settled(dev, 'mill', live, 120_000)).status, 'live');
    assert.deepEqual(await dev.call('updateFormation', { params: { id: 'mill' }, body: { worker: 2 } }), { web: 1, worker: 2 });
    const workers = (await formedIn(dev, 'mill', 1, 2, live)).filter((x) => x.process_type === 'worker');

    type Done = { done: Record<string, string>; taken: number; workers: string[] };
    const queue = async (n: number): Promise<string[]> => {
      const r = await post(s.routerPort, 'mill.localhost', `/jobs?n=${n}`);
      assert.equal(r.status, 200, r.body);
      return (JSON.parse(r.body) as { queued: string[] }).queued;
    };
    const allDone = (ids: string[]) =>
      waitFor(`the workers to do ${ids.length} jobs`, async () => {
        const r = await viaRouter(s.routerPort, 'mill.localhost', '/done');
        if (r.status !== 200) return undefined;
        const d = JSON.parse(r.body) as Done;
        return ids.every((id) => d.done[id]) ? d : undefined;
      }, { timeoutMs: 60_000, intervalMs: 250 });

    // Both workers are waiting on the queue before it fills (each says so in the set `workers`).
    const hostnames = await Promise.all(workers.map(async (w) => (await run('docker', ['inspect', '-f', '{{.Config.Hostname}}', w.docker_id!], { timeoutMs: 30_000 })).stdout.trim()));
    await waitFor('both workers to start', async () => {
      const r = await viaRouter(s.routerPort, 'mill.localhost', '/done');
      return r.status === 200 && hostnames.every((h) => (JSON.parse(r.body) as Done).workers.includes(h)) ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    const first = await queue(40);
    const d1 = await allDone(first);
    assert.equal(d1.taken, 40, 'each job was taken by exactly one worker, once');
    const doers = new Set(first.map((id) => d1.done[id]));
    assert.deepEqual([...doers].sort(), hostnames.sort(), 'both workers took jobs, and only they did');

    // A worker killed behind Berth's back is restarted, and the queue keeps being worked.
    const victim = workers[0]!;
    await run('docker', ['kill', victim.docker_id!], { timeoutMs: 30_000 });
    await crashReported(dev, 'mill', victim.id, 30_000);
    await formedIn(dev, 'mill', 1, 2, live);
    const second = await queue(20);
    const d2 = await allDone(second);
    assert.equal(d2.taken, 60, 'no job was taken twice across the restart');
  });
});

/** One POST through the router (viaRouter sends GETs only). */
function post(port: number, host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { host }, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`POST ${path}: no answer in 10 s`))).on('error', reject).end();
  });
}
