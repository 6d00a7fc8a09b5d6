import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import pino from 'pino';
import { RouteController } from '../../src/controllers/routes.js';
import { openStore, now } from '../../src/store/db.js';
import type { ApiContext } from '../../src/api/context.js';
import type { Challenge, Route, Router } from '../../src/router/types.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A router whose reload takes as long as the test wants: the window where the database and the proxy differ. */
class GatedRouter implements Router {
  applied: Route[] = [];
  private open: (() => void) | null = null;
  entered = deferred();
  async ensureRunning(): Promise<void> {}
  async current(): Promise<Route[]> {
    return this.applied;
  }
  async apply(routes: Route[]): Promise<void> {
    this.entered.resolve();
    await new Promise<void>((r) => (this.open = r));
    this.applied = routes;
  }
  release(): void {
    this.open?.();
  }
  async setCertificates(): Promise<void> {}
  async setAcmeChallenges(): Promise<void> {}
  async stats(): Promise<null> {
    return null;
  }
}

/** A store with one app and one healthy container of it in rotation (10.0.0.2:8080). */
async function seeded(t: TestContext): Promise<ApiContext> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-routes-'));
  const store = await openStore({ dataDir: dir, databaseUrl: null });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const db = store.db;
  const ts = now();
  await db.insertInto('users').values({ id: 'u1', username: 'u', password_hash: 'x', is_admin: 1, disabled: 0, created_at: ts, updated_at: ts }).execute();
  await db.insertInto('projects').values({ id: 'p1', name: 'p', owner_id: 'u1', created_at: ts, updated_at: ts }).execute();
  await db
    .insertInto('apps')
    .values({
      id: 'a1', project_id: 'p1', name: 'web', slug: 'web', image: 'img', replicas: 1, memory_mb: 64, cpu: 1, port: 8080,
      strategy: 'rolling', health_check: '{"path":"/health"}', env: '{}', release_id: null, live_release_id: null, stopped: 0, restart_seq: 0,
      auto_deploy: 0, created_at: ts, updated_at: ts,
    })
    .execute();
  await db
    .insertInto('releases')
    .values({ id: 'r1', app_id: 'a1', version: 1, image: 'img', config: '{}', status: 'live', reason: null, description: '', build_id: null, created_by: null, created_at: ts, updated_at: ts })
    .execute();
  await db
    .insertInto('containers')
    .values({
      id: 'c1', app_id: 'a1', release_id: 'r1', replica: 1, gen: 0, name: 'web-1', docker_id: 'd', node: 'local', address: '10.0.0.2',
      port: 8080, status: 'healthy', in_rotation: 1, message: null, process_type: 'web', created_at: ts, updated_at: ts,
    })
    .execute();

  return { db, config: { routerDomain: 'localhost' }, log: pino({ level: 'silent' }) } as unknown as ApiContext;
}

test('a container counts as served only once the router has applied it, not when the database wants it', async (t) => {
  const ctx = await seeded(t);
  const db = ctx.db;
  const router = new GatedRouter();
  const routes = new RouteController(ctx, router);
  assert.equal(routes.serves('10.0.0.2', 8080), false, 'not known to be served before the router is read');

  const synced = routes.sync();
  await router.entered.promise;
  assert.equal(routes.serves('10.0.0.2', 8080), false, 'not served while the first reload is under way');
  router.release();
  await synced;
  assert.equal(routes.serves('10.0.0.2', 8080), true);
  assert.deepEqual(router.applied, [{ hosts: ['web.localhost'], app: 'web', upstreams: ['10.0.0.2:8080'], healthPath: '/health', drainTimeoutMs: 30_000 }]);

  // Take it out of rotation: while the proxy reloads it still serves the container, and says so.
  router.entered = deferred();
  await db.updateTable('containers').set({ in_rotation: 0 }).where('id', '=', 'c1').execute();
  const out = routes.sync();
  await router.entered.promise;
  assert.equal(routes.serves('10.0.0.2', 8080), true);
  router.release();
  await out;
  assert.equal(routes.serves('10.0.0.2', 8080), false);

  // Back in rotation, then the router stops answering: what it serves is unknown, so not claimed.
  await db.updateTable('containers').set({ in_rotation: 1 }).where('id', '=', 'c1').execute();
  router.entered = deferred();
  const back = routes.sync();
  await router.entered.promise;
  router.release();
  await back;
  assert.equal(routes.serves('10.0.0.2', 8080), true);
  router.current = () => Promise.reject(new Error('connection refused'));
  await routes.prime();
  assert.equal(routes.serves('10.0.0.2', 8080), false);
});

