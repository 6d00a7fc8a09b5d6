import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db } from '../store/db.js';
import type { SecretBox } from '../lib/crypto.js';
import type { Containers, EngineEvents, Images, Networks, Runs, Volumes } from '../runtime/types.js';
import type { Events } from '../domain/events.js';
import type { BuildLogHub } from '../domain/build-logs.js';
import type { Fence } from '../store/leases.js';

/** Time, as the controllers see it: tests pass one that does not wait. */
export interface Clock {
  now(): number;
  /** Resolves after ms, or at once when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const onAbort = () => {
        clearTimeout(t);
        resolve();
      };
      // The signal may outlive many sleeps (a drain's retries): each takes its listener back.
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/** What one health probe of a replica got: healthy when it answers below 500; `said` is what it got, in words ("HTTP 503", "connection refused"). */
export interface ProbeAnswer {
  healthy: boolean;
  said: string;
}
export type Probe = (url: string) => Promise<ProbeAnswer>;

/**
 * Whether something accepts TCP connections at address:port on a project network. In cluster mode
 * it asks from the overlay anchor's namespace: the host is on no overlay.
 */
export type TcpProbe = (address: string, port: number) => Promise<boolean>;

/** What a controller may ask of the route controller: apply the desired routes, resolve when served and drained. */
export interface RouteSync {
  sync(): Promise<void>;
}

/** What a controller may ask of the app controller: reconcile this app (or all) soon. */
export interface AppNudge {
  nudge(appId?: string): void;
}

/**
 * Everything the controllers work with, wired once by server/main.ts. Controllers import this and
 * the interfaces below it (store/, runtime/types.ts, router/types.ts, domain/), never api/.
 */
export interface ControllerDeps {
  config: Config;
  db: Db;
  secrets: SecretBox;
  /** Where app replicas run: Swarm services in cluster mode, the engine's containers otherwise. */
  replicas: Containers;
  /** Project networks every container of a project joins (attachable overlays in cluster mode). */
  networks: Networks;
  /** Events of replicas (the app controller's watch), and whether the engine answers. */
  engineEvents: EngineEvents;
  /** The control plane's own engine's one-off containers: commands, add-ons and their sessions, helpers. */
  runs: Runs;
  /** That engine's volumes. */
  volumes: Volumes;
  /** That engine's images. */
  images: Images;
  routes: RouteSync;
  events: Events;
  buildLogs: BuildLogHub;
  log: Logger;
  clock: Clock;
  probe: Probe;
  reachable: TcpProbe;
  /** This installation's id; engine objects carry it as the berth.instance label. */
  instanceId: string;
  /**
   * The leader's term (several control planes on PostgreSQL): claims, cron firings and release
   * states are written only while it holds (store/leases.ts). Unset: the only instance.
   */
  fence?: Fence;
}
