import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError, type BerthClient } from '../../src/client/index.js';
import { CLI_MAIN, startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';
import { run } from '../../src/lib/exec.js';
import { onTerminal, rejectsWith } from './helpers.js';
import { ensureTestAppImage } from '../support/images.js';
import { settled } from '../support/rollout.js';
import { DockerRuntime } from '../../src/runtime/docker.js';

/**
 * `berth addons psql` and `berth addons redis-cli` on real add-on containers (berth/addon-postgres:17 and :15,
 * berth/addon-redis:7) on the real Docker Engine: an interactive psql driven through a
 * pseudo-terminal, -c and scripts with their exit codes, redis-cli SET/GET, the timeout and abort
 * paths, and who may open a session at all.
 */
describe('add-on sessions: psql and redis-cli', () => {
  let s: TestServer;
  let dev: BerthClient;
  let other: BerthClient;
  let dbId: string;
  let env: NodeJS.ProcessEnv;
  const berth = (args: string[], input?: string, token = dev.opts.token!) =>
    run(process.execPath, [CLI_MAIN, ...args], { timeoutMs: 90_000, env: { ...env, BERTH_TOKEN: token }, ...(input !== undefined ? { input } : {}) });
  const sessionContainers = async () =>
    (await run('docker', ['ps', '-aq', '--filter', `label=berth.instance=${s.instance}`, '--filter', 'label=berth.addon-session'], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
  const up = (name: string) =>
    waitFor(`add-on ${name} to run`, async () => {
      const a = await dev.call('getAddon', { params: { id: name }, query: { project: 'data' } });
      return a.status === 'running' ? a : undefined;
    }, { timeoutMs: 120_000, intervalMs: 300 });

  before(async () => {
    s = await startServer();
    dev = await s.newUser('dev');
    other = await s.newUser('other');
    await dev.call('createProject', { body: { name: 'data' } });
    await other.call('createProject', { body: { name: 'data' } });
    dbId = (await dev.call('createAddon', { body: { type: 'postgres', name: 'db', project: 'data' } })).id;
    await dev.call('createAddon', { body: { type: 'redis', name: 'cache', project: 'data' } });
    await Promise.all([up('db'), up('cache')]);
    const home = mkdtempSync(join(tmpdir(), 'berth-cli-'));
    env = { ...process.env, BERTH_CONFIG: join(home, 'c.json'), BERTH_URL: s.url, BERTH_TOKEN: dev.opts.token! };
  });
  after(async () => {
    await s?.destroy();
  });

  test('an interactive psql driven through a pseudo-terminal answers a query and exits with 0', async () => {
    const term = onTerminal(['addons', 'psql', 'db', '--project', 'data'], env);
    try {
      // Typed ahead, as a user may: the keys reach psql once its terminal is attached.
      term.type('select 40 + 2 as answer, current_user;\r');
      await term.shows(/\b42\b.*\bberth\b/);
      assert.match(term.screen(), /berth=[#>] /, 'psql prompted, connected to the add-on’s database');
      term.type('\\q\r');
      assert.equal(await term.exited, 0, term.screen());
    } finally {
      term.kill();
    }
    assert.deepEqual(await sessionContainers(), [], 'the session’s helper is removed');
  });

  test('the session’s terminal takes the size the client sends; an eof on a terminal is ignored; exit comes with the code', async () => {
    let screen = '';
    let end: { exit_code: number | null; reason: string | null } | null = null;
    let send: ((msg: unknown) => void) | null = null;
    const closed = dev.stream('addonSession', { params: { id: 'db' }, query: { client: 'psql', project: 'data', tty: true } }, (m) => {
      if ('error' in m) throw new Error(m.error.message);
      if (m.type === 'output') screen += m.text;
      else end = m;
    }, { onOpen: (s) => ((send = s), s({ type: 'start', args: [] })) });
    await waitFor('the prompt', () => /berth=[#>] /.test(screen), { timeoutMs: 30_000 });
    send!({ type: 'eof' });
    send!({ type: 'resize', cols: 123, rows: 45 });
    // The size reaches the terminal through the engine: asked again until it shows.
    await waitFor('the new size', () => {
      send!({ type: 'input', text: '\\! stty size\r' });
      return /\b45 123\b/.test(screen);
    }, { timeoutMs: 30_000, intervalMs: 500 });
    send!({ type: 'input', text: '\\q\r' });
    assert.equal((await closed).code, 1000);
    assert.deepEqual(end, { type: 'exit', exit_code: 0, reason: null });
  });

  test('psql -c returns rows; a failing statement gives a non-zero exit code; a script on stdin stops at its first error', async () => {
    const made = await berth(['addons', 'psql', 'db', '-c', 'create table notes (body text); insert into notes values (\'first\'), (\'second\')']);
    assert.equal(made.code, 0, made.stderr);
    const rows = await berth(['addons', 'psql', 'db', '--', '-At', '-c', 'select body from notes order by body']);
    assert.equal(rows.stdout, 'first\nsecond\n', rows.stderr);
    assert.equal(rows.code, 0);

    const bad = await berth(['addons', 'psql', 'db', '-c', 'select * from missing']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /relation "missing" does not exist/);

    const json = await berth(['--json', 'addons', 'psql', 'db', '-c', 'select count(*) from notes']);
    const res = JSON.parse(json.stdout) as { exit_code: number; stdout: string; stderr: string };
    assert.equal(res.exit_code, 0);
    assert.match(res.stdout, /\b2\b/);

    const script = await berth(['addons', 'psql', 'db', '--', '-At'], "insert into notes values ('third');\nselect * from nope;\ninsert into notes values ('fourth');\n");
    assert.equal(script.code, 3, 'psql stops at the first error (ON_ERROR_STOP)');
    const after = await berth(['addons', 'psql', 'db', '--', '-At', '-c', 'select count(*) from notes']);
    assert.equal(after.stdout, '3\n', 'the statement after the error did not run');
  });

  test('PostgreSQL 17 by default, 15 on request; an upgrade from 15 to 17 by a backup restored into a new add-on', async () => {
    const psql = async (addon: string, sql: string) => {
      const r = await berth(['addons', 'psql', addon, '--', '-At', '-c', sql]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    const db = await dev.call('getAddon', { params: { id: 'db' }, query: { project: 'data' } });
    assert.equal(db.version, '17', 'a new add-on gets the newest major version');
    assert.match(await psql('db', 'show server_version_num'), /^17\d{4}$/);
    assert.equal((await dev.call('getAddon', { params: { id: 'cache' }, query: { project: 'data' } })).version, '7');

    const made = await berth(['--json', 'addons', 'create', 'postgres', '--name', 'old', '--major', '15', '--project', 'data']);
    assert.equal(made.code, 0, made.stderr);
    assert.equal((JSON.parse(made.stdout) as { version: string }).version, '15');
    await up('old');
    assert.match(await psql('old', 'show server_version_num'), /^15\d{4}$/);
    await psql('old', 'create table t (n int primary key, body text); insert into t select n, md5(n::text) from generate_series(1, 1000) n');

    // An app on the old one, running: `berth addons upgrade` stops it, dumps the old add-on into a new 17,
    // moves the attachment, and starts it again on the new one.
    const image = await ensureTestAppImage(new DockerRuntime({}));
    await dev.call('createApp', { body: { name: 'web', project: 'data', health_check: { path: '/health', timeout_s: 30, grace_s: 0 } } });
    await dev.call('attachAddon', { params: { id: 'old' }, query: { project: 'data' }, body: { app: 'web' } });
    await dev.call('deployApp', { params: { id: 'web' }, body: { image_id: image } });
    assert.equal((await settled(dev, 'web', 1, 90_000)).status, 'live');
    const sum = "select count(*) || ' ' || sum(n) || ' ' || md5(string_agg(body, ',' order by n)) from t";
    const before = await psql('old', sum);
    const notTyped = await berth(['addons', 'upgrade', 'old', '--major', '17', '--project', 'data', '--confirm', 'olx']);
    assert.notEqual(notTyped.code, 0);
    assert.match(notTyped.stderr, /does not match "old": nothing was changed/);
    assert.equal((await dev.call('getApp', { params: { id: 'web' } })).status, 'running', 'a refused upgrade touches nothing');
    assert.deepEqual((await dev.call('listAddons', { query: { project: 'data' } })).items.map((a) => a.name).sort(), ['cache', 'db', 'old'], 'no add-on was made');
    const up17 = await berth(['--json', 'addons', 'upgrade', 'old', '--major', '17', '--name', 'new', '--project', 'data', '--confirm', 'old']);
    assert.equal(up17.code, 0, up17.stderr);
    const done = JSON.parse(up17.stdout) as { from: { version: string }; to: { name: string; version: string }; apps: unknown[] };
    assert.deepEqual([done.from.version, done.to.name, done.to.version, done.apps], ['15', 'new', '17', [{ app: 'web', var: 'DATABASE_URL', restarted: true }]]);
    assert.match(await psql('new', 'show server_version_num'), /^17\d{4}$/);
    assert.equal(await psql('new', sum), before, 'every row is in the new add-on');
    assert.deepEqual((await dev.call('getAddon', { params: { id: 'new' }, query: { project: 'data' } })).attachments, [{ app: 'web', as: 'DATABASE', var: 'DATABASE_URL' }]);
    assert.deepEqual((await dev.call('getAddon', { params: { id: 'old' }, query: { project: 'data' } })).attachments, []);
    const kinds = (await dev.call('listEvents', { query: { app: 'web' } })).items.map((e) => e.kind);
    assert.ok(kinds.includes('app.stopped'), `the app was stopped while the data moved: ${kinds.join(', ')}`);
    // The app runs again, on a release whose DATABASE_URL names the new add-on.
    const live = await waitFor('web live again', async () => {
      const a = await dev.call('getApp', { params: { id: 'web' } });
      return a.status === 'running' && a.release !== null && a.release > 1 ? a : undefined;
    }, { timeoutMs: 120_000, intervalMs: 500 });
    assert.equal((await settled(dev, 'web', live.release!, 90_000)).status, 'live');
    const probe = await dev.call('runCommand', { params: { id: 'web' }, body: { command: ['node', '-e', 'console.log(new URL(process.env.DATABASE_URL).host)'] } });
    const ran = await waitFor('the probe', async () => {
      const x = await dev.call('getRun', { params: { id: probe.id } });
      return x.status === 'succeeded' || x.status === 'failed' ? x : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    assert.equal(ran.output.trim(), 'new:5432');
    const again = await berth(['addons', 'upgrade', 'new', '--major', '15', '--project', 'data', '--confirm', 'new']);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /runs PostgreSQL 17; --major 15 is not newer/);
    // A dump of 17 cannot go back into 15.
    const back = JSON.parse((await berth(['--json', 'addons', 'backup', 'new'])).stdout) as { id: string; status: string };
    assert.equal(back.status, 'succeeded');
    await rejectsWith(dev.call('restoreBackup', { params: { id: 'old' }, body: { backup: back.id } }), 400, 'backup');

    await rejectsWith(dev.call('createAddon', { body: { type: 'postgres', name: 'pg16', project: 'data', version: '16' } }), 400, 'version');
    await rejectsWith(dev.call('createAddon', { body: { type: 'redis', name: 'r15', project: 'data', version: '15' } }), 400, 'version');
    await rejectsWith(dev.call('createAddon', { body: { type: 'postgres', name: 'pgx', project: 'data', version: 'latest' } }), 400, 'version');
    const refused = await berth(['addons', 'create', 'postgres', '--name', 'pg16', '--major', '16', '--project', 'data']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /postgres 16 is not offered here; versions: 17, 15/);
  });

  test('redis-cli SET and GET', async () => {
    const set = await berth(['addons', 'redis-cli', 'cache', '--', 'SET', 'greeting', 'hello there']);
    assert.equal(set.stdout, 'OK\n', set.stderr);
    assert.equal(set.code, 0);
    const get = await berth(['addons', 'redis-cli', 'cache', '--', 'GET', 'greeting']);
    assert.equal(get.stdout, 'hello there\n', get.stderr);
    const piped = await berth(['--json', 'addons', 'redis-cli', 'cache'], 'INCR visits\nINCR visits\n');
    assert.deepEqual(JSON.parse(piped.stdout), { exit_code: 0, reason: null, stdout: '1\n2\n', stderr: '' });
  });

  test('a session past its timeout is ended; a closed socket ends its session; neither leaves its helper', async () => {
    const slow = await berth(['addons', 'psql', 'db', '--timeout', '1', '-c', 'select pg_sleep(60)']);
    assert.notEqual(slow.code, 0);
    assert.match(slow.stderr, /ended after its timeout of 1 s/);
    assert.deepEqual(await sessionContainers(), []);

    const abort = new AbortController();
    const ended = dev.stream('addonSession', { params: { id: 'db' }, query: { client: 'psql', project: 'data' } }, () => {}, {
      signal: abort.signal,
      onOpen: (send) => send({ type: 'start', args: ['-c', 'select pg_sleep(60)'] }),
    });
    const [helper] = await waitFor('the session’s helper', async () => {
      const ids = await sessionContainers();
      return ids.length ? ids : undefined;
    }, { timeoutMs: 30_000 });
    // The credentials go by environment, never in the command line.
    const password = (await run('docker', ['inspect', '-f', '{{range .Config.Env}}{{println .}}{{end}}', `berth-${dbId.replace('_', '-')}`], { timeoutMs: 30_000 })).stdout
      .split('\n')
      .find((l) => l.startsWith('BERTH_ADDON_PASSWORD='))!
      .split('=')[1]!;
    assert.ok(password.length >= 16);
    const cmd = (await run('docker', ['inspect', '-f', '{{json .Config.Cmd}} {{.Config.User}}', helper!], { timeoutMs: 30_000 })).stdout;
    assert.ok(!cmd.includes(password), 'the password is not in the command line');
    assert.match(cmd, /"psql"/);
    // The image's user (postgres), resolved to its numeric ids from the image's own /etc/passwd.
    const [uid, gid] = (/ (\d+):(\d+)\n?$/.exec(cmd) ?? []).slice(1).map(Number);
    assert.ok(uid !== undefined && uid > 0 && gid !== undefined, `the client runs as the image’s non-root user, by number: ${cmd}`);
    const image = (await dev.call('getAddon', { params: { id: 'db' }, query: { project: 'data' } })).image;
    const passwd = (await run('docker', ['run', '--rm', '--network', 'none', '--entrypoint', 'id', image, '-u', 'postgres'], { timeoutMs: 30_000 })).stdout.trim();
    assert.equal(String(uid), passwd, 'the uid is the image’s postgres user');
    abort.abort();
    await ended;
    await waitFor('the helper to go', async () => ((await sessionContainers()).length === 0 ? true : undefined), { timeoutMs: 30_000 });
  });

  test('another project’s user gets 404, a viewer 403; a client of the wrong type and bad input are 4xx naming the field', async () => {
    const open = (c: BerthClient, id: string, query: Record<string, unknown>) =>
      c.stream('addonSession', { params: { id }, query: query as never }, () => {}, { onOpen: (send) => send({ type: 'start', args: ['-c', 'select 1'] }) });
    await assert.rejects(open(other, dbId, { client: 'psql' }), (err: unknown) => err instanceof ApiError && err.status === 404);
    await assert.rejects(open(other, 'db', { client: 'psql', project: 'data' }), (err: unknown) => err instanceof ApiError && err.status === 404, 'their own project "data" has no add-on db');
    const viewer = await s.newUser('viewer');
    await dev.call('addMember', { params: { id: 'data' }, body: { username: 'viewer', role: 'viewer' } });
    await assert.rejects(open(viewer, 'db', { client: 'psql' }), (err: unknown) => err instanceof ApiError && err.status === 403);
    const refused = await berth(['addons', 'psql', dbId, '-c', 'select 1'], undefined, other.opts.token!);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /not found/);
    await rejectsWith(open(dev, 'cache', { client: 'psql', project: 'data' }), 400, 'client');
    await rejectsWith(open(dev, 'db', { client: 'redis-cli', project: 'data' }), 400, 'client');
    await rejectsWith(open(dev, 'db', { client: 'mysql', project: 'data' }), 400, 'client');
    await rejectsWith(open(dev, 'db', { client: 'psql', project: 'data', timeout_s: 0 }), 400, 'timeout_s');
    await assert.rejects(open(dev, 'nothing', { client: 'psql' }), (err: unknown) => err instanceof ApiError && err.status === 404);
    // Arguments come in the first message (never in the URL): a bad one is refused on the socket, naming where.
    const errors: string[] = [];
    const badStart = await dev.stream('addonSession', { params: { id: 'db' }, query: { client: 'psql', project: 'data' } }, (m) => {
      if ('error' in m) errors.push(m.error.message);
    }, { onOpen: (send) => send({ type: 'start', args: ['-c', 'select 1\u0000'] }) });
    assert.equal(badStart.code, 1008);
    assert.match(errors.join(), /bad message at \/args\/1/);
    const wrong = await berth(['addons', 'psql', 'cache']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /add-on "cache" is redis: its client is redis-cli/);
  });
});
