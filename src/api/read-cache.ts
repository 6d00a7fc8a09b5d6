import type { Store } from '../store/db.js';

/**
 * Answers to repeated reads, kept while nothing has been written since they were built. A
 * dashboard (or a script) polling a list of 1,000 apps pays for the query and the 100 rows it
 * turns into objects only after a change. Only where the store counts writes (SQLite).
 */
/** A cached answer: the value and, once it has been sent, its JSON as bytes (serializing and encoding 100 apps is most of the cost left). */
export class CachedAnswer<T> {
  json?: Buffer;
  constructor(readonly value: T) {}
}

export class ReadCache<T> {
  private readonly entries = new Map<string, { generation: number; answer: CachedAnswer<T> }>();

  constructor(
    private readonly store: Pick<Store, 'generation'>,
    private readonly max = 500,
  ) {}

  /**
   * The answer for key, built again only if something was written since. The route handler returns
   * it as is; mountRoutes sends its JSON, serialized once with the route's own schema.
   */
  async get(key: string, build: () => Promise<T>): Promise<T> {
    const counter = this.store.generation;
    if (!counter) return build();
    // Noted before reading: a write during the read leaves the entry already stale.
    const generation = counter.value;
    const hit = this.entries.get(key);
    if (hit && hit.generation === generation) return hit.answer as unknown as T;
    const answer = new CachedAnswer(await build());
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(key, { generation, answer });
    return answer as unknown as T;
  }
}
