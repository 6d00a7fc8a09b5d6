import type { Route } from './types.js';

/**
 * A canonical form of a route set (sorted, deduplicated, defaults filled in), so the set the
 * database describes and the set the router reports compare equal when they mean the same.
 */
export function normalizeRoutes(routes: readonly Route[]): Required<Route>[] {
  return routes
    .map((r) => ({
      app: r.app,
      hosts: [...new Set(r.hosts.map((h) => h.toLowerCase()))].sort(),
      upstreams: [...new Set(r.upstreams)].sort(),
      healthPath: r.healthPath ?? '/',
      drainTimeoutMs: r.drainTimeoutMs ?? 30_000,
    }))
    .filter((r) => r.hosts.length > 0)
    .sort((a, b) => cmp(a.app, b.app) || cmp(a.hosts[0], b.hosts[0]));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A health path the router can send: RFC 3986 path and query characters minus those HAProxy's
 * runtime API or a map file would read as syntax (';', '#', quotes, '\\', spaces).
 */
export const HEALTH_PATH = /^\/[A-Za-z0-9._~!$&()*+,=:@%/?-]{0,1023}$/;

/** Where a custom domain's HTTP check finds its token: the router answers it on every host. */
export const CHALLENGE_PREFIX = '/.well-known/berth-verify/';
