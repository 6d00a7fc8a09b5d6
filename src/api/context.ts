import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Store, Db } from '../store/db.js';
import type { SecretBox } from '../lib/crypto.js';
import type { Containers, Images, Runs } from '../runtime/types.js';
import type { Events } from '../domain/events.js';
import type { BuildLogHub } from '../domain/build-logs.js';
import type { AppStats } from '../router/types.js';
import type { PruneResult } from '../domain/images.js';
import type { Cluster } from '../runtime/swarm/types.js';
import type { AddonRow } from '../store/addons.js';
import type { AddonSession, SessionOptions } from '../domain/addon-session.js';

/**
 * The engine as handlers use it: replicas' logs and use (Swarm services in cluster mode), a run's
 * terminal (on the control plane's engine), whether an image is there.
 */
export type ApiRuntime = Pick<Containers, 'logs' | 'stats'> & Pick<Runs, 'inspectContainer' | 'attach' | 'resize'> & Pick<Images, 'inspectImage'>;

/** What route handlers get to work with. Handlers validate and write desired state; controllers act on it. */
export interface ApiContext {
  config: Config;
  store: Store;
  db: Db;
  secrets: SecretBox;
  log: Logger;
  /** Read-only use in handlers (is this image present? read logs); containers are changed by controllers. */
  runtime: ApiRuntime;
  events: Events;
  /** Wakes live build-log readers. */
  buildLogs: BuildLogHub;
  /** This installation's id; engine objects carry it as the berth.instance label. */
  instanceId: string;
  /**
   * This process among the control planes sharing the database (GET /cluster/control-planes), and
   * whether it holds the lease now. Unset (tests): one instance, leading.
   */
  controlPlane?: { id: string; address: string; startedAt: string; leading(): boolean };
  /** Tells the app controller that an app's desired state changed, so it reconciles now. */
  nudge(appId?: string): void;
  /** Applies the desired routes to the router now; resolves when it serves them. */
  syncRoutes(): Promise<void>;
  /** Whether the router sends traffic to this upstream now (false while the router does not answer). */
  routerServes(address: string, port: number): boolean;
  /** The router's traffic counters of an app (by slug); null when it has no route. */
  routerStats(app: string): Promise<AppStats | null>;
  /** Tells the build controller that a build was queued or canceled. */
  nudgeBuilds(): void;
  /** Tells the build controller that a project was deleted: its builds' download caches go. */
  collectBuildCaches(): void;
  /** Image garbage collection now, for these apps (src/controllers/images.ts). */
  pruneImages(appIds: string[]): Promise<PruneResult>;
  /** Cluster mode: reads of the Swarm; changes are written to the database, then `reconcile` applies them. */
  cluster: {
    engine: Cluster;
    reconcile(): Promise<void>;
    /** Berth's CA and the cluster registry's address, for the join command's trust step; null before `cluster init`. */
    registryTrust(): Promise<{ address: string; caPem: string } | null>;
  };
  /** Tells the run controller that a one-off command was queued. */
  nudgeRuns(): void;
  /** The log drain runner: drains were added or removed. */
  nudgeDrains(): void;
  /** Tells the add-on controller that an add-on or one of its jobs changed. */
  nudgeAddons(): void;
  /** Opens a psql or redis-cli session on a running add-on (the add-on controller owns its helper container); the signal ends it. */
  addonSession(a: AddonRow, o: SessionOptions, signal: AbortSignal): Promise<AddonSession>;
  /** Tells the volume controller that a volume or one of its backups changed. */
  nudgeVolumes(): void;
  /** Bytes a volume uses on disk, measured now; null while no app has mounted it (no engine volume yet). */
  volumeUsage(v: { id: string; project_id: string }): Promise<number | null>;
}

export interface AuthUser {
  id: string;
  username: string;
  is_admin: boolean;
  /** The credential the request came with: open sockets are checked against it again (src/api/socket-guard.ts). */
  via?: { kind: 'token' | 'session'; id: string };
}
