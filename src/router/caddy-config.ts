import { isIP } from 'node:net';
import type { Route } from './types.js';

/** Caddy's JSON config, kept loose: Caddy validates it, we only build and read back our own shape. */
export type CaddyConfig = Record<string, unknown>;

export interface CaddyConfigOptions {
  /** Admin listen address in Caddy's syntax ("127.0.0.1:2019", "unix//path/sock"). */
  admin: string;
  /** Root of Caddy's storage (certificates, internal CA, locks). */
  storageDir: string;
  httpPort: number;
  httpsPort: number;
  /** Interface the HTTP and HTTPS servers bind; empty = all interfaces. */
  listenHost?: string;
  /** Contact for ACME (Let's Encrypt) certificates of public hostnames. */
  acmeEmail?: string;
  /** Use Caddy's internal CA for every hostname, public or not (no ACME at all). */
  internalTls?: boolean;
  /** Answer plain HTTP for routed hosts with a redirect to HTTPS. */
  redirectHttps?: boolean;
  /** How long superseded servers may finish in-flight requests after a reload (Caddy duration). */
  gracePeriod?: string;
}

/** Marks the handler that carries the app slug, so current() can read routes back from Caddy. */
const APP_VAR = 'berth_app';
const HTTP_SERVER = 'berth_http';
const HTTPS_SERVER = 'berth_https';

// Names that no public CA will certify: ACME would only fail and retry, so Caddy's own CA signs them.
const PRIVATE_SUFFIXES = ['.localhost', '.local', '.internal', '.test', '.example', '.invalid', '.home.arpa', '.lan'];

export function isPrivateHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || isIP(h) !== 0 || !h.includes('.')) return true;
  return PRIVATE_SUFFIXES.some((s) => h.endsWith(s));
}

/** The minimal config Caddy starts with: our admin endpoint and storage, autosave on, no sites yet. */
export function baseConfig(opts: Pick<CaddyConfigOptions, 'admin' | 'storageDir'>): CaddyConfig {
  return {
    admin: { listen: opts.admin, config: { persist: true } },
    storage: { module: 'file_system', root: opts.storageDir },
  };
}

/** Where a custom domain's HTTP check finds its token (the control plane asks for it through DNS). */
export const CHALLENGE_PREFIX = '/.well-known/berth-verify/';

function challengeRoute(token: string): unknown {
  return {
    match: [{ path: [`${CHALLENGE_PREFIX}${token}`] }],
    handle: [{ handler: 'static_response', status_code: 200, body: token, headers: { 'Content-Type': ['text/plain'] } }],
    terminal: true,
  };
}

export function buildConfig(routes: readonly Route[], opts: CaddyConfigOptions, challenges: readonly string[] = []): CaddyConfig {
  const sorted = normalizeRoutes(routes);
  const host = opts.listenHost ?? '';
  const checks = [...new Set(challenges)].sort().map(challengeRoute);
  const httpRoutes = [...checks, ...sorted.map((r) => (opts.redirectHttps ? redirectRoute(r, opts.httpsPort) : siteRoute(r)))];
  const httpsRoutes = [...checks, ...sorted.map(siteRoute)];
  const allHosts = sorted.flatMap((r) => r.hosts);
  const internalHosts = allHosts.filter((h) => opts.internalTls || isPrivateHost(h));
  const publicHosts = allHosts.filter((h) => !internalHosts.includes(h));

  const policies: unknown[] = [];
  if (internalHosts.length) policies.push({ subjects: internalHosts, issuers: [{ module: 'internal' }] });
  if (publicHosts.length) {
    policies.push({
      subjects: publicHosts,
      issuers: [{ module: 'acme', ...(opts.acmeEmail ? { email: opts.acmeEmail } : {}) }],
    });
  }

  return {
    ...baseConfig(opts),
    apps: {
      http: {
        http_port: opts.httpPort,
        https_port: opts.httpsPort,
        ...(opts.gracePeriod ? { grace_period: opts.gracePeriod } : {}),
        servers: {
          [HTTP_SERVER]: {
            listen: [`${host}:${opts.httpPort}`],
            routes: [...httpRoutes, notFoundRoute()],
            // Redirects, when wanted, are our own routes: Caddy's would be appended after our catch-all 404.
            automatic_https: { disable_redirects: true },
          },
          [HTTPS_SERVER]: {
            listen: [`${host}:${opts.httpsPort}`],
            routes: [...httpsRoutes, notFoundRoute()],
            automatic_https: { disable_redirects: true },
          },
        },
      },
      tls: { automation: { policies } },
      // Caddy would otherwise try to install its root CA into the machine's trust store.
      pki: { certificate_authorities: { local: { install_trust: false } } },
    },
  };
}