/** A router that loads at once and then holds its drain until told. */
class DrainingRouter implements Router {
  loads: Route[][] = [];
  private drains: (() => void)[] = [];
  async ensureRunning(): Promise<void> {}
  async current(): Promise<Route[]> {
    return this.loads.at(-1) ?? [];
  }
  async apply(routes: Route[], _challenges?: Challenge[], loaded?: (removed: string[]) => void): Promise<void> {
    const unchanged = isDeepStrictEqual(routes, this.loads.at(-1));
    const kept = new Set(routes.flatMap((r) => r.upstreams));
    const removed = (this.loads.at(-1) ?? []).flatMap((r) => r.upstreams).filter((u) => !kept.has(u));
    this.loads.push(routes);
    loaded?.(removed);
    // Like the real router: nothing changed, nothing to drain.
    if (!unchanged) await new Promise<void>((r) => this.drains.push(r));
  }
  async setCertificates(): Promise<void> {}
  async setAcmeChallenges(): Promise<void> {}
  async stats(): Promise<null> {
    return null;
  }
  drainAll(): void {
    for (const d of this.drains.splice(0)) d();
  }
}

test("a route change does not wait for another change's drain; each sync still resolves only after its own", async (t) => {
  const ctx = await seeded(t);
  const router = new DrainingRouter();
  const routes = new RouteController(ctx, router);
  let firstDone = false;
  const first = routes.sync().then(() => (firstDone = true));
  await waitUntil(() => router.loads.length === 1);
  // Another app's container leaves rotation while the first change is still draining.
  await ctx.db.updateTable('containers').set({ in_rotation: 0 }).where('id', '=', 'c1').execute();
  const second = routes.sync();
  await waitUntil(() => router.loads.length === 2);
  assert.deepEqual(router.loads[1][0].upstreams, [], 'the second change reached the router during the first drain');
  assert.equal(firstDone, false, 'the first sync still waits for its drain');
  assert.equal(routes.serves('10.0.0.2', 8080), false, 'what is served follows the loads, not the drains');
  router.drainAll();
  await Promise.all([first, second]);
});

async function waitUntil(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), 'condition not reached');
}

test('a sync whose change an earlier load already carried still waits for that load to drain', async (t) => {
  const ctx = await seeded(t);
  const router = new DrainingRouter();
  const routes = new RouteController(ctx, router);
  const first = routes.sync();
  await waitUntil(() => router.loads.length === 1);
  router.drainAll();
  await first;
  // The replica leaves rotation; a sync removes it and drains...
  await ctx.db.updateTable('containers').set({ in_rotation: 0 }).where('id', '=', 'c1').execute();
  const removing = routes.sync();
  await waitUntil(() => router.loads.length === 2);
  // ...and the caller that took it out syncs only now: nothing left to load, but it may not stop
  // the replica before the drain is over.
  let laterDone = false;
  const later = routes.sync().then(() => (laterDone = true));
  await waitUntil(() => router.loads.length === 3);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(laterDone, false, 'the later sync waits for the drain it depends on');
  router.drainAll();
  await Promise.all([removing, later]);
  assert.equal(laterDone, true);
});
