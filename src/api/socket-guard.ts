import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import type { AuthUser } from './context.js';
import { HttpError } from './errors.js';
import { tokenAlive } from '../store/users.js';
import { sessionAlive } from '../store/sessions.js';

interface Guarded {
  socket: WebSocket;
  user: AuthUser;
  /** The socket's own access check (its `before`), run again: throws 403/404 once the caller lost access. */
  recheck?: () => Promise<void>;
}

/** Close code and reason a socket gets when its access ends (1008: policy violation). */
export const ACCESS_ENDED = { code: 1008, reason: 'access ended' } as const;

/**
 * Open WebSockets (log follows, events, psql and TTY sessions of up to a day) are checked again
 * every `intervalMs`: the credential they were opened with must still be valid (a revoked token, an
 * ended session, a disabled or deleted user, a password change or reset all end it), and the
 * socket's own access check must still pass (a member removed or demoted). A socket that fails is
 * closed with 1008 "access ended", which ends the session behind it.
 */
export class SocketGuard {
  private readonly open = new Set<Guarded>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  add(g: Guarded): void {
    this.open.add(g);
    g.socket.on('close', () => this.open.delete(g));
    if (!this.timer) this.timer = setInterval(() => void this.sweep(), this.intervalMs).unref();
  }

  get size(): number {
    return this.open.size;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass over every open socket; passes do not overlap. */
  async sweep(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (const g of [...this.open]) {
        if (g.socket.readyState !== g.socket.OPEN) continue;
        if (await this.ended(g)) {
          this.open.delete(g);
          g.socket.close(ACCESS_ENDED.code, ACCESS_ENDED.reason);
        }
      }
      if (!this.open.size) this.stop();
    } finally {
      this.running = false;
    }
  }

  private async ended(g: Guarded): Promise<boolean> {
    try {
      const via = g.user.via;
      if (via) {
        const row = via.kind === 'token' ? await tokenAlive(this.db, via.id) : await sessionAlive(this.db, via.id);
        if (!row) return true;
        g.user.is_admin = !!row.is_admin;
      }
      await g.recheck?.();
      return false;
    } catch (err) {
      if (err instanceof HttpError && [401, 403, 404].includes(err.status)) return true;
      // The database not answering is no reason to cut anyone off: the next pass decides.
      this.log.warn({ err }, 'socket access recheck failed');
      return false;
    }
  }
}
