import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';

type Tx = Transaction<Database>;

/**
 * Not copied: the migrator's own tables (the target ran the same migrations), the write count
 * (PostgreSQL's own), and who runs now (control_planes, leases: written by the running instances).
 */
const NOT_COPIED = new Set(['kysely_migration', 'kysely_migration_lock', 'write_generation', 'control_planes', 'leases']);

export interface CopyProgress {
  table: string;
  rows: number;
  /** Rows of this table copied so far. */
  done: number;
}

export class CopyRefused extends Error {}

/**
 * Refuses, before Berth's migrations create anything there, a PostgreSQL database that holds
 * another application's tables: one with tables but no Berth migration record. (A database Berth
 * has opened before passes here; copySqliteToPostgres then refuses it if any of its tables has rows.)
 */
export async function refuseForeignTarget(url: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, statement_timeout: 15000 });
  client.on('error', () => {});
  await client.connect();
  try {
    const tables = (await client.query<{ name: string }>(`select relname as name from pg_class
      where relkind in ('r', 'p') and relnamespace = current_schema()::regnamespace order by relname`)).rows.map((r) => r.name);
    if (tables.length && !tables.includes('kysely_migration')) {
      const named = tables.slice(0, 3).join(', ') + (tables.length > 3 ? `, and ${tables.length - 3} more` : '');
      throw new CopyRefused(`the target database holds tables that are not Berth's (${named}): migrate into a new, empty database`);
    }
  } finally {
    await client.end().catch(() => {});
  }
}

/** The tables of the target, parents before the tables whose foreign keys point at them. */
async function targetTables(tx: Tx): Promise<string[]> {
  const tables = (await sql<{ name: string }>`select relname as name from pg_class
    where relkind = 'r' and relnamespace = current_schema()::regnamespace order by relname`.execute(tx)).rows.map((r) => r.name);
  const fks = (await sql<{ t: string; ref: string }>`select c.relname as t, r.relname as ref from pg_constraint k
    join pg_class c on c.oid = k.conrelid join pg_class r on r.oid = k.confrelid
    where k.contype = 'f' and c.relnamespace = current_schema()::regnamespace`.execute(tx)).rows;
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (t: string, path: string[]) => {
    if (seen.has(t)) return;
    if (path.includes(t)) throw new Error(`foreign keys form a cycle: ${[...path, t].join(' -> ')}`);
    for (const f of fks) if (f.t === t && f.ref !== t) visit(f.ref, [...path, t]);
    seen.add(t);
    order.push(t);
  };
  for (const t of tables) visit(t, []);
  return order.filter((t) => !NOT_COPIED.has(t));
}

/**
 * Copies every row of an SQLite database into an empty PostgreSQL database of the same schema
 * version, inside one transaction on each side: the source is read from one snapshot, and the
 * target has everything or (on any failure) nothing. Values are copied as stored, so sealed
 * secrets stay sealed with the same key. Refuses a target with any row, or a different schema.
 * Returns the rows copied per table.
 */
export async function copySqliteToPostgres(
  source: Kysely<Database>,
  target: Kysely<Database>,
  progress: (p: CopyProgress) => void = () => {},
): Promise<Record<string, number>> {
  return source.transaction().execute((src) =>
    target.transaction().execute(async (dst) => {
      const version = async (db: Tx) => (await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db)).rows.map((r) => r.name).join(',');
      if ((await version(src)) !== (await version(dst))) throw new CopyRefused('the two databases are at different schema versions: open both with the same Berth version');
      const tables = await targetTables(dst);
      const sourceTables = new Set(
        (await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`.execute(src)).rows.map((r) => r.name),
      );
      for (const t of sourceTables) {
        if (!NOT_COPIED.has(t) && !tables.includes(t)) throw new CopyRefused(`the target has no table ${t}`);
      }
      for (const t of tables) {
        const r = await sql<{ one: number }>`select 1 as one from ${sql.id(t)} limit 1`.execute(dst);
        if (r.rows.length) throw new CopyRefused(`the target database is not empty (table ${t} has rows): migrate into a new, empty database`);
      }
      // One read transaction: every table is read from the same snapshot (SQLite's WAL).
      const copied: Record<string, number> = {};
      for (const t of tables) {
        if (!sourceTables.has(t)) continue;
        copied[t] = await copyTable(src, dst, t, progress);
      }
      await resetSequences(dst, tables);
      return copied;
    }),
  );
}

/** PostgreSQL's column types, to give SQLite's loosely typed values the type each column wants. */
async function columnTypes(dst: Tx, table: string): Promise<Map<string, string>> {
  const r = await sql<{ name: string; type: string }>`select column_name as name, data_type as type from information_schema.columns
    where table_schema = current_schema() and table_name = ${table}`.execute(dst);
  return new Map(r.rows.map((c) => [c.name, c.type]));
}

function convert(value: unknown, type: string | undefined): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'text' && typeof value !== 'string') return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

async function copyTable(src: Tx, dst: Tx, table: string, progress: (p: CopyProgress) => void): Promise<number> {
  const rows = Number((await sql<{ n: number }>`select count(*) as n from ${sql.id(table)}`.execute(src)).rows[0]?.n ?? 0);
  const types = await columnTypes(dst, table);
  progress({ table, rows, done: 0 });
  let done = 0;
  // PostgreSQL takes at most 65,535 parameters per statement.
  const batch = Math.max(1, Math.min(1000, Math.floor(60_000 / Math.max(1, types.size))));
  let page: Record<string, unknown>[] = [];
  const flush = async () => {
    if (!page.length) return;
    await dst.insertInto(table as keyof Database).values(page as never).execute();
    done += page.length;
    page = [];
    progress({ table, rows, done });
  };
  // Streamed: a table of any size is read once, in its own order, never whole in memory.
  for await (const row of src.selectFrom(table as keyof Database).selectAll().stream()) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row as Record<string, unknown>)) {
      if (!types.has(k)) throw new CopyRefused(`the target's table ${table} has no column ${k}`);
      out[k] = convert(v, types.get(k));
    }
    page.push(out);
    if (page.length >= batch) await flush();
  }
  await flush();
  const there = Number((await sql<{ n: string }>`select count(*)::text as n from ${sql.id(table)}`.execute(dst)).rows[0]?.n ?? 0);
  if (there !== rows) throw new Error(`table ${table}: ${rows} rows read, ${there} in the target`);
  return done;
}

/** Serial ids (events, audit log) copied as they were: each sequence continues after the highest. */
async function resetSequences(dst: Tx, tables: string[]): Promise<void> {
  const r = await sql<{ t: string; c: string; seq: string }>`select table_name as t, column_name as c, pg_get_serial_sequence(quote_ident(table_name), column_name) as seq
    from information_schema.columns where table_schema = current_schema() and column_default like 'nextval(%'`.execute(dst);
  for (const { t, c, seq } of r.rows) {
    if (!seq || !tables.includes(t)) continue;
    await sql`select setval(${seq}, coalesce((select max(${sql.id(c)}) from ${sql.id(t)}), 0) + 1, false)`.execute(dst);
  }
}
