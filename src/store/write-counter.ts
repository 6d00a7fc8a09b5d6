import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

// Not db.ts's Db: db.ts imports this file.
type Db = Kysely<Database>;

/**
 * A count of committed writes that only grows. A reader that notes it before reading and finds it
 * unchanged later knows nothing was written in between, so an answer built from that read is still
 * exact (api/read-cache.ts). SQLite counts in the process (generation.ts); PostgreSQL in the database.
 */
export interface WriteCounter {
  read(): number | Promise<number>;
}

/**
 * Tables whose writes do not count: append-heavy logs and the instances' heartbeats, written many
 * times a second and read by no cached answer. A cached answer must read none of them. (SQLite's
 * in-process count leaves out the log store's tables the same way: generation.ts.)
 */
export const UNCOUNTED_TABLES = ['build_logs', 'log_lines', 'log_cursors', 'metric_samples', 'events', 'audit_log', 'control_planes', 'leases', 'write_generation', 'kysely_migration', 'kysely_migration_lock'];

/**
 * Every other table gets a deferred row trigger that bumps write_generation once per transaction,
 * at commit (migration 0032_write_generation made the table and the function). Run at every start, after the
 * migrations: a table a later migration adds is counted from its first start. Several instances
 * starting at once take turns on an advisory lock.
 */
export async function ensureWriteCounting(db: Db): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtext('berth_write_generation'))`.execute(tx);
    const missing = await sql<{ name: string }>`select c.relname as name from pg_class c
      where c.relkind = 'r' and c.relnamespace = current_schema()::regnamespace
        and not (c.relname::text = any(${UNCOUNTED_TABLES}::text[]))
        and not exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname = 'berth_write_gen')`.execute(tx);
    for (const { name } of missing.rows) {
      // Names come from the catalogue, not from users; quoted anyway.
      await sql`create constraint trigger berth_write_gen after insert or update or delete on ${sql.id(name)}
        deferrable initially deferred for each row execute function berth_write_bump()`.execute(tx);
    }
  });
}

/**
 * The database's count, read with one small query. Requests that arrive while a read is in flight
 * share the next one, which is sent after they arrived: so each still sees every commit that
 * completed before it arrived, and under load one query serves many requests.
 *
 * The database's count can go back: a failover to a replica that had not received the last commits
 * (asynchronous replication), or a restore from a backup. Writes after it bring the count back to a
 * number an answer was cached at, with other data behind it: a cached apps list showing a lost app, a
 * lost session still opening the API. So what this returns is this process's own count of changes
 * seen: it moves whenever the database's count or its server (pg_postmaster_start_time(): another
 * server after a failover, or the same one restarted from a backup) differs from the last reading,
 * and never comes back to a number it gave before.
 */
export class PgWriteCounter implements WriteCounter {
  private sent: Promise<number> | null = null;
  private queued: Promise<number> | null = null;
  private seen = '';
  private changes = 0;

  constructor(private readonly db: Db) {}

  read(): Promise<number> {
    if (!this.sent) return this.send();
    if (!this.queued) {
      this.queued = this.sent
        .catch(() => {})
        .then(() => {
          this.queued = null;
          return this.send();
        });
    }
    return this.queued;
  }

  private send(): Promise<number> {
    const p: Promise<number> = sql<{ n: string; server: string }>`select sum(n)::text as n, pg_postmaster_start_time()::text as server from write_generation`
      .execute(this.db)
      .then((r) => {
        const row = r.rows[0];
        const reading = `${row?.server ?? ''} ${row?.n ?? 0}`;
        // Readings can complete out of order (a read() while the previous one settles): any
        // difference from the last counts as a change, so one more change never makes a stale answer.
        if (reading !== this.seen) {
          this.seen = reading;
          this.changes++;
        }
        return this.changes;
      })
      .finally(() => {
        if (this.sent === p) this.sent = null;
      });
    this.sent = p;
    return p;
  }
}
