import type { Logger } from 'pino';
import type { ControllerDeps, RouteSync } from '../controllers/deps.js';
import type { Fence } from '../store/leases.js';
import type { ImageBuilder } from '../imagebuild/types.js';
import type { Router } from '../router/types.js';
import { AppController } from '../controllers/apps/index.js';
import { BuildController } from '../controllers/builds.js';
import { DomainController } from '../controllers/domains.js';
import { CertificateController } from '../controllers/certificates.js';
import { ImageController } from '../controllers/images.js';
import { NotificationController } from '../controllers/notifications.js';
import { VolumeController } from '../controllers/volumes.js';
import { RunController } from '../controllers/runs/index.js';
import { AddonController } from '../controllers/addons/index.js';
import { MetricsController } from '../controllers/metrics.js';
import { AlertController } from '../controllers/alerts.js';
import { DrainController } from '../controllers/drains/index.js';
import { LogCollector } from '../controllers/logs/index.js';
import { systemClock } from '../controllers/deps.js';
import { routerLine } from '../controllers/logs/index.js';

/** The controllers of one leader term: made when the lease is won, stopped when it ends. */
export interface LeaderTerm {
  apps: AppController;
  builds: BuildController;
  certs: CertificateController;
  oneOffs: RunController;
  addons: AddonController;
  volumes: VolumeController;
  drains: DrainController;
  logs: LogCollector;
  stop(): Promise<void>;
}

export interface LeaderWorkDeps {
  deps: ControllerDeps;
  log: Logger;
  router: Router;
  imageBuilder: ImageBuilder;
  /** The leader's route sync for this term (its router, then every other instance's). */
  routesFor(fence: Fence): RouteSync;
  /** Cluster mode's node and registry loops (one control plane there: started with the first term). */
  cluster?: { start(): void; stop(): Promise<void> };
}

/**
 * Starts every controller whose work must happen once, in the order a single control plane always
 * started them: runs, add-on and volume jobs a stop (or a dead leader) left are settled first, then
 * the app controller resumes rollouts, the build controller fails interrupted builds, and the rest
 * start. Each write that matters is fenced on `fence` (ControllerDeps.fence).
 */
export async function leaderWork(w: LeaderWorkDeps, fence: Fence, publish: (term: LeaderTerm) => void = () => {}): Promise<LeaderTerm> {
  const { log } = w;
  const deps: ControllerDeps = { ...w.deps, fence, routes: w.routesFor(fence) };
  const apps = new AppController(deps);
  const builds = new BuildController(deps, apps, w.imageBuilder);
  const domains = new DomainController(deps);
  const certs = new CertificateController({ db: deps.db, config: deps.config, log }, w.router);
  const images = new ImageController(deps);
  const notifications = new NotificationController(deps);
  const volumes = new VolumeController(deps, apps);
  const oneOffs = new RunController(deps);
  const addons = new AddonController(deps);
  // Log drains: each line is shipped once, by the leader.
  const drains = new DrainController(deps);
  // The log store: each line is stored once, by the leader.
  const logs = new LogCollector(deps);
  const metrics = new MetricsController({ db: deps.db, log, clock: systemClock, replicas: deps.replicas, routerStats: (app) => w.router.stats(app), routerTimes: () => w.router.responseTimes?.() ?? new Map(), instanceId: deps.instanceId });
  const alerts = new AlertController({
    db: deps.db,
    log,
    clock: systemClock,
    events: deps.events,
    routerDomain: deps.config.routerDomain,
    routerHttpPort: deps.config.routerHttpPort,
    fence,
    timeScale: deps.config.alerts.timeScale,
    volumeUsage: (v) => volumes.usage(v),
  });
  const term: LeaderTerm = {
    apps,
    builds,
    certs,
    oneOffs,
    addons,
    volumes,
    drains,
    logs,
    async stop() {
      w.router.onRequest?.(null);
      domains.stop();
      images.stop();
      notifications.stop();
      await drains.stop();
      await logs.stop();
      await w.cluster?.stop();
      await volumes.stop();
      await oneOffs.stop();
      await addons.stop();
      await metrics.stop();
      await alerts.stop();
      await builds.stop();
      await apps.stop();
      await certs.stop();
    },
  };
  // Nudges (a deploy, a scale) reach the controllers from the moment they exist, as before there
  // were terms: a controller takes them up when it starts.
  publish(term);
  try {
    // Subscribed before the controllers start, so no deploy or crash event goes untold.
    notifications.start();
    // Runs cut short by a stop are settled first: a release command among them fails its release.
    await oneOffs.recover().catch((err) => log.error({ err }, 'settling runs left by the last stop failed'));
    await addons.recover().catch((err) => log.error({ err }, 'settling add-on jobs left by the last stop failed'));
    await volumes.recover().catch((err) => log.error({ err }, 'settling volume backups left by the last stop failed'));
    await apps.start();
    await builds.start();
    domains.start();
    w.cluster?.start();
    // Not awaited: a first pass over many hosts takes seconds; the router serves its default certificate meanwhile.
    void certs.start();
    images.start();
    volumes.start();
    oneOffs.start();
    addons.start();
    metrics.start();
    alerts.start();
    drains.start();
    logs.start();
    // The router's access lines: kept with each app's lines and sent to its drains (one reader of the router's ring).
    w.router.onRequest?.((r) => {
      const line = routerLine(r);
      logs.routerRequest(r, line);
      drains.routerRequest(r, line);
    });
  } catch (err) {
    // What started stops, so the next term does not run beside a half-started one.
    await term.stop().catch((e) => log.error({ err: e }, 'stopping a half-started term failed'));
    throw err;
  }
  return term;
}
