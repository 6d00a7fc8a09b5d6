import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.js';
import { openStore } from '../../src/store/db.js';
import { instanceId } from '../../src/store/meta.js';
import { Events } from '../../src/domain/events.js';
import { BuildLogHub } from '../../src/domain/build-logs.js';
import { SecretBox } from '../../src/lib/crypto.js';
import { buildServer } from '../../src/api/server.js';
import type { ApiContext } from '../../src/api/context.js';
import { ensureAdmin } from '../../src/server/bootstrap.js';
import { FakeRuntime } from '../controllers/fakes.js';

export const ADMIN_PASSWORD = 'admin-password-for-fast-tests';

/**
 * The real API server (every route, hook, validator and error handler of src/api/server.ts) on a
 * real SQLite store in a temporary directory, with Berth's in-memory engine behind the Runtime
 * interface and the controllers replaced by what the handlers may ask of them through ApiContext:
 * requests go through `fastify.inject`, no socket, no Docker, no HAProxy. The wiring differs from
 * server/main.ts only below ApiContext, so what a test sees is what a client sees.
 */
export interface ApiWorld {
  app: FastifyInstance;
  ctx: ApiContext;
  runtime: FakeRuntime;
  /** The apps the handlers told the app controller about (ctx.nudge), in order. */
  nudged: (string | undefined)[];
  /** A JSON request; `token` sends it as a Bearer token. */
  request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, opts?: { token?: string; body?: unknown; payload?: string }): Promise<{ status: number; json: any }>;
  /** A token for this user (logged in with its password). */
  login(username: string, password: string): Promise<string>;
  /** A new user, made by the admin; returns its token. */
  newUser(username: string): Promise<string>;
  adminToken: string;
  close(): Promise<void>;
}

const TMP = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

export async function apiWorld(): Promise<ApiWorld> {
  const dir = mkdtempSync(join(TMP, 'berth-inject-'));
  const config = loadConfig({ BERTH_DATA_DIR: dir, ROUTER_DOMAIN: 'test', BERTH_ADMIN_PASSWORD: ADMIN_PASSWORD });
  const log = pino({ level: 'silent' });
  const store = await openStore({ dataDir: dir, databaseUrl: null });
  await ensureAdmin(store.db, dir, ADMIN_PASSWORD, log);
  const runtime = new FakeRuntime();
  const nudged: (string | undefined)[] = [];
  const refuse = (what: string) => () => {
    throw new Error(`${what} is not part of the fast API tests`);
  };
  const ctx: ApiContext = {
    config,
    store,
    db: store.db,
    secrets: new SecretBox(randomBytes(32)),
    log,
    runtime,
    events: new Events(store.db),
    buildLogs: new BuildLogHub(),
    instanceId: await instanceId(store.db),
    nudge: (appId) => void nudged.push(appId),
    syncRoutes: async () => {},
    routerServes: () => false,
    routerStats: async () => null,
    nudgeBuilds: () => {},
    collectBuildCaches: () => {},
    pruneImages: async () => ({ removed: [], freed_bytes: 0, skipped: [] }),
    cluster: { engine: new Proxy({}, { get: (_t, name) => refuse(`the cluster engine (${String(name)})`) }) as never, reconcile: async () => {}, registryTrust: async () => null },
    nudgeRuns: () => {},
    nudgeDrains: () => {},
    nudgeAddons: () => {},
    addonSession: refuse('an add-on session'),
    nudgeVolumes: () => {},
    volumeUsage: async () => null,
  };
  const app = await buildServer(ctx);
  await app.ready();

  const request: ApiWorld['request'] = async (method, url, opts = {}) => {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let payload = opts.payload;
    if (opts.body !== undefined) payload = JSON.stringify(opts.body);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const res = await app.inject({ method, url, headers, payload });
    return { status: res.statusCode, json: res.body ? res.json() : undefined };
  };
  const login = async (username: string, password: string) => {
    const res = await request('POST', '/api/v1/auth/login', { body: { username, password } });
    if (res.status !== 200) throw new Error(`login as ${username}: HTTP ${res.status} ${JSON.stringify(res.json)}`);
    return res.json.token as string;
  };
  const adminToken = await login('admin', ADMIN_PASSWORD);
  return {
    app,
    ctx,
    runtime,
    nudged,
    request,
    login,
    adminToken,
    async newUser(username) {
      const password = `pw-${username}-secret`;
      const res = await request('POST', '/api/v1/users', { token: adminToken, body: { username, password } });
      if (res.status !== 201) throw new Error(`create user ${username}: HTTP ${res.status} ${JSON.stringify(res.json)}`);
      return login(username, password);
    },
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
