/**
 * A controller's loop: one pass at a time (a nudge during a pass asks for exactly one more pass
 * after it, so a change is never missed and passes never run side by side), a pass every
 * `intervalMs` besides, and the background work the passes start, which stop() waits for.
 */
export class Passes {
  private running: Promise<void> | null = null;
  private again = false;
  private timer?: NodeJS.Timeout;
  private readonly stopping = new AbortController();
  private readonly work = new Set<Promise<unknown>>();
  /**
   * Nudges before start() wait for it: the API listens before the controllers start, and a pass
   * then could act on rows the controller's recovery (which runs just before start) has yet to settle.
   */
  private started = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
    private readonly intervalMs: number,
  ) {}

  /** Aborts when the control plane stops. */
  get signal(): AbortSignal {
    return this.stopping.signal;
  }

  start(): void {
    this.started = true;
    const tick = () => {
      if (this.signal.aborted) return;
      this.nudge();
      this.timer = setTimeout(tick, this.intervalMs);
    };
    tick();
  }

  nudge(): void {
    if (!this.started) return; // start() makes the first pass
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass().catch(this.onError);
      } while (this.again && !this.signal.aborted);
      this.running = null;
    })();
  }

  /** Background work started by a pass; stop() waits for it. */
  track(p: Promise<unknown>): void {
    this.work.add(p);
    void p.finally(() => this.work.delete(p));
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.timer);
    await this.running;
    await Promise.allSettled([...this.work]);
  }
}
