#!/usr/bin/env node
import { EngineBuilder, engineIsLocal } from '../imagebuild/engine-builder.js';
import { LABEL } from '../runtime/labels.js';
import { mkdirSync } from 'node:fs';
import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { openStore } from '../store/db.js';
import { instanceId } from '../store/meta.js';
import { buildServer } from '../api/server.js';
import type { ApiContext } from '../api/context.js';
import { Events } from '../domain/events.js';
import { DockerRuntime } from '../runtime/docker.js';
import { HaproxyRouter } from '../router/haproxy/router.js';
import { ensureCa, issueLeaf } from '../tls/ca.js';
import { RouteController } from '../controllers/routes.js';
import { AppController } from '../controllers/apps/index.js';
import { systemClock, type ControllerDeps } from '../controllers/deps.js';
import { probe } from '../controllers/health.js';
import { BuildLogHub } from '../domain/build-logs.js';
import { BuildController } from '../controllers/builds.js';
import { BuildahBuilder } from '../imagebuild/buildah.js';
import { handoverDir } from '../imagebuild/handover.js';
import { DomainController } from '../controllers/domains.js';
import { CertificateController } from '../controllers/certificates.js';
import { ImageController } from '../controllers/images.js';
import { NotificationController } from '../controllers/notifications.js';
import { DrainController } from '../controllers/drains/index.js';
import { NodeController } from '../controllers/nodes.js';
import { DockerSwarm } from '../runtime/swarm/docker-swarm.js';
import { RegistryController } from '../controllers/registry/index.js';
import { EngineImagePusher } from '../runtime/image-push.js';
import { OverlayAnchor, probeInNetns, tcpInNetns } from '../runtime/swarm/anchor.js';
import { SwarmRuntime } from '../runtime/swarm/runtime.js';
import { SwarmNetworks } from '../runtime/swarm/networks.js';
import { SwarmEvents } from '../runtime/swarm/events.js';
import { STOP_GRACE_S } from '../domain/containers.js';
import { VolumeController } from '../controllers/volumes.js';
import { RunController } from '../controllers/runs/index.js';
import { MetricsController } from '../controllers/metrics.js';
import { AddonController } from '../controllers/addons/index.js';
import { answers } from '../lib/tcp.js';
import { ensureAdmin, loadSecretBox } from './bootstrap.js';

