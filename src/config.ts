import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ArchiveLimits } from './builder/archive.js';

/** Limits of one build (operator settings with safe defaults). */
export interface BuildSettings {
  memoryMb: number;
  timeoutMs: number;
  /** A git clone gets at most this long of the build's time. */
  cloneTimeoutMs: number;
  archive: ArchiveLimits;
  /** A build whose source upload never comes is failed after this long. */
  pendingTtlMs: number;
  maxLogLines: number;
}

/** Everything Berth reads from its environment, parsed once at start. */
export interface Config {
  serverPort: number;
  serverHost: string;
  dataDir: string;
  /** null: the embedded SQLite database under dataDir. */
  databaseUrl: string | null;
  dockerHost: string | undefined;
  routerDomain: string;
  routerHttpPort: number;
  routerHttpsPort: number;
  routerAdmin: string;
  /** Email for Let's Encrypt; unset: certificates for public domains come from Caddy's internal CA. */
  acmeEmail: string | undefined;
  redirectHttps: boolean;
  /** Builds run at once. */
  buildConcurrency: number;
  adminPassword: string | undefined;
  logLevel: string;
  /** Largest request body accepted, in bytes (archives have their own limit). */
  bodyLimit: number;
  build: BuildSettings;
  /** Images of the managed add-ons (scripts/addons.sh makes the defaults from Debian's packages). */
  addonImages: { postgres: string; redis: string };
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number, got "${raw}"`);
  return n;
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return n;
}

function buildSettings(env: NodeJS.ProcessEnv): BuildSettings {
  const maxArchiveBytes = positive(env, 'BERTH_BUILD_MAX_UPLOAD_BYTES', positive(env, 'BERTH_BUILD_MAX_UPLOAD_MB', 200) * 1024 * 1024);
  return {
    memoryMb: positive(env, 'BERTH_BUILD_MEMORY_MB', 2048),
    timeoutMs: positive(env, 'BERTH_BUILD_TIMEOUT_S', 1800) * 1000,
    cloneTimeoutMs: positive(env, 'BERTH_BUILD_CLONE_TIMEOUT_S', 300) * 1000,
    archive: {
      maxArchiveBytes,
      maxExpandedBytes: positive(env, 'BERTH_BUILD_MAX_SOURCE_MB', 1024) * 1024 * 1024,
      maxEntries: positive(env, 'BERTH_BUILD_MAX_FILES', 100_000),
    },
    pendingTtlMs: positive(env, 'BERTH_BUILD_UPLOAD_TTL_S', 3600) * 1000,
    maxLogLines: positive(env, 'BERTH_BUILD_MAX_LOG_LINES', 50_000),
  };
}

/** DATABASE_URL wins; the POSTGRES_* variables are accepted as an alternative. */
function databaseUrl(env: NodeJS.ProcessEnv): string | null {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  if (!env.POSTGRES_HOST && !env.POSTGRES_DB) return null;
  const url = new URL('postgres://localhost');
  url.hostname = env.POSTGRES_HOST ?? 'localhost';
  url.port = env.POSTGRES_PORT ?? '5432';
  url.username = encodeURIComponent(env.POSTGRES_USER ?? 'postgres');
  if (env.POSTGRES_PASSWORD) url.password = encodeURIComponent(env.POSTGRES_PASSWORD);
  url.pathname = `/${encodeURIComponent(env.POSTGRES_DB ?? 'berth')}`;
  return url.toString();
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = resolve(env.BERTH_DATA_DIR ?? join(homedir(), '.berth'));
  return {
    serverPort: int(env, 'SERVER_PORT', 8080),
    serverHost: env.SERVER_HOST ?? '0.0.0.0',
    dataDir,
    databaseUrl: databaseUrl(env),
    dockerHost: env.DOCKER_HOST || undefined,
    routerDomain: env.ROUTER_DOMAIN ?? 'localhost',
    routerHttpPort: int(env, 'ROUTER_HTTP_PORT', 80),
    routerHttpsPort: int(env, 'ROUTER_HTTPS_PORT', 443),
    routerAdmin: env.ROUTER_ADMIN ?? `unix/${join(dataDir, 'caddy', 'admin.sock')}`,
    acmeEmail: env.ROUTER_ACME_EMAIL || undefined,
    redirectHttps: env.ROUTER_REDIRECT_HTTPS === '1' || env.ROUTER_REDIRECT_HTTPS === 'true',
    buildConcurrency: Math.max(1, Number.parseInt(env.BERTH_BUILD_CONCURRENCY ?? '2', 10) || 2),
    adminPassword: env.BERTH_ADMIN_PASSWORD || undefined,
    logLevel: env.LOG_LEVEL ?? 'info',
    bodyLimit: 1024 * 1024,
    build: buildSettings(env),
    addonImages: {
      postgres: env.BERTH_ADDON_POSTGRES_IMAGE?.trim() || 'berth/addon-postgres:15',
      redis: env.BERTH_ADDON_REDIS_IMAGE?.trim() || 'berth/addon-redis:7',
    },
  };
}

// Where things live under the data directory: one place, for the handlers and the controllers.
/** Where a build keeps its source while it waits and runs; removed when it finishes. */
export const buildDir = (dataDir: string, buildId: string) => join(dataDir, 'builds', buildId);
/** Bare repositories of the apps' git remotes. */
export const gitRoot = (dataDir: string) => join(dataDir, 'git');
export const bareRepo = (dataDir: string, appId: string) => join(gitRoot(dataDir), `${appId}.git`);
