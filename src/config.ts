import { homedir, hostname } from 'node:os';
import { checkUrl, parseEgressAllow, type EgressAllow } from './lib/egress.js';
import { join, resolve } from 'node:path';
import { allLanguageLines, nodeLines, runtimeImage, stackImages, type LangLine, type Language, type NodeLine, type VersionedLanguage } from './config-stacks.js';
import { accessSettings, type AccessSettings } from './config-access.js';

/** What an uploaded source archive may hold (builder/archive.ts enforces it). */
export interface ArchiveLimits {
  /** Size of the uploaded file itself. */
  maxArchiveBytes: number;
  /** Sum of all file contents once expanded. */
  maxExpandedBytes: number;
  maxEntries: number;
}

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
  /** The image each language builds FROM (BERTH_STACK_<LANGUAGE>). */
  stacks: Record<Language, string>;
  /** The Node.js lines an app may choose from; null when BERTH_STACK_NODE pins one image for all. */
  nodeLines: NodeLine[] | null;
  /** The Python, Go, Ruby, PHP and Java lines an app may choose from; a language's is null when BERTH_STACK_<LANGUAGE> pins one image for all. */
  languageLines: Record<VersionedLanguage, LangLine[] | null>;
  /** What compiled apps (Go) run in (BERTH_BASE_IMAGE). */
  runtimeImage: string;
  /** Image garbage collection keeps the images of this many latest releases per app (and always the live one and its rollback target). */
  keepReleaseImages: number;
  /** How often image garbage collection runs. */
  imageGcIntervalMs: number;
  /** Processes a build's RUN steps may have at once (BERTH_BUILD_PIDS): a fork bomb stops there. */
  pidsLimit: number;
  /**
   * buildah's storage (BERTH_BUILD_STORE): one image store per project plus the cached stack
   * images. A cache, shared by the Berth instances of one machine; deleting it costs a re-copy.
   */
  storeDir: string;
  /**
   * Each project's download caches (BERTH_BUILD_CACHE_MB, 2048): over it, the project's caches are
   * dropped at the next collection (on each build's end and every imageGcIntervalMs).
   */
  cacheMaxBytes: number;
}

/** Berth's own image registry in cluster mode. */
export interface RegistrySettings {
  /**
   * BERTH_REGISTRY_ADDR: the host (or IP) every node reaches the registry at, and where it listens
   * when it is an IP; unset: the manager's Swarm address.
   */
  host: string | undefined;
  /** BERTH_REGISTRY_PORT (5000). */
  port: number;
  /**
   * BERTH_DOCKER_CERTS_DIR (/etc/docker/certs.d): where the control plane's own engine looks for
   * registry CAs; Berth writes its CA there so that engine can push. Docker reads it at each push or pull.
   */
  dockerCertsDir: string;
  /** The Distribution binary (Debian's docker-registry package). */
  bin: string;
}

