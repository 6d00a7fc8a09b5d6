import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import { sql } from 'kysely';
import { pino } from 'pino';
import { world } from './harness.js';
import { loadConfig } from '../../src/config.js';
import { SecretBox } from '../../src/lib/crypto.js';
import { Events } from '../../src/domain/events.js';
import { queueWithEvent } from '../../src/domain/notifications.js';
import { NotificationController } from '../../src/controllers/notifications.js';
import type { ControllerDeps } from '../../src/controllers/deps.js';
import { appById } from '../../src/store/apps.js';
import { insertTarget } from '../../src/store/notifications.js';
import { waitFor } from '../support/wait.js';

// A deploy's or a crash's message is written with its event, in one transaction, by whoever records
// it: a crash between the two can neither lose the message nor tell it twice, and a notification
// loop that was not running when the event happened (a leader starting, a follower recording it)
// still sends it, once.

async function setup(t: { after(fn: () => Promise<void> | void): void }) {
  const w = await world({ replicas: 1 });
  t.after(() => w.close());
  const db = w.store.db;
  const got: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push((JSON.parse(body) as { event: { kind: string; message: string } }).event.message);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  const secrets = new SecretBox(randomBytes(32));
  await insertTarget(db, { id: 'ntf_1', app_id: w.appId, kind: 'webhook', url_sealed: secrets.seal(url), url_hint: url, secret_sealed: null, created_at: new Date().toISOString() });
  const events = new Events(db, undefined, queueWithEvent({ domain: 'test', httpPort: 80 }));
  // The receiver is on loopback: allowed for this test only.
  const config = loadConfig({ BERTH_DATA_DIR: tmpdir(), ROUTER_DOMAIN: 'test', BERTH_EGRESS_ALLOW: '127.0.0.1/32' });
  const notifier = () => {
    const n = new NotificationController({ config, db, secrets, events, log: pino({ level: 'silent' }) } as Partial<ControllerDeps> as ControllerDeps);
    n.start();
    t.after(() => n.stop());
    return n;
  };
  const app = (await appById(db, w.appId))!;
  const deploy = (message: string) => events.record({ project_id: app.project_id, app_id: app.id, kind: 'release.live', message, actor: { system: 'apps' } });
  const rows = async (table: 'events' | 'notification_deliveries') => Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db)).rows[0]!.n);
  return { db, got, events, notifier, deploy, rows };
}

test('notifications: a told event and its delivery are written together; a failure at the delivery writes neither', async (t) => {
  const { db, deploy, rows } = await setup(t);
  await sql`create trigger die_here before insert on notification_deliveries begin select raise(abort, 'injected: the control plane died here'); end`.execute(db);
  await assert.rejects(deploy('v1 is live'), /injected/);
  await sql`drop trigger die_here`.execute(db);
  assert.equal(await rows('events'), 0, 'no event without its message');
  assert.equal(await rows('notification_deliveries'), 0);
  await deploy('v2 is live');
  assert.equal(await rows('events'), 1);
  assert.equal(await rows('notification_deliveries'), 1, 'one delivery, written with the event');
});

test('notifications: an event recorded while no notification loop ran is sent once it starts; one heard live is sent once', async (t) => {
  const { got, notifier, deploy, rows } = await setup(t);
  await deploy('v1 is live'); // no loop yet: a leader not elected, or another instance recorded it
  notifier();
  await waitFor('the earlier event to be sent', async () => (got.length >= 1 ? true : undefined));
  await deploy('v2 is live'); // heard by the running loop
  await waitFor('the live event to be sent', async () => (got.length >= 2 ? true : undefined));
  assert.equal(await rows('notification_deliveries'), 2, 'no second delivery from hearing the event');
  assert.deepEqual(got.sort(), ['v1 is live', 'v2 is live']);
});
