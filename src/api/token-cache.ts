import type { Store } from '../store/db.js';
import { now } from '../store/db.js';
import { userForToken } from '../store/users.js';
import { hashToken } from '../lib/crypto.js';

type TokenUser = NonNullable<Awaited<ReturnType<typeof userForToken>>>;

/**
 * Who holds a bearer token, kept while nothing has been written since it was read (the same write
 * count as the read cache): a revoked token, a disabled or deleted user is a write, so the next
 * request after it, on any instance, reads the database again. Saves a query per authenticated
 * request. Only found tokens are kept (random guesses would fill it), keyed by the token's hash.
 */
export class TokenUsers {
  private readonly entries = new Map<string, { generation: number; row: TokenUser }>();

  constructor(
    private readonly store: Pick<Store, 'generation' | 'db'>,
    private readonly max = 1000,
  ) {}

  /** `count`: the request's (read-cache.ts, arrivalCount), which a cached answer later in the request reuses. */
  async get(token: string, count?: Promise<number>): Promise<TokenUser | undefined> {
    // Noted before reading, as in ReadCache: a write during the read leaves the entry already stale.
    const generation = await (count ?? this.store.generation.read());
    const key = hashToken(token);
    const hit = this.entries.get(key);
    if (hit && hit.generation === generation) {
      // Expiry is a matter of time, not of writes: checked at every use.
      return hit.row.expires_at && hit.row.expires_at < now() ? undefined : hit.row;
    }
    const row = await userForToken(this.store.db, token);
    if (!row) {
      this.entries.delete(key);
      return undefined;
    }
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(key, { generation, row });
    return row;
  }
}
