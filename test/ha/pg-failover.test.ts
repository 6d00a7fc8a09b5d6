import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync, appendFileSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { BerthClient } from '../../src/client/index.js';
import { DockerRuntime } from '../../src/runtime/docker.js';
import { runOk } from '../../src/lib/exec.js';
import { freePort, raw, startServer, type TestServer } from '../support/server.js';
import { ensureTestAppImage } from '../support/images.js';
import { waitFor } from '../support/wait.js';
import { assertConsistent, healthy, settled } from '../faults/helpers.js';

/**
 * PostgreSQL's own high availability is the operator's: a primary, a streaming replica, and a
 * stable address in front that follows the primary. Here it is built the way Patroni sets it up:
 * HAProxy in TCP mode with an HTTP check per node that answers 200 only on the primary (Patroni's
 * REST API `GET /primary`; here a small checker in this process stands in for it). Berth's
 * DATABASE_URL names HAProxy. The primary is stopped hard, the replica promoted: Berth must ride
 * through with the same process, lose nothing the replica had, and lead and reconcile again.
 * Then back the other way with replication cut first: the commits the replica never received are
 * lost (asynchronous replication), and Berth's caches must not bring them back.
 * Its own PostgreSQL instances (never the suite's shared one), on their own ports and directories.
 */
const BIN = '/usr/lib/postgresql/15/bin';
const PASSWORD = 'failover-local-only';

/** A PostgreSQL program run as the postgres user (the server refuses to run as root). */
const asPostgres = (program: string, args: string[], timeoutMs = 60_000) => runOk('runuser', ['-u', 'postgres', '--', join(BIN, program), ...args], { timeoutMs });

interface Node {
  name: string;
  dir: string;
  port: number;
  /** The port of its health check (Patroni's REST API stands here). */
  checkPort: number;
  check?: Server;
}