/** Everything Berth reads from its environment, parsed once at start. */
export interface Config {
  serverPort: number;
  serverHost: string;
  /**
   * BERTH_ADVERTISE_URL: where this instance's API answers for the others and for operators (listed by
   * GET /api/v1/cluster/control-planes); default http://<SERVER_HOST>:<SERVER_PORT>.
   */
  advertiseUrl: string;
  dataDir: string;
  /** null: the embedded SQLite database under dataDir. */
  databaseUrl: string | null;
  dockerHost: string | undefined;
  /**
   * BERTH_CLUSTER=1: an admin may turn the engine into a Swarm manager (`berth cluster init`).
   * Off by default: a single-node install never changes its engine's Swarm state.
   */
  clusterMode: boolean;
  /** Cluster mode's image registry (src/registry/, docs/cluster.md). */
  registry: RegistrySettings;
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
  /** ROUTER_ACCESS_LOG: HAProxy logs every request to <data dir>/haproxy/haproxy.log (not rotated; for debugging). */
  routerAccessLog: boolean;
  /** Builds run at once. */
  buildConcurrency: number;
  adminPassword: string | undefined;
  /** BERTH_SECRET_KEY (base64, 32 bytes); unset: a key generated once into the data directory. */
  secretKey: string | undefined;
  logLevel: string;
  /** Largest request body accepted, in bytes (archives have their own limit). */
  bodyLimit: number;
  build: BuildSettings;
  /** Notification retries: first retry after retryBaseMs, doubling (at most 5 min), up to maxAttempts sends. */
  notifications: { retryBaseMs: number; maxAttempts: number; timeoutMs: number };
  /** BERTH_ALERT_TIME_SCALE: multiplies every alert rule's window, hold and clear time (tests shorten them; 1 otherwise). */
  alerts: { timeScale: number };
  /** Log drains: lines and bytes held per drain while its receiver is away, and the retry backoff (first, longest). */
  drains: { bufferLines: number; bufferBytes: number; retryBaseMs: number; retryMaxMs: number };
  /**
   * The log store (docs/logs.md): how long and how much of each app's log is kept, and the
   * collector's buffer (lines waiting for the database; past it lines are dropped and counted).
   */
  logs: { retentionDays: number; retentionBytes: number; bufferLines: number };
  /** BERTH_EGRESS_ALLOW: internal hosts and networks server-side requests may reach (src/lib/egress.ts). */
  egressAllow: EgressAllow;
  /**
   * BERTH_CONTROL_HOSTS: the names the dashboard and API are served at, lowercase. No app slug or
   * custom domain may take one (the session cookie would go to that app). Default: ROUTER_DOMAIN's
   * apex, this machine's host name and localhost.
   */
  controlHosts: string[];
  /** BERTH_DNS_RESOLVER: host:port of the DNS server custom-domain TXT checks ask; unset: the system's. */
  dnsResolver: string | undefined;
  /** BERTH_DOMAIN_VERIFY: how a custom domain may be verified: 'dns' (a TXT record, the default) and/or 'http'. */
  domainVerify: Array<'dns' | 'http'>;
  /**
   * Images of the managed add-ons per major version, and the version a new add-on gets
   * (scripts/addons.sh makes the defaults from Debian's packages: PostgreSQL 15 from Debian 12, 17 from Debian 13).
   */
  addonImages: Record<'postgres' | 'redis', AddonImages>;
  /** Login limits, quotas (src/config-access.ts). */
  access: AccessSettings;
  /**
   * BERTH_SHARED_IMAGES: repositories on the engine every project may deploy (images the operator
   * loaded for everyone), comma-separated: `team/base` (any tag of it) or `team/*` (a namespace).
   * Empty by default: a project deploys only what it built or pulled (src/domain/image-owners.ts).
   */
  sharedImages: string[];
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
    stacks: stackImages(env),
    nodeLines: nodeLines(env),
    languageLines: allLanguageLines(env),
    runtimeImage: runtimeImage(env),
    keepReleaseImages: Math.ceil(positive(env, 'BERTH_IMAGE_KEEP', 10)),
    imageGcIntervalMs: positive(env, 'BERTH_IMAGE_GC_INTERVAL_S', 3600) * 1000,
    pidsLimit: Math.ceil(positive(env, 'BERTH_BUILD_PIDS', 1024)),
    storeDir: resolve(env.BERTH_BUILD_STORE?.trim() || '/var/lib/berth-buildah'),
    cacheMaxBytes: positive(env, 'BERTH_BUILD_CACHE_MB', 2048) * 1024 * 1024,
  };
}

