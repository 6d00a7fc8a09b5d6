import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * Kysely's SQLite driver prepares every statement afresh; preparing costs as much as running a
 * small query. Statements are reused by their SQL text (the most recent `max` of them). Safe
 * because each one runs to completion synchronously before the next (nothing streams).
 */
export function withStatementCache(db: SqliteDatabase, max = 300): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (stmt) {
        // Most recently used last, so the oldest is dropped first.
        cache.delete(sql);
      } else {
        stmt = db.prepare(sql);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}
