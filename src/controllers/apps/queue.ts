/** How long a key that failed waits before it is tried again: doubling from baseMs up to maxMs. */
export interface Backoff {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 1000, maxMs: 60_000 };

/**
 * Work per key (an app), one run at a time per key and any number of keys at once. Work asked for
 * while a run is under way makes one more run after it. A run that fails is tried again by itself
 * after a backoff that doubles with each failure in a row (so a broken engine is not hammered, and
 * a passing hiccup does not wait for the next periodic pass).
 */
export class WorkQueue {
  private readonly work = new Map<string, { again: boolean; done: Promise<void> }>();
  private readonly failures = new Map<string, number>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private readonly soon = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly run: (key: string) => Promise<void>,
    private readonly onError: (err: unknown, key: string, retryInMs: number) => void,
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
  ) {}

  /** Resolves when the key has been worked on at least once after this call (whether or not that run failed). */
  schedule(key: string): Promise<void> {
    const cur = this.work.get(key);
    if (cur) {
      cur.again = true;
      return cur.done;
    }
    const entry = { again: false, done: Promise.resolve() };
    entry.done = (async () => {
      try {
        do {
          entry.again = false;
          if (this.stopped) return;
          await this.runOnce(key);
        } while (entry.again);
      } finally {
        this.work.delete(key);
      }
    })();
    this.work.set(key, entry);
    return entry.done;
  }

  /** Consecutive failures of the key (0 after a success). */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** No new runs; waits for those under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timers of [this.retries, this.soon]) {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    }
    await Promise.allSettled([...this.work.values()].map((w) => w.done));
  }

  private async runOnce(key: string): Promise<void> {
    try {
      await this.run(key);
      this.failures.delete(key);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const delay = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** (n - 1));
      this.onError(err, key, delay);
      this.retryLater(key, delay);
    }
  }

  /** Works on the key again in about ms (once, however often asked meanwhile); apart from a failure's backoff. */
  later(key: string, ms: number): void {
    this.after(this.soon, key, ms);
  }

  private retryLater(key: string, ms: number): void {
    this.after(this.retries, key, ms);
  }

  private after(timers: Map<string, NodeJS.Timeout>, key: string, ms: number): void {
    if (this.stopped || timers.has(key)) return;
    const t = setTimeout(() => {
      timers.delete(key);
      void this.schedule(key);
    }, ms);
    t.unref();
    timers.set(key, t);
  }
}
