import type { Db } from '../store/db.js';
import { appendLogs } from '../store/builds.js';
import type { BuildLogHub } from '../domain/build-logs.js';


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
    private readonly hub: BuildLogHub,
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
        .then(() => {
          this.hub.notify(this.buildId);
          const at = new Date().toISOString();
          this.hub.written(this.buildId, batch.map((l) => ({ line: l.line, created_at: at })));
        })
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