async function main() {
  const config = loadConfig();
  const log = pino({ level: config.logLevel, base: { service: 'berth' } });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  log.info({ engine: store.engine, dataDir: config.dataDir }, 'database ready');
  await ensureAdmin(store.db, config.dataDir, config.adminPassword, log);

  const instance = await instanceId(store.db);
  const local = new DockerRuntime({ dockerHost: config.dockerHost, helperImage: config.build.runtimeImage });
  // Cluster mode: replicas are Swarm services on overlays, reached through the anchor's namespace (docs/cluster.md).
  const anchor = config.clusterMode ? new OverlayAnchor({ dockerHost: config.dockerHost, instanceId: instance, image: config.build.runtimeImage }) : undefined;
  if (anchor) await anchor.prepare().catch((err) => log.warn({ err }, 'overlay anchor not ready; the router starts with a placeholder namespace'));
  const router = new HaproxyRouter({
    serverNamespace: anchor?.netnsName,
    dataDir: config.dataDir,
    httpPort: config.routerHttpPort,
    httpsPort: config.routerHttpsPort,
    redirectHttps: config.redirectHttps,
    accessLog: config.routerAccessLog,
    // A killed HAProxy is back (from its config file, with every route) within a fraction of a second.
    watchMs: 250,
    // Names without a certificate of their own get one from Berth's CA (trusted once its root is).
    defaultCertificate: async () =>
      issueLeaf(await ensureCa(config.dataDir), [...new Set(['localhost', config.routerDomain, `*.${config.routerDomain}`])], { days: 3650 }),
    logger: log.child({ component: 'router' }),
  });
  const events = new Events(store.db);
  const secrets = loadSecretBox(config.dataDir, config.secretKey);
  const buildLogs = new BuildLogHub();
  const swarm = new DockerSwarm({ dockerHost: config.dockerHost });
  // The node controller asks the app controller (made below) to move replicas off a node being drained.
  const appsForNodes = { nudge: (appId?: string) => apps.nudge(appId) };
  const nodes = new NodeController({ db: store.db, log: log.child({ component: 'cluster' }), cluster: swarm, events, apps: appsForNodes });
  // Cluster mode's image registry: inert until the Swarm is active (src/registry/, docs/cluster.md).
  const registry = new RegistryController({
    config,
    db: store.db,
    secrets,
    log: log.child({ component: 'registry' }),
    cluster: swarm,
    pusher: new EngineImagePusher({ dockerHost: config.dockerHost }),
  });
  // One engine: it runs everything. Cluster mode: app replicas are Swarm services on overlays (their
  // networks and events with them); everything else stays on the manager's engine (docs/cluster.md).
  const replicas = anchor
    ? new SwarmRuntime({
        local,
        images: local,
        volumes: local,
        dockerHost: config.dockerHost,
        stopGraceS: STOP_GRACE_S,
        // Every node pulls a replica's image from Berth's registry (started if need be); without
        // it the release fails saying so, instead of replicas failing to pull on other nodes.
        imageFor: (spec) => registry.publish({ app_id: spec.labels[LABEL.app]!, version: Number(spec.labels[LABEL.version]), image: spec.image }),
      })
    : local;
  const overlays = anchor ? new SwarmNetworks({ local, dockerHost: config.dockerHost, anchor, onNetnsChanged: () => router.reload() }) : undefined;
  const networks = overlays ?? local;
  const engineEvents = anchor ? new SwarmEvents({ local, dockerHost: config.dockerHost }) : local;
  const anchorWatch = new AbortController();
  // Wiring, bottom up: the route controller needs nothing above it; the app controller syncs
  // routes; the build controller nudges the app controller; the API reaches each through ApiContext.
  const routes = new RouteController({ db: store.db, log, config }, router);
  const deps: ControllerDeps = {
    config,
    db: store.db,
    secrets,
    replicas,
    networks,
    engineEvents,
    runs: local,
    volumes: local,
    images: local,
    routes,
    events,
    buildLogs,
    log,
    clock: systemClock,
    probe: anchor ? (url) => probeInNetns(anchor.netnsPath, url) : (url) => probe(url),
    reachable: anchor ? (address, port) => tcpInNetns(anchor.netnsPath, address, port) : (address, port) => answers(address, port),
    instanceId: instance,
  };
  const apps = new AppController(deps);
  // Tenants' images are built by buildah in per-project stores on a fenced network (docs/security.md, Builds).
  const localEngine = engineIsLocal(config.dockerHost);
  if (!localEngine) log.warn({ dockerHost: config.dockerHost }, 'the Docker Engine is not on this host: builds use its own builder and are not isolated from other projects\' images (docs/security.md, Builds)');
  const imageBuilder = !localEngine ? new EngineBuilder(local) : new BuildahBuilder({
    storeDir: config.build.storeDir,
    dockerHost: config.dockerHost,
    instanceId: instance,
    baseImages: [...Object.values(config.build.stacks), ...(config.build.nodeLines ?? []).map((l) => l.image), config.build.runtimeImage],
    anchorImage: config.build.runtimeImage,
    handoverDir: handoverDir(config.dataDir),
  });
  const builds = new BuildController(deps, apps, imageBuilder);
  const domains = new DomainController(deps);
  const certs = new CertificateController({ db: store.db, config, log }, router);
  const images = new ImageController(deps);
  const notifications = new NotificationController(deps);
  const drains = new DrainController(deps);
  const volumes = new VolumeController(deps, apps);
  const oneOffs = new RunController(deps);
  const addons = new AddonController(deps);
  const metrics = new MetricsController({ db: store.db, log, clock: systemClock, replicas, routerStats: (app) => router.stats(app), instanceId: instance });
  const ctx: ApiContext = {
    config,
    store,
    db: store.db,
    secrets,
    log,
    runtime: {
      logs: (id, opts) => replicas.logs(id, opts),
      stats: (id) => replicas.stats(id),
      inspectContainer: (id) => local.inspectContainer(id),
      attach: (id, signal) => local.attach(id, signal),
      resize: (id, cols, rows) => local.resize(id, cols, rows),
      inspectImage: (ref) => local.inspectImage(ref),
    },
    events,
    buildLogs,
    instanceId: instance,
    nudge: (appId) => {
      apps.nudge(appId);
      certs.nudge(); // a new app's host wants a certificate before its first deploy is done
    },
    nudgeBuilds: () => builds.nudge(),
    nudgeRuns: () => oneOffs.nudge(),
    nudgeDrains: () => drains.nudge(),
    nudgeAddons: () => addons.nudge(),
    addonSession: (a, o, signal) => addons.session(a, o, signal),
    pruneImages: async (appIds) => {
      const res = await images.prune(appIds);
      // The cluster registry's copies of the releases no app keeps go too (nothing to do on a single node).
      await registry.collect().catch((err) => log.warn({ err }, 'cluster registry garbage collection failed'));
      return res;
    },
    nudgeVolumes: () => volumes.nudge(),
    volumeUsage: (v) => volumes.usage(v),
    // A routed host may have appeared or gone (app created, domain verified): its certificate follows.
    syncRoutes: () => routes.sync().finally(() => certs.nudge()),
    routerServes: (address, port) => routes.serves(address, port),
    routerStats: (app) => router.stats(app),
    cluster: { engine: swarm, reconcile: () => nodes.reconcile(), registryTrust: () => registry.trust() },
  };

  const app = await buildServer(ctx);
  await routes.prime();
  await app.listen({ port: config.serverPort, host: config.serverHost });
  // Controllers start after the API listens: /healthz answers while they converge the world.
  // Subscribed before the controllers start, so no deploy or crash event goes untold.
  notifications.start();
  await routes.start();
  // Runs cut short by a stop are settled first: a release command among them fails its release.
  await oneOffs.recover().catch((err) => log.error({ err }, 'settling runs left by the last stop failed'));
  await addons.recover().catch((err) => log.error({ err }, 'settling add-on jobs left by the last stop failed'));
  await volumes.recover().catch((err) => log.error({ err }, 'settling volume backups left by the last stop failed'));
  await apps.start();
  await builds.start();
  domains.start();
  // Only with BERTH_CLUSTER=1, and even then inert until an admin runs `cluster init` (no row: no engine call).
  if (config.clusterMode) {
    nodes.start();
    registry.start();
  }
  if (overlays) void overlays.watchAnchor(anchorWatch.signal);
  // Not awaited: a first pass over many hosts takes seconds; the router serves its default certificate meanwhile.
  void certs.start();
  images.start();
  volumes.start();
  oneOffs.start();
  addons.start();
  metrics.start();
  drains.start();

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
    anchorWatch.abort();
    domains.stop();
    images.stop();
    notifications.stop();
    await drains.stop();
    await nodes.stop();
    await registry.stop();
    await volumes.stop();
    await oneOffs.stop();
    await addons.stop();
    await metrics.stop();
    await builds.stop();
    await apps.stop();
    await routes.stop();
    await certs.stop();
    // HAProxy keeps serving; the next control plane watches it from its first moment.
    router.close();
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
