import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import { sql } from 'kysely';
import { pino } from 'pino';
import { rig, errors, T0, type Rig } from './alerts-rig.js';
import { loadConfig } from '../../src/config.js';
import { SecretBox } from '../../src/lib/crypto.js';
import { NotificationController } from '../../src/controllers/notifications.js';
import type { ControllerDeps } from '../../src/controllers/deps.js';
import { insertTarget } from '../../src/store/notifications.js';
import { insertVolume } from '../../src/store/volumes.js';
import { appById } from '../../src/store/apps.js';
import { waitFor } from '../support/wait.js';

// Each alert transition is told once: a failure (or a crash) between the state and its event
// leaves neither, and an evaluator that read the state before another's writes (a deposed leader)
// writes nothing. On SQLite, with no lease: the version alone; test/router/alerts.test.ts does the
// same on PostgreSQL with the lease's fence, and a kill -9 of a real process.

/** A webhook receiver on loopback, the notification controller that sends to it, and its target on the app. */
async function webhook(r: Rig, t: { after(fn: () => Promise<void> | void): void }) {
  const got: { kind: string; rule: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const e = (JSON.parse(body) as { event: { kind: string; data: { rule: string } } }).event;
      got.push({ kind: e.kind, rule: e.data.rule });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  const secrets = new SecretBox(randomBytes(32));
  const db = r.w.store.db;
  await insertTarget(db, { id: 'ntf_1', app_id: r.w.appId, kind: 'webhook', url_sealed: secrets.seal(url), url_hint: url, secret_sealed: secrets.seal('s'), created_at: new Date(T0).toISOString() });
  // The receiver is on loopback: allowed for this test only.
  const config = loadConfig({ BERTH_DATA_DIR: tmpdir(), ROUTER_DOMAIN: 'test', BERTH_EGRESS_ALLOW: '127.0.0.1/32' });
  const notifier = new NotificationController({ config, db, secrets, events: r.events, log: pino({ level: 'silent' }) } as Partial<ControllerDeps> as ControllerDeps);
  notifier.start();
  t.after(() => {
    notifier.stop();
    server.closeAllConnections();
    server.close();
  });
  const deliveries = () => db.selectFrom('notification_deliveries').select(['event_kind', 'status']).orderBy('created_at').execute();
  /** Once every delivery is sent: what the receiver got. */
  const received = async () => {
    await waitFor('every delivery sent', async () => (await deliveries()).every((d) => d.status === 'delivered'));
    return got.map((g) => `${g.kind} ${g.rule}`);
  };
  return { deliveries, received };
}

test('alerts: a failure between a transition and its event or its notification writes none of them; the next pass tells it once', async (t) => {
  const r = await rig(t);
  const db = r.w.store.db;
  const hook = await webhook(r, t);
  await r.advance(60, errors);
  const pending = await r.state('http_5xx_rate');
  assert.equal(pending?.status, 'pending');
  // The process "dies" at the event's insert, then (next pass) at the notification's: each time
  // after the new state was written in the same transaction.
  for (const [table, column] of [['events', 'kind'], ['notification_deliveries', 'event_kind']] as const) {
    await sql`create trigger die_here before insert on ${sql.table(table)} when new.${sql.ref(column)} like 'alert.%' begin select raise(abort, 'injected: the control plane died here'); end`.execute(db);
    await r.advance(10, errors);
    await sql`drop trigger die_here`.execute(db);
    const s = await r.state('http_5xx_rate');
    assert.deepEqual([s?.status, s?.version, s?.since], [pending?.status, pending?.version, pending?.since], `a failure at ${table}: the state is as it was`);
    assert.deepEqual(await r.told(), [], `a failure at ${table}: no event`);
    assert.deepEqual(await hook.deliveries(), [], `a failure at ${table}: nothing to send`);
  }
  await r.advance(10, errors);
  assert.equal((await r.state('http_5xx_rate'))?.status, 'firing', 'the next pass makes the transition');
  await r.advance(60, errors);
  assert.deepEqual((await r.told()).map((e) => e.kind), ['alert.firing'], 'its event exists once');
  assert.deepEqual(await hook.received(), ['alert.firing http_5xx_rate'], 'the webhook is told once');
  assert.equal((await hook.deliveries()).length, 1);
});

test('alerts: an evaluator paused after reading a firing alert, while another resolved it and it fired again, writes and tells nothing', async (t) => {
  const r = await rig(t);
  const db = r.w.store.db;
  const hook = await webhook(r, t);
  // A mounted volume with a size: each evaluator measures it (du) between reading the states and writing them.
  const app = (await appById(db, r.w.appId))!;
  await insertVolume(db, { id: 'vol_a', project_id: app.project_id, name: 'files', size_mb: 100, backup_schedule: null, backup_keep: 3, created_at: new Date(T0).toISOString() });
  await db.updateTable('apps').set({ volumes: JSON.stringify([{ volume: 'files', volume_id: 'vol_a', path: '/data' }]) }).where('id', '=', app.id).execute();
  r.usage.set('vol_a', 10 * 1024 * 1024);
  const clean = { requests: 5000, r2xx: 5000 };
  await r.advance(90, errors);
  await r.advance(110, clean);
  const before = await r.state('http_5xx_rate');
  assert.equal(before?.status, 'firing', 'firing, clear for 90 s of the 120 s it needs');

  // The old evaluator's pass at +230 s, when the clear time is up: it reads the state and the
  // traffic, then hangs in its volume measurement.
  const at = r.w.clock.t + 30_000;
  let resume!: () => void;
  const paused = new Promise<void>((ok) => (resume = ok));
  let inside!: () => void;
  const measuring = new Promise<void>((ok) => (inside = ok));
  const old = r.make({
    clock: { now: () => at, sleep: async () => {} },
    volumeUsage: async () => (inside(), await paused, 10 * 1024 * 1024),
  });
  const oldPass = old.pass();
  await measuring;
  // Meanwhile the current evaluator resolves the alert, and errors make it fire again.
  await r.advance(30, clean);
  assert.equal((await r.state('http_5xx_rate'))?.status, 'ok');
  await r.advance(70, { requests: 5000, r5xx: 5000 });
  const now = await r.state('http_5xx_rate');
  assert.equal(now?.status, 'firing', 'firing again: the status the old evaluator read');
  resume();
  await oldPass;
  const after = await r.state('http_5xx_rate');
  assert.deepEqual([after?.status, after?.since, after?.version], [now?.status, now?.since, now?.version], 'the old evaluator changed nothing');
  assert.deepEqual((await r.told()).map((e) => e.kind), ['alert.firing', 'alert.resolved', 'alert.firing'], 'no second resolved');
  assert.deepEqual(await hook.received(), ['alert.firing http_5xx_rate', 'alert.resolved http_5xx_rate', 'alert.firing http_5xx_rate']);
});
