#!/usr/bin/env node
import { mkdirSync } from 'node:fs';
import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { openStore } from '../store/db.js';
import { instanceId } from '../store/meta.js';
import { buildServer } from '../api/server.js';
import type { ApiContext } from '../api/context.js';
import { Events } from '../domain/events.js';
import { DockerRuntime } from '../runtime/docker.js';
import { CaddyRouter } from '../router/caddy.js';
import { RouteController } from '../controllers/routes.js';
import { AppController } from '../controllers/apps/index.js';
import { systemClock, type ControllerDeps } from '../controllers/deps.js';
import { probe } from '../controllers/health.js';
import { BuildLogHub } from '../domain/build-logs.js';
import { BuildController } from '../controllers/builds.js';
import { DomainController } from '../controllers/domains.js';
import { VolumeController } from '../controllers/volumes.js';
import { RunController } from '../controllers/runs/index.js';
import { AddonController } from '../controllers/addons/index.js';
import { ensureAdmin, loadSecretBox } from './bootstrap.js';
import { runtimeImage } from '../builder/stacks.js';

async function main() {
  const config = loadConfig();
  const log = pino({ level: config.logLevel, base: { service: 'berth' } });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  log.info({ engine: store.engine, dataDir: config.dataDir }, 'database ready');
  await ensureAdmin(store.db, config.dataDir, config.adminPassword, log);

  const runtime = new DockerRuntime({ dockerHost: config.dockerHost, helperImage: runtimeImage() });
  const router = new CaddyRouter({
    dataDir: config.dataDir,
    httpPort: config.routerHttpPort,
    httpsPort: config.routerHttpsPort,
    admin: config.routerAdmin,
    domain: config.routerDomain,
    acmeEmail: config.acmeEmail,
    redirectHttps: config.redirectHttps,
    logger: log.child({ component: 'router' }),
  });
  const events = new Events(store.db);
  const secrets = loadSecretBox(config.dataDir);
  const buildLogs = new BuildLogHub();
  const instance = await instanceId(store.db);
  // Wiring, bottom up: the route controller needs nothing above it; the app controller syncs
  // routes; the build controller nudges the app controller; the API reaches each through ApiContext.
  const routes = new RouteController({ db: store.db, log, config }, router);
  const deps: ControllerDeps = {
    config,
    db: store.db,
    secrets,
    runtime,
    routes,
    events,
    buildLogs,
    log,
    clock: systemClock,
    probe: (url) => probe(url),
    instanceId: instance,
  };
  const apps = new AppController(deps);
  const builds = new BuildController(deps, apps);
  const domains = new DomainController(deps);
  const volumes = new VolumeController(deps);
  const oneOffs = new RunController(deps);
  const addons = new AddonController(deps);
  const ctx: ApiContext = {
    config,
    store,
    db: store.db,
    secrets,
    log,
    runtime,
    events,
    buildLogs,
    instanceId: instance,
    nudge: (appId) => apps.nudge(appId),
    nudgeBuilds: () => builds.nudge(),
    nudgeRuns: () => oneOffs.nudge(),
    nudgeAddons: () => addons.nudge(),
    syncRoutes: () => routes.sync(),
    routerServes: (address, port) => routes.serves(address, port),
  };

  const app = await buildServer(ctx);
  await routes.prime();
  await app.listen({ port: config.serverPort, host: config.serverHost });
  // Controllers start after the API listens: /healthz answers while they converge the world.
  await routes.start();
  // Runs cut short by a stop are settled first: a release command among them fails its release.
  await oneOffs.recover().catch((err) => log.error({ err }, 'settling runs left by the last stop failed'));
  await addons.recover().catch((err) => log.error({ err }, 'settling add-on jobs left by the last stop failed'));
  await apps.start();
  await builds.start();
  domains.start();
  volumes.start();
  oneOffs.start();
  addons.start();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Stop taking requests, let in-flight ones finish, stop the loops, then close the database.
    // Containers and the router keep running: the data plane outlives the control plane.
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    await app.close();
    domains.stop();
    volumes.stop();
    await oneOffs.stop();
    await addons.stop();
    await builds.stop();
    await apps.stop();
    await routes.stop();
    await store.close();
    process.exit(0);
  };
  // A background loop that fails (say, while PostgreSQL restarts) must not take the control plane down.
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`berth: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
