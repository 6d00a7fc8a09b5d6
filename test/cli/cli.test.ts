import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/lib/exec.js';
import { ADMIN_PASSWORD, CLI_MAIN, startServer, type TestServer } from '../support/server.js';

describe('berth CLI against a real server', () => {
  let s: TestServer;
  let home: string;
  const berth = (args: string[], input?: string) =>
    run(process.execPath, [CLI_MAIN, ...args], {
      timeoutMs: 30_000,
      input,
      env: { ...process.env, BERTH_CONFIG: join(home, 'config.json'), BERTH_URL: s.url, BERTH_TOKEN: '' },
    });

  before(async () => {
    s = await startServer();
    home = mkdtempSync(join(tmpdir(), 'berth-cli-'));
  });
  after(async () => {
    await s?.destroy();
    rmSync(home, { recursive: true, force: true });
  });

  test('login asks for the username and password, stores a private token', async () => {
    const bad = await berth(['login'], 'admin\nwrong-password\n');
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim(), 'berth: wrong username or password');
    const res = await berth(['login'], `admin\n${ADMIN_PASSWORD}\n`);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /Logged in to .* as admin/);
    assert.equal(statSync(join(home, 'config.json')).mode & 0o077, 0, 'the token file is readable by others');
    const who = await berth(['whoami', '--json']);
    assert.equal(JSON.parse(who.stdout).username, 'admin');
  });

  test('projects and apps: create, list as a table and as JSON, info, delete', async () => {
    await berth(['login', '-u', 'admin', '-p', ADMIN_PASSWORD]);
    const created = await berth(['projects', 'create', 'demo']);
    assert.equal(created.code, 0, created.stderr);
    const ls = await berth(['projects', 'ls']);
    assert.match(ls.stdout, /^NAME\s+ID\s+OWNER\s+ROLE\s+APPS/m);
    assert.match(ls.stdout, /^demo\s+prj_\w+\s+admin\s+owner\s+0/m);

    const app = await berth(['apps', 'create', 'my-api', '--project', 'demo']);
    assert.equal(app.code, 0, app.stderr);
    assert.match(app.stdout, /Created app my-api in demo: http:\/\/my-api\.localhost/);
    const apps = await berth(['apps', 'ls']);
    assert.match(apps.stdout, /^my-api\s+my-api\s+demo\s+1/m);
    const json = JSON.parse((await berth(['apps', 'ls', '--json'])).stdout) as { slug: string }[];
    assert.deepEqual(json.map((a) => a.slug), ['my-api']);
    const info = await berth(['apps', 'info', 'my-api']);
    assert.match(info.stdout, /Project:\s+demo/);
    assert.match(info.stdout, /Memory \(MB\):\s+512/);
    const updated = await berth(['apps', 'update', 'my-api', '--memory', '256', '--health-path', '/up', '--json']);
    assert.equal(JSON.parse(updated.stdout).memory, 256);
    assert.equal(JSON.parse(updated.stdout).health_check.path, '/up');
    const drain = await berth(['apps', 'update', 'my-api', '--drain-timeout', '5', '--json']);
    assert.equal(JSON.parse(drain.stdout).drain_timeout_s, 5);
    assert.match((await berth(['apps', 'info', 'my-api'])).stdout, /Drain timeout:\s+5s/);
    const metrics = await berth(['metrics', 'my-api']);
    assert.equal(metrics.code, 0, metrics.stderr);
    assert.match(metrics.stdout, /APP \/ REPLICA\s+STATUS\s+REQ\/S/i);
    assert.match(metrics.stdout, /^my-api\s+0\/s\s+0\s+0 \/ 0 \/ 0 \/ 0\s+0/m);
    const metricsJson = JSON.parse((await berth(['metrics', 'my-api', '--json'])).stdout) as { app: string; total: { requests_total: number }; replicas: unknown[] };
    assert.deepEqual([metricsJson.app, metricsJson.total.requests_total, metricsJson.replicas], ['my-api', 0, []]);
    const webType = await berth(['metrics', 'my-api', '--type', 'web']);
    assert.equal(webType.code, 0, webType.stderr);
    assert.match(webType.stdout, /TYPE \/ REPLICA\s+CPU\s+MEMORY\s+RESTARTS/i);
    assert.match(webType.stdout, /^all web replicas\s+0$/m);
    const noType = await berth(['metrics', 'my-api', '--type', 'worker']);
    assert.equal(noType.code, 1);
    assert.match(noType.stderr, /process type worker/);

    const dup = await berth(['apps', 'create', 'my-api', '--project', 'demo']);
    assert.equal(dup.code, 1);
    assert.equal(dup.stderr.trim(), 'berth: slug "my-api" is taken');
    const dupJson = await berth(['apps', 'create', 'my-api', '--project', 'demo', '--json']);
    assert.equal(JSON.parse(dupJson.stdout).error.status, 409);

    const del = await berth(['apps', 'delete', 'my-api']);
    assert.equal(del.code, 0);
    const gone = await berth(['apps', 'info', 'my-api']);
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr.trim(), 'berth: app "my-api" not found');
    assert.equal((await berth(['projects', 'delete', 'demo'])).code, 0);
  });

  test('users and tokens from the CLI', async () => {
    await berth(['login', '-u', 'admin', '-p', ADMIN_PASSWORD]);
    assert.equal((await berth(['users', 'create', 'erin', '-p', 'erin-password'])).code, 0);
    assert.match((await berth(['users', 'ls'])).stdout, /^erin\s+usr_/m);
    const tok = await berth(['tokens', 'create', 'deploy-bot', '--json']);
    const token = JSON.parse(tok.stdout).token as string;
    const asBot = await run(process.execPath, [CLI_MAIN, 'whoami', '--json'], {
      timeoutMs: 30_000,
      env: { ...process.env, BERTH_CONFIG: join(home, 'none.json'), BERTH_URL: s.url, BERTH_TOKEN: token },
    });
    assert.equal(JSON.parse(asBot.stdout).username, 'admin');
    assert.equal((await berth(['users', 'disable', 'erin'])).code, 0);
    const erin = await berth(['login', '-u', 'erin', '-p', 'erin-password']);
    assert.equal(erin.code, 1);
    assert.match(erin.stderr, /disabled/);
  });

  test('errors are one line with a non-zero exit: not logged in, unreachable server, bad usage', async () => {
    await berth(['logout']);
    const notIn = await berth(['apps', 'ls']);
    assert.equal(notIn.code, 1);
    assert.equal(notIn.stderr.trim(), 'berth: not logged in: run `berth login` first');
    const down = await run(process.execPath, [CLI_MAIN, 'login', '-u', 'a', '-p', 'b', '--server', 'http://127.0.0.1:9'], { timeoutMs: 30_000 });
    assert.notEqual(down.code, 0);
    assert.match(down.stderr.trim(), /^berth: cannot reach Berth at http:\/\/127\.0\.0\.1:9/);
    const usage = await berth(['apps', 'create']);
    assert.notEqual(usage.code, 0);
    assert.match(usage.stderr, /missing required argument/);
  });
});
