import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { openStore, now, type Store } from '../../src/store/db.js';
import { createUser } from '../../src/store/users.js';
import { createProject } from '../../src/store/projects.js';
import { appById, insertApp, updateApp, type AppRow } from '../../src/store/apps.js';
import { containersOfApp, type ContainerRow } from '../../src/store/containers.js';
import { listReleases, releaseConfig, type ReleaseRow } from '../../src/store/releases.js';
import { createRelease } from '../../src/domain/releases.js';
import { Events } from '../../src/domain/events.js';
import { BuildLogHub } from '../../src/domain/build-logs.js';
import { SecretBox } from '../../src/lib/crypto.js';
import { RouteController } from '../../src/controllers/routes.js';
import { AppController } from '../../src/controllers/apps/index.js';
import type { ControllerDeps } from '../../src/controllers/deps.js';
import { FakeClock, FakeRouter, FakeRuntime } from './fakes.js';

export type Strategy = ReleaseConfig['strategy'];
type ReleaseConfig = ReturnType<typeof releaseConfig>;

/**
 * One app on a real (SQLite) store, the real app and route controllers, and a fake engine, router
 * and clock. reconcile() runs the app controller once for the app, as a nudge would.
 */
export interface World {
  store: Store;
  runtime: FakeRuntime;
  router: FakeRouter;
  clock: FakeClock;
  controller: AppController;
  appId: string;
  slug: string;
  app(): Promise<AppRow>;
  /** A new release of the app (image and settings), as the deploy and config handlers make it. */
  deploy(image: string, settings?: Partial<Pick<AppRow, 'replicas' | 'strategy' | 'health_check' | 'port'>>): Promise<ReleaseRow>;
  reconcile(): Promise<void>;
  releases(): Promise<ReleaseRow[]>;
  rows(): Promise<ContainerRow[]>;
  /** The upstreams the router sends the app's traffic to now. */
  served(): string[];
  events(): Promise<string[]>;
  /** A new control plane on the same database, engine and router (the old one is gone, as after kill -9). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

// In memory when the machine has a tmpfs: these tests measure logic, not the disk.
const TMP = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
let template: Promise<string> | undefined;

/** A database migrated once per test process; each world starts from a copy of it. */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const dir = mkdtempSync(join(TMP, 'berth-fast-template-'));
    await (await openStore({ dataDir: dir, databaseUrl: null })).close();
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return join(dir, 'berth.db');
  })();
  return template;
}

export async function world(opts: { strategy?: Strategy; replicas?: number } = {}): Promise<World> {
  const dir = mkdtempSync(join(TMP, 'berth-fast-'));
  copyFileSync(await migratedTemplate(), join(dir, 'berth.db'));
  const config = loadConfig({ BERTH_DATA_DIR: dir, ROUTER_DOMAIN: 'test' });
  const store = await openStore({ dataDir: dir, databaseUrl: null });
  const db = store.db;
  const user = await createUser(db, { username: 'admin', passwordHash: 'x', isAdmin: true });
  const projectId = await createProject(db, user.id, 'default');
  const appId = `app_${randomBytes(6).toString('hex')}`;
  const slug = 'web';
  const ts = now();
  await insertApp(db, {
    id: appId,
    project_id: projectId,
    name: 'web',
    slug,
    image: null,
    replicas: opts.replicas ?? 2,
    memory_mb: 256,
    cpu: 0,
    port: 8080,
    strategy: opts.strategy ?? 'rolling',
    health_check: { path: '/health', timeout_s: 5, grace_s: 0 },
    env: {},
    release_id: null,
    live_release_id: null,
    stopped: 0,
    restart_seq: 0,
    auto_deploy: 1,
    created_at: ts,
    updated_at: ts,
  });
  const runtime = new FakeRuntime();
  const router = new FakeRouter();
  const clock = new FakeClock();
  const log = pino({ level: 'silent' });
  const events = new Events(db);
  const routes = new RouteController({ db, log, config }, router);
  const deps: ControllerDeps = {
    config,
    db,
    secrets: new SecretBox(randomBytes(32)),
    replicas: runtime,
    networks: runtime,
    engineEvents: runtime,
    runs: runtime,
    volumes: runtime,
    images: runtime,
    routes,
    events,
    buildLogs: new BuildLogHub(),
    log,
    clock,
    probe: async (url) => (runtime.answers(new URL(url).hostname) ? { healthy: true, said: 'HTTP 200' } : { healthy: false, said: 'connection refused' }),
    reachable: async (address) => runtime.answers(address),
    instanceId: 'fast-test',
  };
  // A retry after a failure would run behind the test's back: the tests reconcile explicitly.
  const make = () => new AppController(deps, { backoff: { baseMs: 3_600_000, maxMs: 3_600_000 } });
  const w: World = {
    store,
    runtime,
    router,
    clock,
    controller: make(),
    appId,
    slug,
    app: async () => (await appById(db, appId))!,
    async deploy(image, settings = {}) {
      if (Object.keys(settings).length) await updateApp(db, appId, settings);
      return createRelease(db, events, await w.app(), { image, description: `Deploy ${image}` });
    },
    reconcile: () => w.controller.schedule(appId),
    releases: async () => (await listReleases(db, appId)).reverse(),
    rows: () => containersOfApp(db, appId),
    served: () => router.routes.find((r) => r.app === slug)?.upstreams ?? [],
    events: async () => (await db.selectFrom('events').select('kind').where('app_id', '=', appId).orderBy('id').execute()).map((e) => e.kind),
    async restart() {
      await w.controller.stop();
      w.controller = make();
    },
    async close() {
      await w.controller.stop();
      await routes.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return w;
}

/** Status of each release, oldest first: ['superseded', 'live']. */
export const statuses = async (w: World) => (await w.releases()).map((r) => r.status);

/** The addresses of the app's healthy replicas of one release. */
export async function healthyOf(w: World, release: ReleaseRow): Promise<string[]> {
  return (await w.rows()).filter((r) => r.release_id === release.id && r.status === 'healthy' && r.address).map((r) => `${r.address}:${r.port}`).sort();
}

/** The world is settled on `live`: it alone runs, with `replicas` healthy replicas, all of them (and only they) served. */
export async function assertSettled(w: World, live: ReleaseRow, replicas: number, check: (ok: boolean, msg: string) => void) {
  const app = await w.app();
  check(app.live_release_id === live.id && app.release_id === live.id, `app targets and runs v${live.version}`);
  const healthy = await healthyOf(w, live);
  check(healthy.length === replicas, `${replicas} healthy replicas of v${live.version}, got ${healthy.length}`);
  check(JSON.stringify([...w.served()].sort()) === JSON.stringify(healthy), `the router serves exactly them: ${w.served()} vs ${healthy}`);
  const running = w.runtime.running().map((c) => c.spec.labels['berth.release']);
  check(running.length === replicas && running.every((id) => id === live.id), `only v${live.version} runs on the engine (${running.length} running)`);
  const rowNames = new Set((await w.rows()).map((r) => r.name));
  const engineNames = [...w.runtime.containers.values()].map((c) => c.spec.name);
  check(engineNames.every((n) => rowNames.has(n)) && rowNames.size === engineNames.length, 'rows and engine containers match one to one');
}
