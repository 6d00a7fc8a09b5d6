import type { DrainLine } from '../../domain/drains.js';
import type { Clock } from '../deps.js';
import type { Transport } from './transports.js';

export interface SenderStatus {
  last_success_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
  sent: number;
  dropped: number;
}

export interface SenderOptions {
  bufferLines: number;
  /** The buffer's bound in bytes too: 10,000 lines of 16 KB would otherwise hold 160 MB per drain. */
  bufferBytes: number;
  /** Lines per send, and how long an HTTPS batch may wait to fill (syslog sends at once). */
  batchLines: number;
  batchWaitMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  clock: Clock;
}

/** What a line is taken to weigh in the buffer: its text as UTF-8 and its labels. */
const weight = (l: DrainLine) => Buffer.byteLength(l.line) + l.time.length + l.app.length + l.process_type.length + 32;

/**
 * One drain's delivery: a buffer in memory bounded in lines and bytes (when full, the oldest line goes and is counted
 * as dropped), one loop that sends what is buffered, and after a failure waits retryBaseMs,
 * doubling up to retryMaxMs, before trying again. push() never waits: a slow or absent receiver
 * costs the app nothing.
 */
export class DrainSender {
  private buffer: DrainLine[] = [];
  private bytes = 0;
  private wake: (() => void) | null = null;
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** True when the status changed since the controller last wrote it. */
  dirty = false;

  constructor(
    private readonly transport: Transport,
    private readonly o: SenderOptions,
    readonly status: SenderStatus,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  push(line: DrainLine): void {
    this.buffer.push(line);
    this.bytes += weight(line);
    this.dropOverflow();
    if (!this.wake) return;
    if (this.buffer.length >= this.o.batchLines || this.o.batchWaitMs === 0) this.poke();
    else this.timer ??= setTimeout(() => this.poke(), this.o.batchWaitMs);
  }

  get buffered(): number {
    return this.buffer.length;
  }

  get bufferedBytes(): number {
    return this.bytes;
  }

  /** Drops the oldest lines while the buffer is over either bound (the newest line always stays). */
  private dropOverflow(): void {
    let n = 0;
    while (this.buffer.length - n > 1 && (this.buffer.length - n > this.o.bufferLines || this.bytes > this.o.bufferBytes)) {
      this.bytes -= weight(this.buffer[n]);
      n++;
    }
    if (n === 0) return;
    this.buffer.splice(0, n);
    this.status.dropped += n;
    this.dirty = true;
  }

  /** Buffered lines are let go: the buffer is memory only. A send under way is not waited for. */
  stop(): void {
    this.abort.abort();
    this.poke();
    this.transport.close();
  }

  private poke(): void {
    clearTimeout(this.timer ?? undefined);
    this.timer = null;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async run(): Promise<void> {
    let failures = 0;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      if (this.buffer.length === 0) {
        await new Promise<void>((r) => (this.wake = r));
        continue;
      }
      const batch = this.buffer.splice(0, this.o.batchLines);
      const batchBytes = batch.reduce((n, l) => n + weight(l), 0);
      this.bytes -= batchBytes;
      try {
        await this.transport.send(batch);
        failures = 0;
        this.status.sent += batch.length;
        this.status.last_success_at = new Date(this.o.clock.now()).toISOString();
        this.dirty = true;
      } catch (err) {
        // Back to the front, in order; what no longer fits beside newer lines is dropped, oldest first.
        this.buffer.unshift(...batch);
        this.bytes += batchBytes;
        this.dropOverflow();
        this.status.last_error = (err as Error).message;
        this.status.last_error_at = new Date(this.o.clock.now()).toISOString();
        this.dirty = true;
        failures++;
        await this.o.clock.sleep(Math.min(this.o.retryBaseMs * 2 ** (failures - 1), this.o.retryMaxMs), signal);
      }
    }
  }
}
