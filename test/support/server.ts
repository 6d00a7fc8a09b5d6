import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { run } from '../../src/lib/exec.js';
import { BerthClient } from '../../src/client/index.js';

export type Engine = 'sqlite' | 'postgres';
export const ENGINES: Engine[] = ['sqlite', 'postgres'];

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
export const SERVER_MAIN = join(ROOT, 'dist/src/server/main.js');
export const CLI_MAIN = join(ROOT, 'dist/src/cli/main.js');
export const ADMIN_PASSWORD = 'admin-password-for-tests';

/** The PostgreSQL server the test command started. Tests on PostgreSQL fail (not skip) without it. */
function pgAdminUrl(): string {
  const url = process.env.BERTH_TEST_PG_URL;
  if (!url) throw new Error('BERTH_TEST_PG_URL is not set: run the suite with `npm test`, which starts PostgreSQL');
  return url;
}

/** A fresh database per server, so test files do not see each other's data. */
export async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = pgAdminUrl();
  const name = `berth_t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const d = new pg.Client({ connectionString: admin });
      await d.connect();
      try {
        await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } catch (err) {
        // FORCE refuses when an autovacuum worker is in the database (its role is none the test's role
        // may signal: 42501); a plain DROP makes autovacuum workers exit and waits for them.
        if ((err as { code?: string }).code !== '42501') throw err;
        await d.query(`DROP DATABASE IF EXISTS ${name}`);
      } finally {
        await d.end();
      }
    },
  };
}

/** Ports handed out by freePort(): below the kernel's ephemeral range (32768 and up here). */
const PORT_FLOOR = 20_000;
const PORT_CEIL = 32_767;

/**
 * A port nothing listens on right now, for a listener a test starts later. Chosen at random below
 * the kernel's ephemeral range: a port the kernel picked (listen(0)) is also what it gives the
 * next outgoing connection or port-0 listener of any process, which took such a port between its
 * check and its use (an HAProxy bind failed with EADDRINUSE under a busy suite).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = PORT_FLOOR + Math.floor(Math.random() * (PORT_CEIL - PORT_FLOOR + 1));
    const free = await new Promise<boolean>((resolvePort) => {
      const srv = createServer();
      srv.once('error', () => resolvePort(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolvePort(true)));
    });
    if (free) return port;
  }
}

/** Removes what an instance left on the engine and stops its HAProxy: test servers must not leak. */
async function cleanEngine(instance: string | undefined, dataDir: string, buildStore: string) {
  try {
    // The master's workers exit with it.
    const pid = Number(readFileSync(join(dataDir, 'haproxy', 'haproxy.pid'), 'utf8'));
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    /* no haproxy was started */
  }
  try {
    // Cluster mode's registry outlives the control plane too (src/registry/process.ts).
    const pid = Number(readFileSync(join(dataDir, 'registry', 'registry.pid'), 'utf8'));
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    /* no registry was started */
  }
  if (!instance) return;
  // Its projects' download caches (src/imagebuild/build-cache.ts): a test database is dropped, nothing would collect them.
  if (/^[A-Za-z0-9_-]+$/.test(instance)) rmSync(join(buildStore, 'caches', instance), { recursive: true, force: true });
  // Cluster mode binds the overlay anchor's network namespace (or a placeholder) under /var/run/netns.
  if (existsSync(`/var/run/netns/berth-${instance}`)) await run('ip', ['netns', 'delete', `berth-${instance}`], { timeoutMs: 10_000 });
  const filter = `label=berth.instance=${instance}`;
  const ids = (await run('docker', ['ps', '-aq', '--filter', filter], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
  if (ids.length) await run('docker', ['rm', '-f', ...ids], { timeoutMs: 60_000 });
  const nets = (await run('docker', ['network', 'ls', '-q', '--filter', filter], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
  if (nets.length) await run('docker', ['network', 'rm', ...nets], { timeoutMs: 60_000 });
  const vols = (await run('docker', ['volume', 'ls', '-q', '--filter', filter], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
  if (vols.length) await run('docker', ['volume', 'rm', '-f', ...vols], { timeoutMs: 60_000 });
}

export interface TestServer {
  engine: Engine;
  url: string;
  /** The router's HTTP port: apps answer at http://127.0.0.1:<routerPort> with Host <slug>.localhost. */
  routerPort: number;
  routerHttpsPort: number;
  instance: string;
  /** The server process's id (for resident-memory readings); undefined while it is down. */
  readonly pid: number | undefined;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  /** All the output of the current process, for assertions and for failure messages. */
  output(): string;
  adminToken: string;
  admin: BerthClient;
  client(token?: string): BerthClient;
  /** Logs in and returns a client for that user. */
  login(username: string, password: string): Promise<BerthClient>;
  /** Creates a user as admin and returns a logged-in client for it. */
  newUser(username: string): Promise<BerthClient>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL: the crash case. */
  kill(): Promise<void>;
  /** Starts the server again on the same data directory and database. */
  start(): Promise<void>;
  /** Stops it and removes its data directory and database. */
  destroy(): Promise<void>;
}

export interface StartOptions {
  engine?: Engine;
  env?: NodeJS.ProcessEnv;
  /**
   * BERTH_EGRESS_ALLOW for this server (hosts and CIDRs). Empty by default, whatever the test
   * runner's environment says: a test that sends to a loopback webhook, registry, git server or
   * ACME server names it here (e.g. '127.0.0.1/32'), and every other test runs with the closed rule.
   */
  egressAllow?: string;
  /**
   * A PostgreSQL database another test server already uses (its env.DATABASE_URL): a second control
   * plane on the same database (test/ha/). Not dropped by this server's destroy().
   */
  databaseUrl?: string;
}

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const engine = opts.engine ?? 'sqlite';
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-test-'));
  const db = engine === 'postgres' && !opts.databaseUrl ? await createDatabase() : null;
  const routerPort = await freePort();
  const routerHttpsPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ROUTER_HTTP_PORT: String(routerPort),
    ROUTER_HTTPS_PORT: String(routerHttpsPort),
    BERTH_DATA_DIR: dataDir,
    BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD,
    SERVER_HOST: '127.0.0.1',
    SERVER_PORT: '0',
    LOG_LEVEL: process.env.BERTH_TEST_LOG_LEVEL ?? 'info',
    // As scripts/up.sh starts it (glibc reads this at process start).
    MALLOC_MMAP_THRESHOLD_: '131072',
    // The images the suites load by hand (test/support/images.ts) are the operator's, shared with every
    // project, as an operator would share a base image; what projects build or pull stays theirs.
    BERTH_SHARED_IMAGES: 'berth-test/*',
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : db ? { DATABASE_URL: db.url } : { DATABASE_URL: '' }),
    BERTH_EGRESS_ALLOW: opts.egressAllow ?? '',
    // Custom-domain TXT checks ask a DNS server on this machine only: a closed port unless a test starts one.
    BERTH_DNS_RESOLVER: '127.0.0.1:9',
    ...opts.env,
  };
  let child: ChildProcess | null = null;
  let out = '';
  let url = '';

  const start = async () => {
    out = '';
    // The same flags as scripts/up.sh, so tests and benchmarks run the control plane as operators do.
    const proc = spawn(process.execPath, ['--max-semi-space-size=1', '--v8-pool-size=1', SERVER_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    url = await new Promise<string>((resolveUrl, reject) => {
      // On a loaded machine (two cores, parallel image builds) a start has taken over 30 s. One that
      // never listens is killed: left running, it kept the test file alive until the runner's timeout.
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`server did not start within 60 s:\n${out}`));
      }, 60_000);
      let listening = false;
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        // BERTH_TEST_SERVER_LOG_DIR: every test server's output also goes to a file there, to read while a test runs.
        if (process.env.BERTH_TEST_SERVER_LOG_DIR) appendFileSync(join(process.env.BERTH_TEST_SERVER_LOG_DIR, `${dataDir.split('/').pop()}.log`), chunk);
        // Once listening, stop scanning: rescanning the whole growing log per chunk is quadratic under load.
        if (listening) return;
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) {
          listening = true;
          clearTimeout(timer);
          // Keep the port across restarts, so clients made before a restart still reach the server.
          env.SERVER_PORT = new URL(m[1]).port;
          resolveUrl(m[1]);
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code} before listening:\n${out}`));
        // A control plane that dies on its own mid-test is the bug a failing test is about: show why.
        if (!stopping && listening) process.stderr.write(`# control plane exited by itself (${code ?? signal}); its last output:\n${out.slice(-4000).replace(/^/gm, '# ')}\n`);
      });
    });
  };

  let stopping = false;
  const waitExit = (signal: NodeJS.Signals) =>
    new Promise<void>((done) => {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return done();
      stopping = true;
      proc.once('exit', () => {
        stopping = false;
        done();
      });
      proc.kill(signal);
    });

  await start();
  const login = async (username: string, password: string) => {
    const res = await new BerthClient({ baseUrl: url }).call('login', { body: { username, password } });
    return new BerthClient({ baseUrl: url, token: res.token });
  };
  const admin = await login('admin', ADMIN_PASSWORD);
  const health = (await (await fetch(new URL('/healthz', url))).json()) as { instance: string };

  const server: TestServer = {
    engine,
    get url() {
      return url;
    },
    get pid() {
      const proc = child as ChildProcess | null;
      return proc && proc.exitCode === null && proc.signalCode === null ? proc.pid : undefined;
    },
    dataDir,
    env,
    routerPort,
    routerHttpsPort,
    instance: health.instance,
    output: () => out,
    adminToken: admin.opts.token!,
    get admin() {
      return new BerthClient({ baseUrl: url, token: admin.opts.token });
    },
    client: (token?: string) => new BerthClient({ baseUrl: url, token }),
    login,
    async newUser(username: string) {
      const password = `pw-${username}-secret`;
      await server.admin.call('createUser', { body: { username, password } });
      return login(username, password);
    },
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    start,
    async destroy() {
      await waitExit('SIGTERM');
      await cleanEngine(health.instance, dataDir, env.BERTH_BUILD_STORE?.trim() || '/var/lib/berth-buildah');
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Raw HTTP for the cases the typed client cannot express (bad JSON, unknown fields, no token). */
export async function raw(
  server: { url: string },
  method: string,
  path: string,
  opts: { token?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: any; text: string }> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const res = await fetch(new URL(path, server.url), { method, headers, body: opts.body, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}
