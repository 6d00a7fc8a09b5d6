import type { Db } from '../../store/db.js';
import { appLogBytes, appRetention, liveApps, logUsage, pruneDeletedApps, pruneOlderThan, pruneToSizeKept } from '../../store/logs.js';
import { timeKey } from '../../domain/drains.js';

const MB = 1024 * 1024;

/**
 * What each app's lines weigh, kept by the collector between passes so a pass need not sum the
 * whole table every minute (found by review): summed once (the first pass), then grown by what the
 * collector writes. Deletes only lower the truth, so a figure here is never below it: an app whose
 * figure passes its limit is summed again (its own rows only) before anything goes.
 */
export class LogUsage {
  bytes: Map<string, number> | null = null;
  add(appId: string, bytes: number): void {
    if (this.bytes) this.bytes.set(appId, (this.bytes.get(appId) ?? 0) + bytes);
  }
}

/**
 * One retention pass: lines older than `retentionDays` go (or an app's own, shorter, days), then
 * each app over `retentionBytes` (or its own, smaller, MB) loses its oldest lines until it is
 * under; the lines of deleted apps go too. `now` is the caller's clock (tests pass their own).
 * With `usage` (the collector's), the whole table is summed only on the first pass. Returns how many lines went.
 */
export async function pruneLogs(db: Db, limits: { retentionDays: number; retentionBytes: number }, now: number, usage: LogUsage = new LogUsage()): Promise<number> {
  const before = (days: number) => timeKey(new Date(now - days * 86_400_000).toISOString());
  const fresh = !usage.bytes;
  if (!usage.bytes) {
    // Lines written while the table is summed are counted as they come and again if the sum saw
    // them: a figure too high costs one app's sum, one too low would keep lines past the limit.
    usage.bytes = new Map();
    try {
      for (const u of await logUsage(db)) usage.add(u.app_id, u.bytes);
    } catch (err) {
      // Summed again next pass: a book of only the lines written since would prune nothing old.
      usage.bytes = null;
      throw err;
    }
  }
  const book = usage.bytes;
  // Lines of a deleted app go with the first pass after (no foreign key: store/migrations.ts 0028).
  const known = [...book.keys()];
  let gone = await pruneDeletedApps(db, known);
  const live = await liveApps(db, known);
  for (const id of known) if (!live.has(id)) book.delete(id);
  // By age, app by app: each is a range of the (app_id, time, id) index, where one statement over
  // all apps read the whole table to find nothing (measured: docs/performance.md, "Log store").
  const own = new Map((await appRetention(db)).map((a) => [a.id, a]));
  for (const appId of book.keys()) {
    const days = own.get(appId)?.log_retention_days;
    gone += await pruneOlderThan(db, before(days != null ? Math.min(days, limits.retentionDays) : limits.retentionDays), appId);
  }
  for (const [appId, figure] of [...book]) {
    const mb = own.get(appId)?.log_retention_mb;
    const keep = mb != null ? Math.min(mb * MB, limits.retentionBytes) : limits.retentionBytes;
    if (figure <= keep) continue;
    // What the collector adds meanwhile is kept on top of what the sum or the prune found.
    const since = () => (book.get(appId) ?? figure) - figure;
    const bytes = fresh ? figure : await appLogBytes(db, appId);
    if (bytes <= keep) {
      book.set(appId, bytes + since());
      continue;
    }
    const r = await pruneToSizeKept(db, appId, keep);
    gone += r.gone;
    book.set(appId, r.kept + since());
  }
  return gone;
}
