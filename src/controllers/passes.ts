/**
 * One pass of a controller at a time: a nudge during a pass asks for exactly one more pass after
 * it, so a change is never missed and passes never run side by side.
 */
export class Passes {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
    private readonly stopped: () => boolean,
  ) {}

  nudge(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass().catch(this.onError);
      } while (this.again && !this.stopped());
      this.running = null;
    })();
  }

  /** Resolves when no pass runs. */
  async idle(): Promise<void> {
    await this.running;
  }
}
