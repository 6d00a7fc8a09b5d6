import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/db.js';
import { createDatabase } from '../support/server.js';

/**
 * A PostgreSQL restart ends every connection, including one the control plane holds at that moment
 * (inside a transaction, between two statements). The process must survive it and carry on with
 * fresh connections. Shown here on one real connection, ended the way a restart ends it.
 */
describe('PostgreSQL store: a connection ended by the server', () => {
  let database: Awaited<ReturnType<typeof createDatabase>>;
  let store: Store;
  before(async () => {
    database = await createDatabase();
    store = await openStore({ dataDir: '/nonexistent', databaseUrl: database.url });
  });
  after(async () => {
    await store?.close();
    await database?.drop();
  });

  test('a held connection ended by the server fails its statement, not the process; the next query works', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      await store.db.connection().execute(async (conn) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(conn);
        // What a server shutdown does to each backend: it is told to terminate, with 57P01.
        const admin = new pg.Client({ connectionString: database.url });
        await admin.connect();
        try {
          await admin.query('select pg_terminate_backend($1)', [rows[0].pid]);
        } finally {
          await admin.end();
        }
        await assert.rejects(sql`select 1`.execute(conn), 'the held connection is gone');
      });
      // The server's FATAL came as the statement's error; the socket's end may arrive only later. Until
      // then the pool can hand the dead client out once more (seen in CI): that one query fails on the
      // closed socket, and the client is dropped with it. The one after is served.
      const next = () => sql<{ one: number }>`select 1 as one`.execute(store.db);
      const first = await next().catch((err: NodeJS.ErrnoException) => err);
      if (first instanceof Error) assert.match(`${first.code ?? ''} ${first.message}`, /ECONNRESET|EPIPE|terminated|ended/, 'only a closed-connection error');
      const { rows } = first instanceof Error ? await next() : first;
      assert.equal(rows[0].one, 1, 'a fresh connection serves the queries after it');
      await store.ping();
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    assert.deepEqual(uncaught, [], 'nothing escaped as an uncaught exception');
  });
});
