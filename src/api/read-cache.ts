import type { Store } from '../store/db.js';

/** A cached answer: its JSON as bytes once first sent (serializing and encoding 100 apps is most of the cost left). */
export class CachedAnswer<T> {
  private json?: Buffer;
  constructor(private value: T | undefined) {}

  /** Serialized once, with the route's own serializer; the objects are dropped after, only the bytes stay. */
  bytes(serialize: (value: T) => string): Buffer {
    if (!this.json) {
      this.json = Buffer.from(serialize(this.value as T));
      this.value = undefined;
    }
    return this.json;
  }
}

/**
 * Answers to repeated reads, kept while nothing has been written since they were built. A
 * dashboard (or a script) polling a list of 1,000 apps pays for the query and the 100 rows it
 * turns into objects only after a change. The store's write count decides: on PostgreSQL it is the
 * database's, so a write through any instance is seen by a read on any other that starts after the
 * write's commit returned (store/write-counter.ts). A cached answer must read only counted tables
 * (not those in UNCOUNTED_TABLES). The key must name the caller: answers are per user.
 */
export class ReadCache<T> {
  private readonly entries = new Map<string, { generation: number; answer: CachedAnswer<T> }>();

  constructor(
    private readonly store: Pick<Store, 'generation'>,
    private readonly max = 100,
  ) {}

  /**
   * The answer for key, built again only if something was written since. The route handler returns
   * it as is; mountRoutes sends its JSON, serialized once with the route's own schema.
   */
  async get(key: string, build: () => Promise<T>): Promise<T> {
    // Noted before reading: a write during the read leaves the entry already stale.
    const generation = await this.store.generation.read();
    const hit = this.entries.get(key);
    if (hit && hit.generation === generation) return hit.answer as unknown as T;
    const answer = new CachedAnswer(await build());
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(key, { generation, answer });
    return answer as unknown as T;
  }
}
