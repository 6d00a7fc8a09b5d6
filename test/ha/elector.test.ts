import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { sql } from 'kysely';
import { openStore } from '../../src/store/db.js';
import { LeaderElector } from '../../src/controllers/leader.js';
import { createDatabase } from '../support/server.js';

/**
 * Two electors on a real PostgreSQL, with leases short enough to lapse during the test: an instance
 * that stops keeps its lease until its controllers have stopped, so the next leader never runs
 * beside a term that is still winding down (a build or a rollout can take longer than the lease).
 */
test('a stopping leader holds the lease until its controllers have stopped; then the other takes over', async (t) => {
  const pgdb = await createDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'berth-elector-'));
  const store = await openStore({ dataDir: dir, databaseUrl: pgdb.url });
  const electors: LeaderElector[] = [];
  // One hook, in this order: the electors stop (even after a failed assertion) before their database goes.
  t.after(async () => {
    for (const e of electors) await e.stop();
    await store.close();
    await pgdb.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  const log = pino({ level: 'silent' });
  // Margins wide enough for a loaded machine: a renewal may be late by over a second without a lapse.
  const timing = { ttlMs: 2500, renewMs: 400, tryMs: 200 };
  const events: string[] = [];
  let aLeads!: () => void;
  const aLeading = new Promise<void>((resolve) => (aLeads = resolve));
  let bLeads!: () => void;
  const bLeading = new Promise<void>((resolve) => (bLeads = resolve));

  const a = new LeaderElector({ db: store.db, log, id: 'cp_a', address: 'http://127.0.0.1:1', ...timing });
  electors.push(a);
  a.start(async () => {
    events.push('a started');
    aLeads();
    // Winding down takes more than twice the lease's life.
    return async () => {
      events.push('a stopping');
      await new Promise((resolve) => setTimeout(resolve, 2 * timing.ttlMs + 500));
      events.push('a stopped');
    };
  });
  await aLeading;
  const b = new LeaderElector({ db: store.db, log, id: 'cp_b', address: 'http://127.0.0.1:2', ...timing });
  electors.push(b);
  b.start(async () => {
    events.push('b started');
    bLeads();
    return async () => {};
  });
  // b tries every 200 ms while a holds the lease and renews it.
  await new Promise((resolve) => setTimeout(resolve, 2 * timing.ttlMs));
  assert.deepEqual(events, ['a started'], 'b never leads while a renews');
  assert.equal(b.leading, false);

  const stopping = a.stop();
  await bLeading;
  await stopping;
  assert.deepEqual(events, ['a started', 'a stopping', 'a stopped', 'b started']);
  assert.equal(a.leading, false);
  assert.equal(b.leading, true);
});

/**
 * The start-up of a loaded instance (reconcile, rollups, log inserts, certificates for many apps)
 * can hold every connection of the shared pool for longer than the lease's life. The lease has its
 * own connection, so the leader keeps it through that; a leader that is really gone is still
 * replaced within 10 s. Production timing (6 s lease, renewed every 2 s).
 */
test('a leader whose shared pool is saturated keeps its lease; a dead one is replaced within 10 s', async (t) => {
  const pgdb = await createDatabase();
  const dirs = [mkdtempSync(join(tmpdir(), 'berth-elector-a-')), mkdtempSync(join(tmpdir(), 'berth-elector-b-'))];
  const storeA = await openStore({ dataDir: dirs[0]!, databaseUrl: pgdb.url });
  const storeB = await openStore({ dataDir: dirs[1]!, databaseUrl: pgdb.url });
  const electors: LeaderElector[] = [];
  let aClosed = false;
  t.after(async () => {
    for (const e of electors) await e.stop();
    if (!aClosed) await storeA.close();
    await storeB.close();
    await pgdb.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const log = pino({ level: 'silent' });
  const events: string[] = [];
  let aLeads!: () => void;
  const aLeading = new Promise<void>((resolve) => (aLeads = resolve));
  let bLeads!: () => void;
  const bLeading = new Promise<void>((resolve) => (bLeads = resolve));

  const a = new LeaderElector({ db: storeA.leaseDb, log, id: 'cp_a', address: 'http://127.0.0.1:1' });
  electors.push(a);
  a.start(async () => {
    events.push('a started');
    aLeads();
    return async () => void events.push('a stopped');
  });
  await aLeading;
  const b = new LeaderElector({ db: storeB.leaseDb, log, id: 'cp_b', address: 'http://127.0.0.1:2' });
  electors.push(b);
  b.start(async () => {
    events.push('b started');
    bLeads();
    return async () => {};
  });

  // A's whole pool (10 connections) is busy for 14 s: over twice the lease's life. (A query queued
  // behind them would fail after the pool's 5 s connection timeout, as a renewal on it did.)
  const busyS = 14;
  const busy = Array.from({ length: 10 }, () => sql`select pg_sleep(${busyS})`.execute(storeA.db));
  const sleeping = async () =>
    Number((await sql<{ n: string }>`select count(*) as n from pg_stat_activity where datname = current_database() and query like 'select pg_sleep%'`.execute(storeB.db)).rows[0]!.n);
  while ((await sleeping()) < 10) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(await sleeping(), 10, "every connection of A's shared pool is taken");
  await Promise.all(busy);
  assert.deepEqual(events, ['a started'], 'a keeps the lease while its pool is saturated; b never leads');
  assert.equal(a.leading, true);
  assert.equal(b.leading, false);

  // A's process loses every connection to the database, as if killed.
  const gone = performance.now();
  aClosed = true;
  await storeA.close();
  await bLeading;
  const tookMs = performance.now() - gone;
  t.diagnostic(`takeover ${Math.round(tookMs)} ms after the leader was gone`);
  assert.ok(tookMs < 10_000, `b took over ${Math.round(tookMs)} ms after a was gone`);
  assert.deepEqual(events, ['a started', 'a stopped', 'b started'], 'a stopped its controllers by its own clock before b started');
});
