import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { HaproxyRouter } from '../../src/router/haproxy/router.js';
import type { Route } from '../../src/router/types.js';
import { runOk } from '../../src/lib/exec.js';
import type { TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';

import { healthy, type Container, type Release } from '../support/rollout.js';

export { settled, healthy, type Release, type Container } from '../support/rollout.js';

/** Every engine container of one app of this instance, running or not, as `docker ps` reports them. */
export async function enginePs(s: TestServer, appId: string): Promise<{ id: string; state: string; version: string }[]> {
  const res = await runOk(
    'docker',
    ['ps', '-a', '--no-trunc', '--filter', `label=berth.instance=${s.instance}`, '--filter', `label=berth.app=${appId}`, '--format', '{{.ID}} {{.State}} {{.Label "berth.version"}}'],
    { timeoutMs: 30_000 },
  );
  return res.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id, state, version] = l.split(' ');
      return { id, state, version };
    });
}

/**
 * Asserts what a user would check after a fault: the API and the engine agree container for
 * container (no duplicate, no orphan), all of the expected release, running, healthy, in rotation.
 */
export async function assertConsistent(s: TestServer, c: BerthClient, app: string, replicas: number, version: number): Promise<Container[]> {
  const appId = (await c.call('getApp', { params: { id: app } })).id;
  const items = await healthy(c, app, replicas, { release: version });
  // Retired containers are stopped, then removed: wait for the engine to show only the live set.
  const engine = await waitFor(
    'the engine to hold exactly the API’s containers',
    async () => {
      const e = await enginePs(s, appId);
      return e.length === replicas ? e : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  ).catch(async (err) => {
    throw new Error(`${(err as Error).message}: ${JSON.stringify(await enginePs(s, appId))} vs ${JSON.stringify(items.map((x) => x.docker_id))}`);
  });
  assert.deepEqual(engine.map((e) => e.id).sort(), items.map((x) => x.docker_id).sort(), 'docker ps by label and GET /containers name the same containers');
  assert.ok(engine.every((e) => e.state === 'running' && e.version === String(version)), JSON.stringify(engine));
  assert.deepEqual(items.map((x) => x.replica).sort(), Array.from({ length: replicas }, (_, i) => i), 'one container per replica index');
  return items;
}

/** Exactly one live release, and it is the one the app says. */
export async function assertOneLive(c: BerthClient, app: string): Promise<Release> {
  const list = (await c.call('listReleases', { params: { id: app } })).items;
  const live = list.filter((r) => r.status === 'live');
  assert.equal(live.length, 1, `exactly one live release: ${list.map((r) => `v${r.version}:${r.status}`).join(' ')}`);
  assert.ok(!list.some((r) => r.status === 'pending' || r.status === 'deploying'), 'no release left half-deployed');
  assert.equal((await c.call('getApp', { params: { id: app } })).release, live[0].version);
  return live[0];
}

/** The routes the test server's HAProxy serves, read from its runtime API. */
export function servedRoutes(s: TestServer): Promise<Route[]> {
  return new HaproxyRouter({ dataDir: s.dataDir, httpPort: s.routerPort, httpsPort: s.routerHttpsPort }).current();
}

/** The pid of the test server's HAProxy master. */
export function haproxyPid(s: TestServer): number {
  return Number(readFileSync(join(s.dataDir, 'haproxy', 'haproxy.pid'), 'utf8'));
}

/** Start time and restart count per container, to prove nothing was restarted. */
export async function startTimes(ids: string[]): Promise<Record<string, string>> {
  const res = await runOk('docker', ['inspect', '--format', '{{.Id}} {{.State.StartedAt}} {{.RestartCount}}', ...ids], { timeoutMs: 30_000 });
  return Object.fromEntries(
    res.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [id, ...rest] = l.split(' ');
        return [id, rest.join(' ')];
      }),
  );
}
