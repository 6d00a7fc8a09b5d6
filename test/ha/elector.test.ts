import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
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
