import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import type { RouteOutput } from '../../src/api/contract/index.js';
import { run } from '../../src/lib/exec.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { CLI_MAIN, ENGINES, startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { settled } from '../support/rollout.js';
import { uniqueSuffix, waitFor } from '../support/wait.js';

type BerthEvent = RouteOutput<'listEvents'>['items'][number];

/**
 * Events say which app and who: the user whose call or push caused them, or Berth's own loop. Two
 * users in two projects: each sees their own project's events only, over the API, the socket and the CLI.
 */
for (const engine of ENGINES) describe(`events name their app and their actor (${engine})`, () => {
  let s: TestServer;
  let alice: BerthClient;
  let bob: BerthClient;
  let home: string;
  let image: string;
  const mine = `ev-a-${uniqueSuffix()}`;
  const theirs = `ev-b-${uniqueSuffix()}`;
  const env = (c: BerthClient) => ({ ...process.env, BERTH_CONFIG: join(home, 'config.json'), BERTH_URL: s.url, BERTH_TOKEN: c.opts.token });
  const berth = (c: BerthClient, ...args: string[]) => run(process.execPath, [CLI_MAIN, ...args], { timeoutMs: 60_000, env: env(c) });

  before(async () => {
    image = await ensureTestAppImage(new DockerRuntime({}));
    s = await startServer({ engine });
    home = mkdtempSync(join(tmpdir(), 'berth-events-'));
    alice = await s.newUser('alice');
    bob = await s.newUser('bob');
    await alice.call('createProject', { body: { name: 'alices' } });
    await bob.call('createProject', { body: { name: 'bobs' } });
    await alice.call('createApp', { body: { name: mine, project: 'alices', health_check: { path: '/health', timeout_s: 60, grace_s: 0 } } });
    await bob.call('createApp', { body: { name: theirs, project: 'bobs' } });
  });
  after(async () => {
    await s?.destroy();
    rmSync(home, { recursive: true, force: true });
  });

  test("a deploy's events name the app and who: the user for the release, Berth's app controller for the rollout", async () => {
    const rel = await alice.call('deployApp', { params: { id: mine }, body: { image_id: image } });
    assert.equal((await settled(alice, mine, rel.version, 90_000)).status, 'live');
    await bob.call('scaleApp', { params: { id: theirs }, body: { replicas: 0 } });
    const app = await alice.call('getApp', { params: { id: mine } });
    const items = (await alice.call('listEvents', { query: { limit: 1000 } })).items;
    const created = items.find((e) => e.kind === 'release.created');
    assert.deepEqual(created?.app, { id: app.id, slug: mine, name: mine });
    assert.equal(created?.actor?.kind, 'user');
    assert.equal(created?.actor?.name, 'alice');
    const live = items.find((e) => e.kind === 'release.live');
    assert.deepEqual(live?.actor, { kind: 'system', id: null, name: 'apps' }, JSON.stringify(items));
    assert.equal(live?.app?.slug, mine);
    // Bob's project is not Alice's: none of its events, and his app is not hers to ask about.
    assert.ok(items.length > 0 && items.every((e) => e.app?.slug !== theirs && e.actor?.name !== 'bob'), JSON.stringify(items));
    await assert.rejects(alice.call('listEvents', { query: { app: theirs } }), (e: { status: number }) => e.status === 404);
    const bobs = (await bob.call('listEvents', { query: { limit: 1000 } })).items;
    assert.deepEqual(bobs.map((e) => [e.kind, e.app?.slug, e.actor?.name]), [['app.scaled', theirs, 'bob']]);
  });

  test('the live socket carries app and actor, and nothing of the other project', async () => {
    const got: BerthEvent[] = [];
    const stop = new AbortController();
    let opened!: () => void;
    const open = new Promise<void>((r) => (opened = r));
    const streaming = alice.stream('followEvents', {}, (e) => got.push(e), { signal: stop.signal, onOpen: () => opened() });
    await open;
    await bob.call('scaleApp', { params: { id: theirs }, body: { replicas: 1 } });
    await alice.call('scaleApp', { params: { id: mine }, body: { replicas: 2 } });
    const scaled = await waitFor('alice to hear her scale', async () => got.find((e) => e.kind === 'app.scaled'));
    stop.abort();
    await streaming;
    assert.equal(scaled.app?.slug, mine);
    assert.equal(scaled.actor?.name, 'alice');
    assert.ok(got.every((e) => e.app?.slug !== theirs), JSON.stringify(got));
  });

  test('berth events: a table of time, app, actor, kind and message; --json; --follow prints new ones', async () => {
    const table = await berth(alice, 'events', '--app', mine);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^TIME\s+APP\s+ACTOR\s+KIND\s+MESSAGE/);
    assert.match(table.stdout, new RegExp(`${mine}\\s+alice\\s+release\\.created\\s+v1 created`));
    assert.match(table.stdout, new RegExp(`${mine}\\s+system:apps\\s+release\\.live`));
    assert.ok(!table.stdout.includes(theirs));

    const json = await berth(alice, '--json', 'events');
    assert.equal(json.code, 0, json.stderr);
    const items = JSON.parse(json.stdout) as BerthEvent[];
    assert.ok(items.some((e) => e.kind === 'app.scaled' && e.actor?.name === 'alice' && e.app?.slug === mine));
    assert.ok(items.every((e) => e.app?.slug !== theirs), 'bob\'s events stay his');
    assert.equal((await berth(alice, 'events', '--app', theirs)).code, 1, "another project's app is not found");

    // --follow: the recent ones, then each new one as it happens, until Ctrl-C.
    const child = spawn(process.execPath, [CLI_MAIN, '--json', 'events', '--follow', '--app', mine, '--limit', '1'], { env: env(alice) });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await waitFor('the recent event', async () => (out.includes('\n') ? true : undefined));
      await bob.call('scaleApp', { params: { id: theirs }, body: { replicas: 0 } });
      await alice.call('scaleApp', { params: { id: mine }, body: { replicas: 1 } });
      await waitFor('the scale to be printed', async () => (out.includes('scaled to 1') ? true : undefined));
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, out);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as BerthEvent);
    const scaled = lines.find((e) => e.message.endsWith('scaled to 1'));
    assert.equal(scaled?.actor?.name, 'alice');
    assert.ok(lines.every((e) => e.app?.slug === mine), out);
  });
});
