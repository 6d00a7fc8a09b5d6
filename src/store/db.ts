import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type { Database } from './schema.js';
import { migrationProvider } from './migrations.js';
import { WriteGeneration } from './generation.js';
import { ensureWriteCounting, PgWriteCounter, type WriteCounter } from './write-counter.js';
import { withStatementCache } from './statement-cache.js';
import { noPubSub, PgPubSub, type PubSub } from './pubsub.js';

export type Db = Kysely<Database>;

export interface Store {
  db: Db;
  engine: 'sqlite' | 'postgres';
  /**
   * Counts committed writes. SQLite: in this process, the only writer (a transaction holds the one
   * connection). PostgreSQL: in the database, bumped at each writing transaction's commit, so every
   * instance on it sees a write as soon as the writer's commit returned (store/write-counter.ts).
   */
  generation: WriteCounter;
  /** Messages to the other control planes on the same PostgreSQL (none on SQLite). */
  pubsub: PubSub;
  /**
   * The leader lease's own connection (PostgreSQL; on SQLite the same as db). Renewals must not
   * queue behind the shared pool: at start the controllers can hold all its connections for
   * longer than the lease's life, and a renewal that waits that long loses the lease
   * (docs/operations.md, Several instances).
   */
  leaseDb: Db;
  /** Cheap round trip: /healthz uses it. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the embedded SQLite database under dataDir, or PostgreSQL when a URL is given, and brings
 * its schema up to date.
 */
export async function openStore(opts: { dataDir: string; databaseUrl: string | null }): Promise<Store> {
  let db: Db;
  let engine: Store['engine'];
  let generation: WriteCounter | undefined;
  let makeListener: (() => InstanceType<typeof import('pg').Client>) | null = null;
  let leaseDb: Db | null = null;
  if (opts.databaseUrl) {
    engine = 'postgres';
    // Each driver is loaded only when used: the embedded install never pays for pg's memory, nor PostgreSQL for SQLite's.
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: 10,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30000,
      // A statement that hangs must not hang a request forever.
      statement_timeout: 15000,
    });
    // A dropped connection (server restart) must not crash the control plane; the pool reconnects.
    // The pool listens for errors only on idle clients: it removes its listener while a client is
    // checked out, and a client whose server goes away mid-query still emits 'error' once its socket
    // ends (node-postgres #2499). Every client gets its own listener, so no window is left.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    // One connection, kept open (no idle timeout), used by nothing but the lease and the heartbeat.
    // A statement that hangs past the lease's life is of no use: the term is over by then anyway.
    const leasePool = new pg.Pool({ connectionString: opts.databaseUrl, max: 1, connectionTimeoutMillis: 5000, idleTimeoutMillis: 0, statement_timeout: 6000, keepAlive: true });
    leasePool.on('error', () => {});
    leasePool.on('connect', (client) => client.on('error', () => {}));
    leaseDb = new Kysely<Database>({ dialect: new PostgresDialect({ pool: leasePool }) });
    const url = opts.databaseUrl;
    makeListener = () => new pg.Client({ connectionString: url, keepAlive: true });
  } else {
    engine = 'sqlite';
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    const { default: SQLite } = await import('better-sqlite3');
    const file = new SQLite(join(opts.dataDir, 'berth.db'), { timeout: 5000 });
    file.pragma('journal_mode = WAL');
    file.pragma('synchronous = NORMAL');
    file.pragma('foreign_keys = ON');
    // SQLite's lower() and LIKE fold ASCII letters only: the log search folds the rest with this (store/logs.ts).
    file.function('berth_fold', { deterministic: true }, (s: unknown) => (typeof s === 'string' ? s.toLowerCase() : s));
    const counted = new WriteGeneration();
    generation = counted;
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(file) }), plugins: [counted] });
  }
  const { error, results } = await new Migrator({ db, provider: migrationProvider(engine) }).migrateToLatest();
  if (error) {
    await leaseDb?.destroy();
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
  if (engine === 'postgres') {
    try {
      await ensureWriteCounting(db);
    } catch (err) {
      await leaseDb?.destroy();
      await db.destroy();
      throw err;
    }
    generation = new PgWriteCounter(db);
  }
  const pubsub = makeListener
    ? new PgPubSub(async (channel, payload) => void (await sql`select pg_notify(${channel}, ${payload})`.execute(db)), makeListener)
    : noPubSub;
  return {
    db,
    engine,
    generation: generation!,
    pubsub,
    leaseDb: leaseDb ?? db,
    async ping() {
      await db.selectFrom('users').select('id').limit(1).execute();
    },
    close: async () => {
      await pubsub.close();
      await leaseDb?.destroy();
      await db.destroy();
    },
  };
}

/** True when err is a unique-constraint violation, on either engine. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export const now = (): string => new Date().toISOString();
