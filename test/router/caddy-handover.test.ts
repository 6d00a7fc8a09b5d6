import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HaproxyRouter } from '../../src/router/haproxy/router.js';
import { eventually, freePort, get, startUpstream } from './helpers.js';

/**
 * What scripts/up.sh does on an install that ran Caddy: HAProxy starts on the same port beside it
 * (both bind with SO_REUSEPORT), then Caddy is stopped with SIGTERM. A keep-alive load (no resend)
 * and new connections run throughout: every request on a new connection is answered, by one or
 * the other; a keep-alive connection may be closed under its client once, by Caddy's shutdown.
 */
test('the ports move from a running Caddy to HAProxy under load, every request answered', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-handover-'));
  const up = await startUpstream('app');
  const port = await freePort();
  writeFileSync(join(dir, 'Caddyfile'), `{\n  admin off\n  auto_https off\n}\nhttp://:${port} {\n  reverse_proxy ${up.addr}\n}\n`);
  const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir };
  const caddy = spawn('caddy', ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], { cwd: dir, env, stdio: 'ignore' });
  const router = new HaproxyRouter({ dataDir: dir, httpPort: port, httpsPort: await freePort() });
  try {
    await eventually(async () => (await get(port, 'app.localhost')).status === 200, 'Caddy serving');
    const agent = new Agent({ keepAlive: true, maxSockets: 3 });
    let sent = 0;
    const failures: string[] = [];
    const reset: string[] = [];
    const by = { caddy: 0, haproxy: 0 };
    let stop = false;
    const client = async (keepAlive: boolean) => {
      while (!stop) {
        sent++;
        try {
          const r = await get(port, 'app.localhost', '/', keepAlive ? agent : undefined);
          if (r.status !== 200) failures.push(`HTTP ${r.status}`);
          else if (r.headers.server === 'Caddy') by.caddy++;
          else by.haproxy++;
        } catch (err) {
          // Caddy's shutdown closes its idle keep-alive connections: a client that sends on one at
          // that instant sees a reset (browsers resend; Node's Agent does not). Once per connection.
          const closedUnderUs = keepAlive && /ECONNRESET|socket hang up/.test(String(err));
          (closedUnderUs ? reset : failures).push(String(err));
        }
      }
    };
    const clients = [client(true), client(true), client(true), client(false)];
    await eventually(async () => by.caddy > 100, 'load through Caddy');
    const t0 = Date.now();
    await router.apply([{ app: 'app', hosts: ['app.localhost'], upstreams: [up.addr] }]);
    const haproxyAt = Date.now() - t0;
    caddy.kill('SIGTERM');
    await new Promise((r) => caddy.once('exit', r));
    const caddyGoneAt = Date.now() - t0;
    const served = by.haproxy;
    await eventually(async () => by.haproxy > served + 100, 'load through HAProxy alone');
    stop = true;
    await Promise.all(clients);
    agent.destroy();
    t.diagnostic(
      `HAProxy serving ${haproxyAt} ms after its start began; Caddy gone ${caddyGoneAt} ms after (SIGTERM at ${haproxyAt} ms); ` +
        `${sent} requests (${by.caddy} by Caddy, ${by.haproxy} by HAProxy), ${failures.length} failed, ` +
        `${reset.length} keep-alive connections closed under their client by Caddy's shutdown`,
    );
    assert.ok(by.haproxy > 100 && by.caddy > 100);
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${sent} failed`);
    assert.ok(reset.length <= 3, `at most one reset per keep-alive connection (3): ${reset.join('; ')}`);
  } finally {
    caddy.kill('SIGKILL');
    await router.stop();
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
