import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import type { PubSub } from '../store/pubsub.js';
import * as leases from '../store/leases.js';
import type { Fence } from '../store/leases.js';
import type { RouteSync } from './deps.js';

const CHANNEL = 'berth_routes';

/**
 * Every control plane programs its own router from the shared desired state; a rollout on the
 * leader must not stop a replica another instance's router still sends traffic to. So the leader's
 * route change counts as done only when every live instance has applied it (and drained what it
 * leaves out): the leader bumps a generation (fenced on its term) and says so over NOTIFY; each
 * instance reads the generation, syncs its own router, then acknowledges that generation. A missed
 * notification is caught by the periodic check; an instance that stops heartbeating is not waited for.
 */
export class RoutePeers {
  private acked = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private following: Promise<void> | null = null;
  private again = false;
  private unlisten: () => void = () => {};

  constructor(
    private readonly o: {
      db: Db;
      pubsub: PubSub;
      log: Logger;
      /** This process's control-plane id. */
      id: string;
      /** This instance's route controller. */
      routes: RouteSync;
      /** An instance not seen for this long is not waited for. */
      aliveMs: number;
      /** The longest a change waits for the others (a peer's drain included). */
      maxWaitMs?: number;
    },
  ) {}

  /** Follows the leader's route generations: on its notification, and every intervalMs besides. */
  start(intervalMs = 1000): void {
    this.unlisten = this.o.pubsub.listen(CHANNEL, () => this.follow());
    const tick = () => {
      if (this.stopped) return;
      this.follow();
      this.timer = setTimeout(tick, intervalMs);
    };
    tick();
  }

  stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.unlisten();
    return this.following ?? Promise.resolve();
  }

  private follow(): void {
    if (this.following) {
      this.again = true;
      return;
    }
    this.following = (async () => {
      do {
        this.again = false;
        try {
          const gen = await leases.routesGen(this.o.db, leases.LEADER);
          if (gen <= this.acked) continue;
          // Read before the sync: the routes applied are at least as new as that generation.
          await this.o.routes.sync();
          await leases.ackRoutes(this.o.db, this.o.id, gen);
          this.acked = gen;
        } catch (err) {
          this.o.log.warn({ err }, 'following the leader\'s routes failed');
        }
      } while (this.again && !this.stopped);
    })().finally(() => (this.following = null));
  }

  /**
   * The leader's sync: its own router first, then every other live instance's. A term that has
   * ended bumps nothing (fenced) and waits for no one.
   */
  everywhere(fence: Fence): RouteSync {
    return {
      sync: async () => {
        await this.o.routes.sync();
        if (!fence) return;
        const gen = await leases.bumpRoutesGen(this.o.db, fence);
        if (gen === null) return;
        this.acked = Math.max(this.acked, gen);
        await this.o.pubsub.notify(CHANNEL, String(gen)).catch(() => {});
        const deadline = performance.now() + (this.o.maxWaitMs ?? 40_000);
        for (;;) {
          const late = await leases.behind(this.o.db, this.o.id, gen, this.o.aliveMs);
          if (late.length === 0) return;
          if (performance.now() > deadline) {
            this.o.log.warn({ late, gen }, 'other control planes have not applied a route change in time: going on without them');
            return;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      },
    };
  }
}
