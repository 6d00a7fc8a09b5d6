import type { Db } from '../../store/db.js';
import { logUsage, pruneOlderThan, pruneToSize } from '../../store/logs.js';
import { timeKey } from '../../domain/drains.js';

/**
 * One retention pass: every app's lines older than `retentionDays` go, then each app over
 * `retentionBytes` loses its oldest lines until it is under. `now` is the caller's clock (tests
 * pass their own). Returns how many lines went.
 */
export async function pruneLogs(db: Db, limits: { retentionDays: number; retentionBytes: number }, now: number): Promise<number> {
  let gone = await pruneOlderThan(db, timeKey(new Date(now - limits.retentionDays * 86_400_000).toISOString()));
  for (const u of await logUsage(db)) {
    if (u.bytes > limits.retentionBytes) gone += await pruneToSize(db, u.app_id, limits.retentionBytes);
  }
  return gone;
}