/** An IPv4 address or a DNS name: it goes into certificates, image references and the join command. */
function registryHost(raw: string | undefined): string | undefined {
  if (raw !== undefined && !/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(raw)) {
    throw new Error(`BERTH_REGISTRY_ADDR must be an IPv4 address or a DNS name without a port, got "${raw}"`);
  }
  return raw?.toLowerCase();
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

const hostList = (raw: string) => [...new Set(raw.split(',').map((h) => h.trim().toLowerCase().replace(/\.$/, '')).filter(Boolean))];

function domainVerify(raw: string | undefined): Array<'dns' | 'http'> {
  const list = (raw ?? 'dns').split(',').map((m) => m.trim().toLowerCase()).filter(Boolean);
  for (const m of list) if (m !== 'dns' && m !== 'http') throw new Error(`BERTH_DOMAIN_VERIFY takes dns and/or http, got "${m}"`);
  if (!list.length) throw new Error('BERTH_DOMAIN_VERIFY must name dns and/or http');
  return [...new Set(list)] as Array<'dns' | 'http'>;
}

/** The ACME directory is a server-side request like any other: an internal one must be allowed (refused at start). */
function acmeDirectory(env: NodeJS.ProcessEnv, allow: EgressAllow): string {
  const url = env.ROUTER_ACME_DIRECTORY || 'https://acme-v02.api.letsencrypt.org/directory';
  if (env.ROUTER_ACME_EMAIL) {
    try {
      checkUrl(url, 'ROUTER_ACME_DIRECTORY', allow);
    } catch (err) {
      throw new Error(`${(err as Error).message} (ROUTER_ACME_DIRECTORY=${url})`, { cause: err });
    }
  }
  return url;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = resolve(env.BERTH_DATA_DIR ?? join(homedir(), '.berth'));
  const routerDomain = (env.ROUTER_DOMAIN ?? 'localhost').toLowerCase();
  const egressAllow = parseEgressAllow(env.BERTH_EGRESS_ALLOW);
  return {
    serverPort: int(env, 'SERVER_PORT', 8080),
    serverHost: env.SERVER_HOST ?? '0.0.0.0',
    advertiseUrl: env.BERTH_ADVERTISE_URL || `http://${env.SERVER_HOST ?? '0.0.0.0'}:${int(env, 'SERVER_PORT', 8080)}`,
    dataDir,
    databaseUrl: databaseUrl(env),
    dockerHost: env.DOCKER_HOST || undefined,
    clusterMode: env.BERTH_CLUSTER === '1' || env.BERTH_CLUSTER === 'true',
    registry: {
      host: registryHost(env.BERTH_REGISTRY_ADDR?.trim() || undefined),
      port: int(env, 'BERTH_REGISTRY_PORT', 5000),
      dockerCertsDir: env.BERTH_DOCKER_CERTS_DIR?.trim() || '/etc/docker/certs.d',
      bin: env.BERTH_REGISTRY_BIN?.trim() || '/usr/bin/docker-registry',
    },
    routerDomain,
    routerHttpPort: int(env, 'ROUTER_HTTP_PORT', 80),
    routerHttpsPort: int(env, 'ROUTER_HTTPS_PORT', 443),
    acmeEmail: env.ROUTER_ACME_EMAIL || undefined,
    acmeDirectory: acmeDirectory(env, egressAllow),
    acmeCaFile: env.ROUTER_ACME_CA_FILE || undefined,
    internalDomains: (env.ROUTER_INTERNAL_DOMAINS ?? '')
      .split(',')
      .map((d) => d.trim().toLowerCase().replace(/^\*?\./, '').replace(/\.$/, ''))
      .filter(Boolean),
    redirectHttps: env.ROUTER_REDIRECT_HTTPS === '1' || env.ROUTER_REDIRECT_HTTPS === 'true',
    routerAccessLog: env.ROUTER_ACCESS_LOG === '1' || env.ROUTER_ACCESS_LOG === 'true',
    buildConcurrency: Math.max(1, Number.parseInt(env.BERTH_BUILD_CONCURRENCY ?? '2', 10) || 2),
    adminPassword: env.BERTH_ADMIN_PASSWORD || undefined,
    secretKey: env.BERTH_SECRET_KEY || undefined,
    logLevel: env.LOG_LEVEL ?? 'info',
    bodyLimit: 1024 * 1024,
    build: buildSettings(env),
    notifications: {
      retryBaseMs: positive(env, 'BERTH_NOTIFY_RETRY_BASE_MS', 1000),
      maxAttempts: Math.ceil(positive(env, 'BERTH_NOTIFY_MAX_ATTEMPTS', 6)),
      timeoutMs: positive(env, 'BERTH_NOTIFY_TIMEOUT_S', 10) * 1000,
    },
    alerts: { timeScale: positive(env, 'BERTH_ALERT_TIME_SCALE', 1) },
    drains: {
      bufferLines: Math.ceil(positive(env, 'BERTH_DRAIN_BUFFER_LINES', 10_000)),
      bufferBytes: Math.ceil(positive(env, 'BERTH_DRAIN_BUFFER_MB', 8) * 1024 * 1024),
      retryBaseMs: positive(env, 'BERTH_DRAIN_RETRY_BASE_MS', 1000),
      retryMaxMs: positive(env, 'BERTH_DRAIN_RETRY_MAX_MS', 30_000),
    },
    logs: {
      retentionDays: positive(env, 'BERTH_LOG_RETENTION_DAYS', 7),
      retentionBytes: Math.ceil(positive(env, 'BERTH_LOG_RETENTION_MB', 100) * 1024 * 1024),
      bufferLines: Math.ceil(positive(env, 'BERTH_LOG_BUFFER_LINES', 50_000)),
    },
    egressAllow,
    controlHosts: hostList(env.BERTH_CONTROL_HOSTS ?? `${routerDomain},${hostname()},localhost`),
    dnsResolver: env.BERTH_DNS_RESOLVER?.trim() || undefined,
    domainVerify: domainVerify(env.BERTH_DOMAIN_VERIFY),
    addonImages: {
      postgres: {
        versions: {
          '17': env.BERTH_ADDON_POSTGRES17_IMAGE?.trim() || 'berth/addon-postgres:17',
          '15': env.BERTH_ADDON_POSTGRES_IMAGE?.trim() || 'berth/addon-postgres:15',
        },
        // An operator who set their own PostgreSQL image before 17 was offered keeps it for new add-ons.
        default: addonDefaultVersion(
          env.BERTH_ADDON_POSTGRES_VERSION ?? (env.BERTH_ADDON_POSTGRES_IMAGE?.trim() && !env.BERTH_ADDON_POSTGRES17_IMAGE?.trim() ? '15' : undefined),
          ['17', '15'],
          'BERTH_ADDON_POSTGRES_VERSION',
        ),
      },
      redis: { versions: { '7': env.BERTH_ADDON_REDIS_IMAGE?.trim() || 'berth/addon-redis:7' }, default: '7' },
    },
    access: accessSettings(env),
    sharedImages: (env.BERTH_SHARED_IMAGES ?? '')
      .split(',')
      .map((p) => p.trim().toLowerCase())
      .filter(Boolean),
  };
}

// Where things live under the data directory: one place, for the handlers and the controllers.
/** Where a build keeps its source while it waits and runs; removed when it finishes. */
export const buildDir = (dataDir: string, buildId: string) => join(dataDir, 'builds', buildId);
/** Bare repositories of the apps' git remotes. */
export const gitRoot = (dataDir: string) => join(dataDir, 'git');
/** Cluster mode's image registry: its config, credentials, certificate, process files and storage. */
export const registryDir = (dataDir: string) => join(dataDir, 'registry');
export const bareRepo = (dataDir: string, appId: string) => join(gitRoot(dataDir), `${appId}.git`);

/** An add-on type's images by major version ('17': image), and the version a new add-on gets. */
export interface AddonImages {
  versions: Record<string, string>;
  default: string;
}

function addonDefaultVersion(value: string | undefined, offered: string[], name: string): string {
  const v = value?.trim() || offered[0]!;
  if (!offered.includes(v)) throw new Error(`${name} must be one of ${offered.join(', ')}`);
  return v;
}
