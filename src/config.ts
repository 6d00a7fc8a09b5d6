import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

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
  /** ACME account email; unset: every certificate comes from Berth's own CA (src/tls). */
  acmeEmail: string | undefined;
  /** ACME directory URL (default Let's Encrypt production). */
  acmeDirectory: string;
  /** PEM file of CAs trusted for the ACME server's HTTPS (a test CA such as pebble's). */
  acmeCaFile: string | undefined;
  /** Domains whose names always get Berth CA certificates (operator-marked internal), lowercase, no dot in front. */
  internalDomains: string[];
  redirectHttps: boolean;
  /** Builds run at once. */
  buildConcurrency: number;
  adminPassword: string | undefined;
  logLevel: string;
  /** Largest request body accepted, in bytes (archives have their own limit). */
  bodyLimit: number;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number, got "${raw}"`);
  return n;
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
    acmeEmail: env.ROUTER_ACME_EMAIL || undefined,
    acmeDirectory: env.ROUTER_ACME_DIRECTORY || 'https://acme-v02.api.letsencrypt.org/directory',
    acmeCaFile: env.ROUTER_ACME_CA_FILE || undefined,
    internalDomains: (env.ROUTER_INTERNAL_DOMAINS ?? '')
      .split(',')
      .map((d) => d.trim().toLowerCase().replace(/^\*?\./, '').replace(/\.$/, ''))
      .filter(Boolean),
    redirectHttps: env.ROUTER_REDIRECT_HTTPS === '1' || env.ROUTER_REDIRECT_HTTPS === 'true',
    buildConcurrency: Math.max(1, Number.parseInt(env.BERTH_BUILD_CONCURRENCY ?? '2', 10) || 2),
    adminPassword: env.BERTH_ADMIN_PASSWORD || undefined,
    logLevel: env.LOG_LEVEL ?? 'info',
    bodyLimit: 1024 * 1024,
  };
}
