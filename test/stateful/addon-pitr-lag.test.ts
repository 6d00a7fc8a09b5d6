import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BerthClient } from '../../src/client/index.js';
import { startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';
import { runOk } from '../../src/lib/exec.js';
import { addonContainer, cli } from './helpers.js';

/**
 * A point-in-time restore never goes back to less than was asked for (docs/stateful.md): on the
 * real Docker Engine with real pgBackRest, the add-on's WAL archive is made to lag (archive-push
 * cannot write) and its server stops answering over the network, so the WAL holding the rows
 * written before the target is only in the server. A rewind then must refuse, change nothing and
 * say why; a fork must fail saying the target was not reached. Once the archive catches up, the
 * same rewind gets exactly the rows written before the time.
 */
describe('add-on point-in-time recovery when the WAL archive lags', () => {
  let s: TestServer;
  let dev: BerthClient;
  let home: string;
  const berth = cli(() => s, () => dev, () => home);

  /** A command in the add-on's server container, as its own (non-root) user; it must succeed. */
  const inServer = async (addonId: string, script: string, ...args: string[]) =>
    (await runOk('docker', ['exec', await addonContainer(addonId), 'sh', '-c', script, ...args], { timeoutMs: 60_000 })).stdout.trim();
  const psql = (addonId: string, sql: string) =>
    inServer(addonId, 'PGPASSWORD="$BERTH_ADDON_PASSWORD" psql -h /tmp -U "$BERTH_ADDON_USER" -d "$BERTH_ADDON_DB" -v ON_ERROR_STOP=1 -Atc "$0"', sql);
  const get = (name: string) => dev.call('getAddon', { params: { id: name }, query: { project: 'lag' } });
  const addonIs = (name: string, ok: (a: Awaited<ReturnType<typeof get>>) => boolean, what: string) =>
    waitFor(what, async () => {
      const a = await get(name);
      return ok(a) ? a : undefined;
    }, { timeoutMs: 300_000, intervalMs: 500 }).catch(async (err: Error) => {
      throw new Error(`${err.message}; the add-on: ${JSON.stringify(await get(name))}`);
    });
  /** Network connections refused by the server (pg_hba), or let in again; its own socket stays open. */
  const tcp = async (id: string, allow: boolean) => {
    await inServer(id, `sed -i "s|^host all all 0.0.0.0/0 .*|host all all 0.0.0.0/0 ${allow ? 'scram-sha-256' : 'reject'}|" /data/pgdata/pg_hba.conf && grep -q "0.0.0.0/0 ${allow ? 'scram-sha-256' : 'reject'}$" /data/pgdata/pg_hba.conf`);
    await psql(id, 'select pg_reload_conf()');
  };
  /** archive-push cannot write into the archive (the server's own user owns it), or can again. */
  const archiving = (id: string, on: boolean) => inServer(id, `chmod -R ${on ? 'u+w' : 'a-w'} /archive/pgbackrest/archive`);

  before(async () => {
    s = await startServer();
    dev = await s.newUser('dev');
    home = await mkdtemp(join(tmpdir(), 'berth-pitr-lag-'));
    await dev.call('createProject', { body: { name: 'lag' } });
    await dev.call('createAddon', { body: { type: 'postgres', name: 'db', project: 'lag' } });
  });
  after(async () => {
    await s?.destroy();
    if (home) await rm(home, { recursive: true, force: true });
  });

  test('the archive lags and the server does not answer: a rewind changes nothing and says why, a fork fails; once archived, the rewind is exact', async () => {
    const db = await addonIs('db', (a) => a.status === 'running' && a.pitr?.earliest != null && a.pitr.verified != null, 'db to run with its first base backup, checked');
    await archiving(db.id, false);
    await tcp(db.id, false);
    await psql(db.id, 'create table v (id serial primary key, at timestamptz not null default clock_timestamp())');
    for (let i = 0; i < 3; i++) await psql(db.id, 'insert into v default values');
    const target = new Date(Number(await psql(db.id, 'select extract(epoch from clock_timestamp())')) * 1000);
    for (let i = 0; i < 3; i++) await psql(db.id, 'insert into v default values');

    const out = await berth(['addons', 'restore', 'db', '--to', target.toISOString(), '--in-place', '--confirm', 'db', '--project', 'lag', '--json']);
    assert.equal(out.code, 1, `the rewind is reported as not done: ${out.stdout} ${out.stderr}`);
    const after1 = JSON.parse(out.stdout) as Awaited<ReturnType<typeof get>>;
    assert.equal(after1.rewind, null, 'no rewind pending or done');
    assert.match(after1.message ?? '', /not done, nothing changed: .*did not answer/, 'the reason is given');
    const serving = await addonIs('db', (a) => a.status === 'running', 'db to serve');
    assert.equal(serving.rewind, null);
    assert.equal(await psql(db.id, "select string_agg(id::text, ',' order by id) from v"), '1,2,3,4,5,6', 'every row is still there: nothing changed');

    // A fork of the same time from the lagging archive: the source does not answer, the archive ends before the target.
    const fork = await berth(['addons', 'restore', 'db', '--to', target.toISOString(), '--name', 'early', '--project', 'lag', '--json']);
    assert.equal(fork.code, 1, `the fork is reported as failed: ${fork.stdout} ${fork.stderr}`);
    const early = JSON.parse(fork.stdout) as Awaited<ReturnType<typeof get>>;
    assert.equal(early.status, 'failed');
    assert.match(early.message ?? '', /did not reach .*the archive holds no WAL up to that time/, early.message ?? '');
    assert.equal(early.fork?.recovered_to, null, 'no recovery point is reported');

    // The archive catches up (the archiver retries) and the server answers again: the same rewind is exact.
    await archiving(db.id, true);
    await tcp(db.id, true);
    const again = await berth(['addons', 'restore', 'db', '--to', target.toISOString(), '--in-place', '--confirm', 'db', '--project', 'lag', '--json']);
    assert.equal(again.code, 0, again.stderr);
    const back = JSON.parse(again.stdout) as Awaited<ReturnType<typeof get>>;
    assert.equal(back.status, 'running', back.message ?? '');
    assert.equal(back.rewind?.target, target.toISOString());
    assert.ok(new Date(back.rewind!.recovered_to!) <= target, `recovery point ${back.rewind!.recovered_to} by ${target.toISOString()}`);
    assert.equal(await psql(db.id, "select string_agg(id::text, ',' order by id) from v"), '1,2,3', 'the rows written before the time, none after');
    // The evidence kept with the event: PostgreSQL stopped on the first commit after the time (row 4's).
    const told = (await dev.call('listEvents', { query: { limit: 1000 } })).items.filter((e) => e.kind === 'addon.restored' && e.data?.addon === db.id);
    const stop = /^recovery stopping before commit of transaction \d+, time (.+)$/.exec(String(told.at(-1)?.data?.stopped));
    assert.ok(stop, `the restored event names where recovery stopped: ${JSON.stringify(told.at(-1)?.data)}`);
    assert.ok(new Date(stop[1]!.replace(' ', 'T').replace(/\+00$/, 'Z')) > target, `it stopped after ${target.toISOString()}: ${stop[0]}`);
  });
});
