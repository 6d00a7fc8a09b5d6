import type { Db } from '../../store/db.js';
import { appRetention, logUsage, pruneDeletedApps, pruneOlderThan, pruneToSize } from '../../store/logs.js';
import { timeKey } from '../../domain/drains.js';

const MB = 1024 * 1024;

/**
 * One retention pass: lines older than `retentionDays` go (or an app's own, shorter, days), then
 * each app over `retentionBytes` (or its own, smaller, MB) loses its oldest lines until it is
 * under; the lines of deleted apps go too. `now` is the caller's clock (tests pass their own). Returns how many lines went.
 */
export async function pruneLogs(db: Db, limits: { retentionDays: number; retentionBytes: number }, now: number): Promise<number> {
  const before = (days: number) => timeKey(new Date(now - days * 86_400_000).toISOString());
  let gone = await pruneOlderThan(db, before(limits.retentionDays));
  const own = new Map((await appRetention(db)).map((a) => [a.id, a]));
  for (const a of own.values()) {
    if (a.log_retention_days != null && a.log_retention_days < limits.retentionDays) gone += await pruneOlderThan(db, before(a.log_retention_days), a.id);
  }
  const usage = await logUsage(db);
  // Lines of a deleted app go with the first pass after (no foreign key: store/migrations.ts 0028).
  gone += await pruneDeletedApps(db, usage.map((u) => u.app_id));
  for (const u of usage) {
    const mb = own.get(u.app_id)?.log_retention_mb;
    const keep = mb != null ? Math.min(mb * MB, limits.retentionBytes) : limits.retentionBytes;
    if (u.bytes > keep) gone += await pruneToSize(db, u.app_id, keep);
  }
  return gone;
}
