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
import { systemClock, type ControllerDeps } from '../controllers/deps.js';
import { probe } from '../controllers/health.js';
import { BuildLogHub } from '../domain/build-logs.js';
import { BuildahBuilder } from '../imagebuild/buildah.js';
import { handoverDir } from '../imagebuild/handover.js';
import { ImageController } from '../controllers/images.js';
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
import { AddonController } from '../controllers/addons/index.js';
import { answers } from '../lib/tcp.js';
import { ensureAdmin, loadControlPlaneId, loadSecretBox } from './bootstrap.js';
import { LeaderElector } from '../controllers/leader.js';
import { queueWithEvent } from '../domain/notifications.js';
import { RoutePeers } from '../controllers/route-peers.js';
import type { Fence } from '../store/leases.js';
import { leaderWork, type LeaderTerm } from './leader-work.js';

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
  // This instance's id among the control planes sharing the database (kept in the data directory).
  const controlPlaneId = loadControlPlaneId(config.dataDir);
  const startedAt = new Date().toISOString();
  const relay = { pubsub: store.pubsub, origin: controlPlaneId };
  // A told event (a deploy, a crash) and its notification deliveries are written together.
  const events = new Events(store.db, relay, queueWithEvent({ domain: config.routerDomain, httpPort: config.routerHttpPort }));
  const secrets = loadSecretBox(config.dataDir, config.secretKey);
  const buildLogs = new BuildLogHub(relay);
  const swarm = new DockerSwarm({ dockerHost: config.dockerHost });
  // The node controller asks the app controller (made below) to move replicas off a node being drained.
  const appsForNodes = { nudge: (appId?: string) => term?.apps.nudge(appId) };
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
  // Tenants' images are built by buildah in per-project stores on a fenced network (docs/security.md, Builds).
  const localEngine = engineIsLocal(config.dockerHost);
  if (!localEngine) log.warn({ dockerHost: config.dockerHost }, 'the Docker Engine is not on this host: builds use its own builder and are not isolated from other projects\' images (docs/security.md, Builds)');
  const imageBuilder = !localEngine ? new EngineBuilder(local) : new BuildahBuilder({
    storeDir: config.build.storeDir,
    dockerHost: config.dockerHost,
    instanceId: instance,
    baseImages: [...Object.values(config.build.stacks), ...(config.build.nodeLines ?? []).map((l) => l.image), ...Object.values(config.build.languageLines).flatMap((ls) => (ls ?? []).map((l) => l.image)), config.build.runtimeImage],
    anchorImage: config.build.runtimeImage,
    handoverDir: handoverDir(config.dataDir),
    cacheMaxBytes: config.build.cacheMaxBytes,
  });
  // What the API asks of controllers without their loops (never started here): add-on sessions,
  // volume usage, image pruning answer on every instance.
  const images = new ImageController(deps);
  const volumesApi = new VolumeController(deps, appsForNodes);
  const addonsApi = new AddonController(deps);

  // Several instances on one PostgreSQL: one leader runs the controllers under a lease; every
  // instance serves the API and runs its own router from the shared desired state (docs/operations.md).
  // SQLite (and cluster mode, one manager's control plane) has one instance: it always leads.
  const elected = store.engine === 'postgres' && !config.clusterMode;
  const peers = elected ? new RoutePeers({ db: store.db, pubsub: store.pubsub, log, id: controlPlaneId, routes, aliveMs: LEASE_TTL_MS }) : null;
  let term: LeaderTerm | null = null;
  const startTerm = async (fence: Fence) => {
    const t = await leaderWork(
      {
        deps,
        log,
        router,
        imageBuilder,
        routesFor: (f) => (peers ? peers.everywhere(f) : routes),
        cluster: config.clusterMode
          ? { start: () => (nodes.start(), registry.start()), stop: async () => (await nodes.stop(), await registry.stop()) }
          : undefined,
      },
      fence,
      (early) => (term = early),
    ).catch((err) => {
      term = null;
      throw err;
    });
    term = t;
    return async () => {
      term = null;
      await t.stop();
    };
  };
  const elector = elected ? new LeaderElector({ db: store.leaseDb, log, id: controlPlaneId, address: config.advertiseUrl, ttlMs: LEASE_TTL_MS }) : null;
  // A follower's API writes desired state; the leader hears about it at once instead of at its next pass.
  const nudgeLeader = (what: NudgeKind, appId?: string) => {
    if (term) return nudgeLocal(term, what, appId);
    void store.pubsub.notify(NUDGE_CHANNEL, appId ? `${what} ${appId}` : what).catch(() => {});
  };
  store.pubsub.listen(NUDGE_CHANNEL, (payload) => {
    const [what, appId] = payload.split(' ');
    if (term && isNudgeKind(what)) nudgeLocal(term, what, appId);
  });
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
    controlPlane: { id: controlPlaneId, address: config.advertiseUrl, startedAt, leading: () => (elector ? elector.leading : true) },
    nudge: (appId) => {
      nudgeLeader('apps', appId);
      nudgeLeader('certs'); // a new app's host wants a certificate before its first deploy is done
    },
    nudgeBuilds: () => nudgeLeader('builds'),
    collectBuildCaches: () => nudgeLeader('caches'),
    nudgeRuns: () => nudgeLeader('runs'),
    nudgeDrains: () => nudgeLeader('drains'),
    nudgeAddons: () => nudgeLeader('addons'),
    addonSession: (a, o, signal) => addonsApi.session(a, o, signal),
    pruneImages: async (appIds) => {
      const res = await images.prune(appIds);
      // The cluster registry's copies of the releases no app keeps go too (nothing to do on a single node).
      await registry.collect().catch((err) => log.warn({ err }, 'cluster registry garbage collection failed'));
      return res;
    },
    nudgeVolumes: () => nudgeLeader('volumes'),
    volumeUsage: (v) => volumesApi.usage(v),
    // A routed host may have appeared or gone (app created, domain verified): its certificate follows.
    syncRoutes: () => routes.sync().finally(() => nudgeLeader('certs')),
    routerServes: (address, port) => routes.serves(address, port),
    routerStats: (app) => router.stats(app),
    cluster: { engine: swarm, reconcile: () => nodes.reconcile(), registryTrust: () => registry.trust() },
  };

  const app = await buildServer(ctx);
  await routes.prime();
  await app.listen({ port: config.serverPort, host: config.serverHost });
  // Controllers start after the API listens: /healthz answers while they converge the world.
  // The route controller runs on every instance: each host's router serves every app.
  await routes.start();
  peers?.start();
  if (overlays) void overlays.watchAnchor(anchorWatch.signal);
  let stopTerm: (() => Promise<void>) | null = null;
  if (elector) elector.start(startTerm);
  else stopTerm = await startTerm(null);
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
    // The lease is given up at once: another instance takes over without waiting for it to expire.
    await elector?.stop();
    await stopTerm?.();
    // Open psql/redis-cli sessions end with their helpers (they run on every instance).
    await addonsApi.stop();
    await peers?.stop();
    await routes.stop();
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

/** A lease not renewed for this long passes to another instance (renewed every 2 s). */
const LEASE_TTL_MS = 6000;
const NUDGE_CHANNEL = 'berth_nudge';
/** What a follower's API may ask the leader to look at now (a notification on NUDGE_CHANNEL). */
const NUDGE_KINDS = ['apps', 'builds', 'caches', 'runs', 'addons', 'volumes', 'certs', 'drains'] as const;
type NudgeKind = (typeof NUDGE_KINDS)[number];

function isNudgeKind(s: string | undefined): s is NudgeKind {
  return (NUDGE_KINDS as readonly (string | undefined)[]).includes(s);
}

function nudgeLocal(t: LeaderTerm, what: NudgeKind, appId?: string): void {
  if (what === 'apps') t.apps.nudge(appId);
  else if (what === 'builds') t.builds.nudge();
  else if (what === 'caches') void t.builds.collectCaches();
  else if (what === 'runs') t.oneOffs.nudge();
  else if (what === 'addons') t.addons.nudge();
  else if (what === 'volumes') t.volumes.nudge();
  else if (what === 'drains') t.drains.nudge();
  else t.certs.nudge();
}

main().catch((err) => {
  process.stderr.write(`berth: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