describe('PostgreSQL failover to a streaming replica behind HAProxy', () => {
  let root = '';
  let primary: Node;
  let replica: Node;
  let proxyPort = 0;
  let haproxy: ChildProcess | null = null;
  let s: TestServer;
  let dev: BerthClient;
  let image = '';
  const app = 'failover';

  /** A superuser session on one node through its Unix socket (the test's own look at the data). */
  const sqlOn = async <T extends pg.QueryResultRow>(node: Node, text: string, values: unknown[] = []) => {
    const c = new pg.Client({ host: root, port: node.port, user: 'postgres', database: 'berth', connectionTimeoutMillis: 2000 });
    // A server stopped under a check resets its socket: the query fails, the client must not throw beside it.
    c.on('error', () => {});
    await c.connect();
    try {
      return (await c.query<T>(text, values)).rows;
    } finally {
      await c.end().catch(() => {});
    }
  };

  /** Answers like Patroni's `GET /primary`: 200 when the node runs and is not in recovery, 503 otherwise. */
  const startCheck = (node: Node) =>
    new Promise<void>((resolve) => {
      node.check = createServer((_req, res) => {
        sqlOn<{ standby: boolean }>(node, 'select pg_is_in_recovery() as standby')
          .then((rows) => rows[0]?.standby === false)
          .catch(() => false)
          .then((isPrimary) => {
            res.writeHead(isPrimary ? 200 : 503).end(isPrimary ? 'primary' : 'not primary');
          });
      });
      node.check.listen(node.checkPort, '127.0.0.1', () => resolve());
    });

  const pgCtl = (node: Node, ...args: string[]) =>
    asPostgres('pg_ctl', ['-D', node.dir, '-l', join(root, `${node.name}.log`), '-w', '-t', '60', ...args]).catch((err) => {
      // The server's own log says why (it goes with the temp dir in after()).
      throw new Error(`${String(err)}\n${node.name}.log:\n${readFileSync(join(root, `${node.name}.log`), 'utf8').slice(-3000)}`);
    });

  before(async () => {
    image = await ensureTestAppImage(new DockerRuntime({}));
    root = mkdtempSync(join(tmpdir(), 'berth-pgfailover-'));
    chownSync(root, Number((await runOk('id', ['-u', 'postgres'], { timeoutMs: 5000 })).stdout.trim()), Number((await runOk('id', ['-g', 'postgres'], { timeoutMs: 5000 })).stdout.trim()));
    primary = { name: 'primary', dir: join(root, 'primary'), port: await freePort(), checkPort: await freePort() };
    replica = { name: 'replica', dir: join(root, 'replica'), port: await freePort(), checkPort: await freePort() };
    proxyPort = await freePort();

    // The primary: local (socket) connections trusted for the test and the replica's copy; Berth over
    // TCP with a password. fsync off: the failures here are processes killed, never the machine.
    await asPostgres('initdb', ['-D', primary.dir, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync']);
    appendFileSync(
      join(primary.dir, 'postgresql.conf'),
      [`listen_addresses = '127.0.0.1'`, `port = ${primary.port}`, `unix_socket_directories = '${root}'`, 'max_connections = 60', 'shared_buffers = 32MB', 'fsync = off', 'wal_keep_size = 128MB', ''].join('\n'),
    );
    await pgCtl(primary, 'start');
    const setup = new pg.Client({ host: root, port: primary.port, user: 'postgres', database: 'postgres' });
    await setup.connect();
    await setup.query(`create role berth login password '${PASSWORD}'`);
    await setup.query('create database berth owner berth');
    await setup.end();

    // The replica: a base backup with -R (standby.signal and primary_conninfo), streaming from the primary.
    await asPostgres('pg_basebackup', ['-h', root, '-p', String(primary.port), '-U', 'postgres', '-D', replica.dir, '-R', '-X', 'stream', '-c', 'fast', '--no-sync']);
    appendFileSync(join(replica.dir, 'postgresql.auto.conf'), `port = ${replica.port}\n`);
    await pgCtl(replica, 'start');
    await waitFor('the replica to stream', async () => (await sqlOn<{ n: number }>(primary, "select count(*)::int as n from pg_stat_replication where state = 'streaming'"))[0]!.n === 1, {
      timeoutMs: 30_000,
      intervalMs: 100,
    });

    await startCheck(primary);
    await startCheck(replica);
    // Patroni's documented HAProxy set-up: TCP mode, long client/server timeouts (Berth's LISTEN and
    // lease connections sit idle), a check on the node's REST API, sessions to a node marked down cut.
    writeFileSync(
      join(root, 'haproxy.cfg'),
      [
        'global',
        '  maxconn 200',
        'defaults',
        '  mode tcp',
        '  timeout connect 2s',
        '  timeout client 30m',
        '  timeout server 30m',
        '  timeout check 2s',
        'listen postgres',
        `  bind 127.0.0.1:${proxyPort}`,
        '  option httpchk GET /primary',
        '  http-check expect status 200',
        '  default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions',
        `  server primary 127.0.0.1:${primary.port} maxconn 100 check port ${primary.checkPort}`,
        `  server replica 127.0.0.1:${replica.port} maxconn 100 check port ${replica.checkPort}`,
        '',
      ].join('\n'),
    );
    haproxy = spawn('haproxy', ['-db', '-f', join(root, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let haproxyErr = '';
    haproxy.stderr!.on('data', (d) => (haproxyErr += String(d)));
    await waitFor(
      'HAProxy to reach the primary',
      async () => {
        const c = new pg.Client({ host: '127.0.0.1', port: proxyPort, user: 'berth', password: PASSWORD, database: 'berth', connectionTimeoutMillis: 1000 });
        await c.connect();
        try {
          return (await c.query<{ standby: boolean }>('select pg_is_in_recovery() as standby')).rows[0]!.standby === false;
        } finally {
          await c.end().catch(() => {});
        }
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    ).catch((err) => {
      throw new Error(`${String(err)}\n${haproxyErr}`);
    });

    s = await startServer({ engine: 'postgres', databaseUrl: `postgres://berth:${PASSWORD}@127.0.0.1:${proxyPort}/berth` });
    dev = await s.newUser('dev');
    await dev.call('createProject', { body: { name: 'pgha' } });
    await dev.call('createApp', { body: { name: app, project: 'pgha', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    await dev.call('deployApp', { params: { id: app }, body: { image_id: image, replicas: 1 } });
    assert.equal((await settled(dev, app, 1)).status, 'live');
    await healthy(dev, app, 1);
  });

  after(async () => {
    await s?.destroy();
    if (haproxy && haproxy.exitCode === null) {
      const exited = new Promise((r) => haproxy!.once('exit', r));
      haproxy.kill('SIGKILL');
      await exited;
    }
    for (const node of [primary, replica]) node?.check?.close();
    for (const node of [primary, replica]) if (node) await pgCtl(node, 'stop', '-m', 'immediate').catch(() => {});
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test('primary stopped hard, replica promoted: same process, rows kept, writes and controllers work again', async (t) => {
    const pid = s.pid;
    assert.ok(pid);
    // Rows written through the API before the failover.
    const before = Array.from({ length: 10 }, (_, i) => `kept-${i}`);
    for (const name of before) await dev.call('createApp', { body: { name, project: 'pgha' } });
    await dev.call('setEnv', { params: { id: 'kept-0' }, body: { set: { GREETING: 'before the failover' } } });
    const lsn = (await sqlOn<{ lsn: string }>(primary, 'select pg_current_wal_lsn()::text as lsn'))[0]!.lsn;
    await waitFor(
      'the replica to have replayed every write',
      async () => (await sqlOn<{ ok: boolean }>(primary, 'select replay_lsn >= $1::pg_lsn as ok from pg_stat_replication', [lsn]))[0]?.ok === true,
      { timeoutMs: 20_000, intervalMs: 50 },
    );
    const appsBefore = (await dev.call('listApps', {})).items.map((a) => a.slug).sort();

    // The control plane must stay up and answer throughout, within the client's 15 s: /healthz and
    // the apps list every 100 ms.
    const statuses = new Map<number, number>();
    const listStatuses = new Map<number, number>();
    let connectionErrors = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          const r = await raw(s, 'GET', '/healthz');
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          const l = await raw(s, 'GET', '/api/v1/apps', { token: dev.opts.token });
          listStatuses.set(l.status, (listStatuses.get(l.status) ?? 0) + 1);
        } catch {
          connectionErrors++;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const termBefore = (await s.admin.call('listControlPlanes')).leader?.term;
    assert.ok(termBefore, 'a leader before the failover');
    const logFrom = s.output().length;
    const failover = async () => {
      const killedAt = performance.now();
      await pgCtl(primary, 'stop', '-m', 'immediate');
      // A failover manager promotes a replica after its own timeout (Patroni: ttl 30 s by default),
      // longer than Berth's lease (6 s): the leader's term runs out first and it stops its controllers.
      await waitFor('the control plane to stop its controllers (its lease could not be renewed)', () => s.output().slice(logFrom).includes('control plane lease lost'), {
        timeoutMs: 20_000,
        intervalMs: 100,
      });
      await pgCtl(replica, 'promote');
      const promotedAt = performance.now();
      const write = await waitFor(
        'a write through the API to succeed',
        async () => {
          await dev.call('createApp', { body: { name: 'after-0', project: 'pgha' } });
          return performance.now();
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      // A new term: the lease row of the term that ran out may still be listed until it expires.
      const planes = await waitFor('a new leader term in the control-plane list', async () => {
        const p = await s.admin.call('listControlPlanes');
        return p.leader && p.leader.term > termBefore ? p : undefined;
      }, { timeoutMs: 20_000, intervalMs: 100 });
      return { killedAt, promotedAt, write, leaderAt: performance.now(), planes };
    };
    const { killedAt, promotedAt, write, leaderAt, planes } = await failover().finally(async () => {
      polling = false;
      await poller;
    });
    const ms = (x: number) => Math.round(x);
    t.diagnostic(
      `failover: primary stopped, replica promoted ${ms(promotedAt - killedAt)} ms later; first API write ${ms(write - promotedAt)} ms after the promotion; the lease won again (a new term) ${ms(leaderAt - promotedAt)} ms after it; /healthz ${JSON.stringify(Object.fromEntries(statuses))}, GET /api/v1/apps ${JSON.stringify(Object.fromEntries(listStatuses))}`,
    );
    assert.equal(s.pid, pid, 'the same control plane process throughout');
    assert.equal(connectionErrors, 0, 'the control plane kept answering');
    for (const code of statuses.keys()) assert.ok(code === 200 || code === 503, `/healthz answered ${code}`);
    assert.equal(planes.items.find((p) => p.self)?.leader, true, 'this instance leads again');
    assert.match(s.output().slice(logFrom), /control plane lease won/);

    // The connection that LISTENs for the other instances' messages is back, on the new primary.
    await waitFor('a LISTEN connection on the new primary', async () => (await sqlOn<{ n: number }>(replica, "select count(*)::int as n from pg_stat_activity where usename = 'berth' and query like 'LISTEN %'"))[0]!.n > 0, {
      timeoutMs: 10_000,
      intervalMs: 100,
    });

    // What the replica had is all there.
    const appsAfter = (await dev.call('listApps', {})).items.map((a) => a.slug).sort();
    assert.deepEqual(appsAfter, [...appsBefore, 'after-0'].sort());
    assert.equal((await dev.call('getApp', { params: { id: 'kept-0' } })).env.GREETING, 'before the failover');

    // More writes after the failover, and the controllers act: a scale goes live.
    for (let i = 1; i < 5; i++) await dev.call('createApp', { body: { name: `after-${i}`, project: 'pgha' } });
    await dev.call('scaleApp', { params: { id: app }, body: { replicas: 2 } });
    await assertConsistent(s, dev, app, 2, 1);

    // Nothing written after the failover is lost: the new primary holds it, read by the test directly.
    const rows = await sqlOn<{ slug: string }>(replica, "select slug from apps where slug like 'after-%' order by slug");
    assert.deepEqual(rows.map((r) => r.slug), ['after-0', 'after-1', 'after-2', 'after-3', 'after-4']);
    const scaled = await sqlOn<{ replicas: number }>(replica, 'select replicas from apps where slug = $1', [app]);
    assert.equal(scaled[0]?.replicas, 2);
  });

  test('asynchronous replication: a commit the replica never received is lost in a failover, and no cached answer or session still shows it', async () => {
    // The old primary comes back as the new primary's replica: a fresh base backup, as Patroni re-clones a node it cannot rewind.
    rmSync(primary.dir, { recursive: true, force: true });
    await asPostgres('pg_basebackup', ['-h', root, '-p', String(replica.port), '-U', 'postgres', '-D', primary.dir, '-R', '-X', 'stream', '-c', 'fast', '--no-sync']);
    appendFileSync(join(primary.dir, 'postgresql.auto.conf'), `port = ${primary.port}\n`);
    await pgCtl(primary, 'start');
    const streaming = async (from: Node) => (await sqlOn<{ n: number }>(from, "select count(*)::int as n from pg_stat_replication where state = 'streaming'"))[0]!.n;
    await waitFor('the old primary to stream from the new one', async () => (await streaming(replica)) === 1, { timeoutMs: 30_000, intervalMs: 100 });

    // The standby falls behind (a network cut): from here the primary's commits reach it no more.
    await sqlOn(primary, "alter system set primary_conninfo = ''");
    await sqlOn(primary, 'select pg_reload_conf()');
    await waitFor('replication to stop', async () => (await streaming(replica)) === 0, { timeoutMs: 30_000, intervalMs: 100 });

    // Acknowledged to the user, but only on the primary: an app, and a user who logged in.
    const victim = await s.newUser('ghost');
    await victim.call('createProject', { body: { name: 'ghost' } });
    await dev.call('createApp', { body: { name: 'lost-0', project: 'pgha' } });
    // Both read after those writes: the answer and the session are what Berth may keep in its
    // caches, noted at the write count of the moment (read again if the leader wrote meanwhile).
    const writesCounted = async (node: Node) => (await sqlOn<{ n: string }>(node, 'select sum(n)::text as n from write_generation'))[0]!.n;
    const countBefore = await waitFor(
      'reads at a steady write count',
      async () => {
        const count = await writesCounted(replica);
        assert.equal((await victim.call('listProjects', {})).items.length, 1);
        assert.ok((await dev.call('listApps', {})).items.some((a) => a.slug === 'lost-0'));
        return (await writesCounted(replica)) === count ? count : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );

    await pgCtl(replica, 'stop', '-m', 'immediate');
    await pgCtl(primary, 'promote');
    await waitFor('a write through the API to succeed', () => dev.call('createApp', { body: { name: 'after-lost', project: 'pgha' } }), { timeoutMs: 30_000, intervalMs: 100 });
    // As many writes since the failover as were lost: the database's write count is back where it
    // was, yet the data is not what it was then. Berth's reads are taken while the count stands
    // there (the leader's own writes may move it: then again).
    const atSameCount = <T>(what: string, read: () => Promise<T>) =>
      waitFor(
        what,
        async () => {
          await sqlOn(primary, 'update write_generation set n = n + ($1::bigint - (select sum(n) from write_generation)) where shard = 0', [countBefore]);
          const answer = await read();
          return (await writesCounted(primary)) === countBefore ? { answer } : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 200 },
      );

    // The lost commit is gone (what synchronous_commit with a synchronous standby would have kept),
    // and Berth shows the database as it is, not an answer or a session cached before the failover.
    const slugs = (await atSameCount('the apps list', async () => (await dev.call('listApps', {})).items.map((a) => a.slug))).answer;
    assert.ok(slugs.includes('after-lost'), `the write after the failover is listed: ${slugs.join(' ')}`);
    assert.ok(!slugs.includes('lost-0'), `the lost app is not listed: ${slugs.join(' ')}`);
    const denied = (await atSameCount('the lost session', () => raw(s, 'GET', '/api/v1/projects', { token: victim.opts.token }))).answer;
    assert.equal(denied.status, 401, `the session the failover lost no longer opens the API: ${denied.text}`);
  });
});