/** Reads back the routes buildConfig wrote; anything else in the config is ignored. */
export function routesFromConfig(config: unknown): Route[] {
  const routes = dig(config, ['apps', 'http', 'servers', HTTPS_SERVER, 'routes']);
  if (!Array.isArray(routes)) return [];
  const out: Route[] = [];
  for (const r of routes) {
    const handle = (r as { handle?: unknown[] }).handle ?? [];
    const vars = handle.find((h) => (h as { handler?: string }).handler === 'vars') as Record<string, unknown> | undefined;
    const app = vars?.[APP_VAR];
    if (typeof app !== 'string') continue;
    const hosts = dig(r, ['match', 0, 'host']);
    const proxy = handle.find((h) => (h as { handler?: string }).handler === 'reverse_proxy') as
      | { upstreams?: { dial?: string }[] }
      | undefined;
    out.push({
      app,
      hosts: Array.isArray(hosts) ? hosts.map(String) : [],
      upstreams: (proxy?.upstreams ?? []).map((u) => String(u.dial)),
    });
  }
  return out;
}

/** A canonical order, so the same routes always make the same config (and apply() can skip a no-op). */
export function normalizeRoutes(routes: readonly Route[]): Route[] {
  return routes
    .map((r) => ({
      app: r.app,
      hosts: [...new Set(r.hosts.map((h) => h.toLowerCase()))].sort(),
      upstreams: [...new Set(r.upstreams)].sort(),
    }))
    .filter((r) => r.hosts.length > 0)
    .sort((a, b) => cmp(a.app, b.app) || cmp(a.hosts[0], b.hosts[0]));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function siteRoute(r: Route): unknown {
  const tag = { handler: 'vars', [APP_VAR]: r.app };
  if (r.upstreams.length === 0) {
    return { match: [{ host: r.hosts }], handle: [tag, unavailable(r.app)], terminal: true };
  }
  return {
    match: [{ host: r.hosts }],
    handle: [
      tag,
      {
        handler: 'reverse_proxy',
        upstreams: r.upstreams.map((dial) => ({ dial })),
        // No flush_interval: Caddy already flushes at once for SSE and unknown-length (chunked)
        // responses, and in Caddy 2.6 `-1` registers EVERY response as a stream that a config
        // reload aborts (caddyserver/caddy#5663), which turned each deploy into a burst of 502s.
        load_balancing: {
          selection_policy: { policy: 'round_robin' },
          // An upstream that just went away (refused dial) is retried on another one within this
          // window instead of failing the request: this is what makes a rolling swap drop nothing.
          try_duration: '5s',
          try_interval: '50ms',
        },
        // A replica that refused a connection is skipped for a while rather than dialed per request.
        health_checks: { passive: { fail_duration: '5s', max_fails: 1 } },
      },
    ],
    terminal: true,
  };
}

function redirectRoute(r: Route, httpsPort: number): unknown {
  const port = httpsPort === 443 ? '' : `:${httpsPort}`;
  return {
    match: [{ host: r.hosts }],
    handle: [
      { handler: 'vars', [APP_VAR]: r.app },
      {
        handler: 'static_response',
        status_code: 308,
        headers: { Location: [`https://{http.request.host}${port}{http.request.uri}`] },
      },
    ],
    terminal: true,
  };
}

function unavailable(app: string): unknown {
  const name = escapeHtml(app);
  return {
    handler: 'static_response',
    status_code: 503,
    headers: { 'Content-Type': ['text/html; charset=utf-8'], 'Retry-After': ['5'], 'Cache-Control': ['no-store'] },
    body: page('503 Service Unavailable', `The app <b>${name}</b> has no running instance right now.`),
  };
}

function notFoundRoute(): unknown {
  return {
    handle: [
      {
        handler: 'static_response',
        status_code: 404,
        headers: { 'Content-Type': ['text/html; charset=utf-8'] },
        body: page('404 Not Found', 'No app is served at this address.'),
      },
    ],
  };
}

function page(title: string, text: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p><p><small>Berth</small></p></body></html>\n`;
}

function escapeHtml(s: string): string {
  // Braces too: Caddy would read them as placeholders in a static_response body.
  return s.replace(/[&<>"'{}]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function dig(v: unknown, path: (string | number)[]): unknown {
  let cur = v;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}
