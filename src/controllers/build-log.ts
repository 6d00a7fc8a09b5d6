import { EventEmitter } from 'node:events';
import type { Db } from '../store/db.js';
import { appendLogs } from '../store/builds.js';

/**
 * Tells live readers (the log WebSocket) that a build has new lines in the database or a new
 * status. Readers always read from the database, so a notification can be missed or doubled
 * without losing or repeating a line.
 */
class BuildLogHub {
  private readonly bus = new EventEmitter();
  constructor() {
    this.bus.setMaxListeners(0);
  }
  notify(buildId: string): void {
    this.bus.emit(buildId);
  }
  subscribe(buildId: string, fn: () => void): () => void {
    this.bus.on(buildId, fn);
    return () => this.bus.off(buildId, fn);
  }
}

export const buildLogHub = new BuildLogHub();

const MAX_LINE = 4000;
const BATCH = 200;
const FLUSH_MS = 150;

/**
 * Writes a build's log to the database line by line, batching lines that arrive within a few
 * milliseconds into one insert (a chatty npm install would otherwise be thousands of round trips).
 */
export class BuildLogWriter {
  private buf: { seq: number; line: string }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private dropped = 0;
  lines = 0;

  constructor(
    private readonly db: Db,
    private readonly buildId: string,
    private seq: number,
    private readonly maxLines: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  write(line: string): void {
    if (this.lines >= this.maxLines) {
      this.dropped++;
      return;
    }
    this.lines++;
    const text = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}… (line cut)` : line;
    this.buf.push({ seq: ++this.seq, line: text });
    if (this.buf.length >= BATCH) void this.flush();
    else if (!this.timer) this.timer = setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Resolves when every line written so far is in the database. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.buf;
    this.buf = [];
    if (batch.length) {
      this.chain = this.chain
        .then(() => appendLogs(this.db, this.buildId, batch))
        .then(() => buildLogHub.notify(this.buildId))
        .catch(this.onError);
    }
    return this.chain;
  }

  async close(): Promise<void> {
    if (this.dropped) {
      this.lines = 0;
      this.write(`(${this.dropped} more lines were not kept: the log limit is ${this.maxLines} lines)`);
    }
    await this.flush();
  }
}
