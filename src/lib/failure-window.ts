/**
 * Counts failures per key in a sliding window (login attempts per username, per client address).
 * A key with `max` failures inside the last `windowMs` is blocked until the oldest of them leaves
 * the window. In memory: one control plane process answers logins. At most `maxKeys` keys are
 * kept (the least recently failed go first), so a flood of made-up names cannot grow it forever.
 */
export class FailureWindow {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly maxKeys = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `key` may try again; 0 when it may now. */
  blockedFor(key: string): number {
    const list = this.recent(key);
    if (list.length < this.max) return 0;
    return list[list.length - this.max] + this.windowMs - this.now();
  }

  fail(key: string): void {
    const list = this.recent(key);
    list.push(this.now());
    // Re-inserted: the Map's order is then least recently failed first.
    this.failures.delete(key);
    this.failures.set(key, list.slice(-this.max));
    while (this.failures.size > this.maxKeys) this.failures.delete(this.failures.keys().next().value as string);
  }

  reset(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.now() - this.windowMs;
    const list = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }
}
