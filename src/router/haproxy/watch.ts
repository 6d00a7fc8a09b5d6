import { createConnection, type Socket } from 'node:net';
import type { HaproxyProcess } from './process.js';

/** How soon a connection to a live master is opened again after it closed (a reload re-executes the master). */
const REOPEN_MS = 25;
/** A master re-executing for a reload rewrites its pid file and its /proc entry: a second look this much later tells a death from that. */
const CONFIRM_MS = 150;

/**
 * Notices at once that the HAProxy master of a data directory died, whether this process started
 * it or found it running. A master found running was started by an earlier control plane that has
 * exited: its parent is init, so no exit event ever reaches this process, and Node has neither
 * waitpid nor pidfd for a process that is not its child. So the watch keeps one idle connection
 * open to the master CLI socket (in prompt mode, which HAProxy 2.6 does not time out): the kernel
 * closes it the moment the master dies, kill -9 included, and the master also exits when its worker
 * dies (exit-on-failure). A close is then checked against the pid: a master that re-executed itself
 * for a reload is still alive and the connection is opened again; a dead one calls `gone` at once.
 * The same path serves a child, so both cases are equally fast. A pid poll every `everyMs` stays as
 * a backstop (a socket that could not be opened, a restart that failed and must be tried again).
 */
export class MasterWatch {
  private timer?: NodeJS.Timeout;
  private conn?: Socket;
  private reopen?: NodeJS.Timeout;
  private confirm?: NodeJS.Timeout;
  private restarting = false;

  constructor(
    private readonly proc: HaproxyProcess,
    private readonly everyMs: number,
    /** Starts HAProxy again; rejects when that failed (tried again at the next poll). */
    private readonly gone: () => Promise<void>,
  ) {}

  get active(): boolean {
    return this.timer !== undefined;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.look(), this.everyMs);
    this.timer.unref();
    this.look();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    clearTimeout(this.reopen);
    this.reopen = undefined;
    clearTimeout(this.confirm);
    this.confirm = undefined;
    this.conn?.destroy();
    this.conn = undefined;
  }

  /** Restarts HAProxy if its master is dead; else opens the connection again in `reopenMs` unless it is open. */
  private look(reopenMs = REOPEN_MS, confirmed = false): void {
    if (!this.timer || this.restarting) return;
    if (this.proc.livePid() === undefined) {
      if (!confirmed) {
        if (!this.confirm) {
          this.confirm = setTimeout(() => {
            this.confirm = undefined;
            this.look(reopenMs, true);
          }, CONFIRM_MS);
          this.confirm.unref();
        }
        return;
      }
      this.restarting = true;
      this.conn?.destroy();
      this.conn = undefined;
      void this.gone().then(
        () => {
          this.restarting = false;
          this.look();
        },
        () => (this.restarting = false),
      );
      return;
    }
    if (this.conn || this.reopen) return;
    this.reopen = setTimeout(() => {
      this.reopen = undefined;
      this.hold();
    }, reopenMs);
    this.reopen.unref();
  }

  private hold(): void {
    if (!this.timer || this.restarting || this.conn) return;
    const conn = createConnection(this.proc.master.socketPath);
    conn.unref();
    let opened = false;
    conn.on('connect', () => {
      opened = true;
      conn.write('prompt\n');
    });
    // The prompt and nothing else: no command is sent on this connection.
    conn.on('data', () => undefined);
    // A refused or broken connection ends in 'close', which looks again.
    conn.on('error', () => undefined);
    conn.on('close', () => {
      if (this.conn !== conn) return;
      this.conn = undefined;
      // Refused or missing while the master lives (it is re-executing, or the file was removed):
      // tried again at the pace of the poll, not in a tight loop.
      this.look(opened ? REOPEN_MS : this.everyMs);
    });
    this.conn = conn;
  }
}
