import { sql } from 'kysely';
import type { Db } from '../../src/store/db.js';

/** Bytes of the tables named (their indexes included): PostgreSQL's relation sizes; on SQLite the whole file's used pages after a checkpoint (the benches fill one table). */
export async function tablesBytes(db: Db, engine: 'sqlite' | 'postgres', tables: string[]): Promise<number> {
  if (engine === 'postgres') {
    let n = 0;
    for (const t of tables) n += Number((await sql<{ n: string }>`select pg_total_relation_size(${t}::regclass) as n`.execute(db)).rows[0]!.n);
    return n;
  }
  await sql`pragma wal_checkpoint(TRUNCATE)`.execute(db);
  const pages = await sql<{ page_count: number }>`pragma page_count`.execute(db);
  const free = await sql<{ freelist_count: number }>`pragma freelist_count`.execute(db);
  const size = await sql<{ page_size: number }>`pragma page_size`.execute(db);
  return (pages.rows[0]!.page_count - free.rows[0]!.freelist_count) * size.rows[0]!.page_size;
}

/** The median time of `runs` calls of fn, in ms. */
export async function medianMs(runs: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}
