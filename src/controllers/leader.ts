import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import * as leases from '../store/leases.js';
import type { Fence } from '../store/leases.js';

/** What runs while this instance leads: started with the term's fence, stopped when the term ends. */
export type LeaderWork = (fence: Fence) => Promise<() => Promise<void>>;

export interface ElectorOptions {
  /**
   * The lease's own connection (Store.leaseDb), not the shared pool: a renewal that queues behind
   * the controllers' work for longer than the lease's life loses the lease.
   */
  db: Db;
  log: Logger;
  /** This instance's id (kept across restarts) and where its API answers. */
  id: string;
  address: string;
  /** A lease not renewed for this long is free: a killed leader is replaced about this long after. */
  ttlMs?: number;
  /** The leader renews this often; the others try to take the lease this often. */
  renewMs?: number;
  tryMs?: number;
}

/**
 * Leader election over a lease row in PostgreSQL (docs/operations.md, Several instances). Every
 * instance refreshes its own row and tries to take the lease; the one that holds it runs the
 * controllers. The leader steps down (stops them) as soon as a renewal says the lease is another's,
 * and also by its own clock once its last renewal is older than the lease's life minus a margin:
 * a leader that cannot reach the database (or was paused) stops before anyone else may take over.
 * Writes that must happen once are also fenced on the term's token (store/leases.ts, holds()).
 */
export class LeaderElector {
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly tryMs: number;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private term: { fence: NonNullable<Fence>; renewedAt: number; stop: Promise<() => Promise<void>> } | null = null;
  private stepping: Promise<void> | null = null;
  private registered = false;

  constructor(private readonly o: ElectorOptions) {
    this.ttlMs = o.ttlMs ?? 6000;
    this.renewMs = o.renewMs ?? 2000;
    this.tryMs = o.tryMs ?? 1000;
  }

  /** The current term's fence, or null when this instance does not lead. */
  get fence(): Fence {
    return this.term && this.valid() ? this.term.fence : null;
  }

  get leading(): boolean {
    return this.fence !== null;
  }

  /** By this process's monotonic clock, the term is surely not over yet (a pause makes this false at once). */
  private valid(): boolean {
    return !!this.term && performance.now() - this.term.renewedAt < this.ttlMs - this.renewMs / 2;
  }

  start(work: LeaderWork): void {
    const tick = async () => {
      if (this.stopped) return;
      await this.step(work).catch((err) => this.o.log.warn({ err }, 'control plane lease: check failed'));
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.term ? this.renewMs : this.tryMs);
    };
    void tick();
    // A watchdog apart from the renewals: a term whose renewals stall (a hung database) ends on time.
    const watch = setInterval(() => {
      if (this.stopped) return clearInterval(watch);
      if (this.term && !this.valid()) void this.stepDown('the lease could not be renewed in time');
    }, 250);
    watch.unref();
  }

  private async step(work: LeaderWork): Promise<void> {
    if (this.stepping) await this.stepping;
    if (this.stopped) return;
    const { db, id, address } = this.o;
    if (this.term) {
      if (!this.valid()) return this.stepDown('the lease could not be renewed in time');
      // The renewal first: the heartbeat and the clean-up wait behind it, never the other way round.
      const before = performance.now();
      const ok = await leases.renew(db, leases.LEADER, id, this.term.fence.token, this.ttlMs);
      const tookMs = performance.now() - before;
      if (tookMs > this.renewMs) this.o.log.warn({ tookMs: Math.round(tookMs) }, 'control plane lease: a renewal was slow');
      if (!this.term) return;
      if (!ok) return this.stepDown('the lease passed to another instance');
      this.term.renewedAt = before;
      await leases.heartbeat(db, id, address).catch((err) => this.o.log.warn({ err }, 'control plane heartbeat failed'));
      // A killed instance never removes its own row.
      await leases.forgetGone(db, 10 * 60_000).catch(() => {});
      return;
    }
    if (!this.registered) {
      await leases.register(db, id, address);
      this.registered = true;
    } else await leases.heartbeat(db, id, address).catch((err) => this.o.log.warn({ err }, 'control plane heartbeat failed'));
    const before = performance.now();
    const won = await leases.acquire(db, leases.LEADER, id, this.ttlMs);
    if (!won || this.stopped) return;
    const fence = { name: leases.LEADER, token: won.token };
    this.o.log.info({ token: won.token }, 'control plane lease won: this instance leads and starts the controllers');
    const stop = work(fence);
    this.term = { fence, renewedAt: before, stop };
    // Not awaited: renewals go on while the controllers settle what the last leader left.
    stop.catch((err) => {
      this.o.log.error({ err }, 'starting the controllers failed');
      void this.stepDown('starting the controllers failed');
    });
  }

  private stepDown(why: string): Promise<void> {
    if (this.stepping) return this.stepping;
    const term = this.term;
    if (!term) return Promise.resolve();
    this.o.log.warn({ token: term.fence.token, why }, 'control plane lease lost: stopping the controllers');
    this.stepping = (async () => {
      const stop = await term.stop.catch(() => null);
      await stop?.().catch((err) => this.o.log.error({ err }, 'stopping the controllers failed'));
      this.term = null;
      this.stepping = null;
    })();
    return this.stepping;
  }

  /**
   * A clean stop: the controllers stop, then the lease is given up and this instance's row removed.
   * The lease is still renewed while the controllers stop (a build or rollout may take longer than
   * the lease's life to wind down): otherwise another instance would start its own beside them.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const term = this.term;
    const keep = term ? setInterval(() => void this.keep(term), this.renewMs) : undefined;
    try {
      await this.stepDown('this instance stops');
    } finally {
      clearInterval(keep);
    }
    if (term) await leases.release(this.o.db, term.fence.name, this.o.id, term.fence.token).catch(() => {});
    await leases.leave(this.o.db, this.o.id).catch(() => {});
  }

  /** One renewal of a term that is winding down; a failure only means the lease may lapse. */
  private async keep(term: NonNullable<LeaderElector['term']>): Promise<void> {
    const before = performance.now();
    const ok = await leases.renew(this.o.db, leases.LEADER, this.o.id, term.fence.token, this.ttlMs).catch(() => false);
    if (ok) term.renewedAt = before;
  }
}
