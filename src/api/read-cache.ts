import type { FastifyRequest } from 'fastify';
import type { Store } from '../store/db.js';

const counts = new WeakMap<FastifyRequest, Promise<number>>();

/**
 * The store's write count, read once per request and first asked for after the request arrived:
 * the token check (token-cache.ts) and a cached answer share this one reading instead of waiting
 * for one each. On PostgreSQL a reading is a round trip, plus part of the one in flight when it
 * was asked for (store/write-counter.ts): an authenticated list that read it twice waited up to
 * four (docs/performance.md). Shared, a request still sees every write committed before it
 * arrived, which is all a cached answer promises. A handler that writes must not use it for a read
 * after its own write: the count was noted before that write.
 */
export function arrivalCount(req: FastifyRequest, store: Pick<Store, 'generation'>): Promise<number> {
  let count = counts.get(req);
  if (!count) counts.set(req, (count = Promise.resolve(store.generation.read())));
  return count;
}

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
   * it as is; mountRoutes sends its JSON, serialized once with the route's own schema. `count`: the
   * request's (arrivalCount), when it has one; else the store is read here.
   */
  async get(key: string, build: () => Promise<T>, count?: Promise<number>): Promise<T> {
    // Noted before reading: a write during the read leaves the entry already stale.
    const generation = await (count ?? this.store.generation.read());
    const hit = this.entries.get(key);
    if (hit && hit.generation === generation) return hit.answer as unknown as T;
    const answer = new CachedAnswer(await build());
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(key, { generation, answer });
    return answer as unknown as T;
  }
}
