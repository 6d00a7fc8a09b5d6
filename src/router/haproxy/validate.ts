import { isIP } from 'node:net';
import { HEALTH_PATH } from '../routes.js';
import type { Certificate, Route } from '../types.js';

/**
 * Every value that ends up in a line sent to HAProxy's runtime API (or in its config and map files)
 * passes one of these strict grammars first. The runtime API splits commands on ';' and newlines and
 * words on spaces, so a value that could hold any of them would let one route rewrite another's.
 */
export class RouterInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'RouterInputError';
  }
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62})$/;
const CERT_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;
const KEY_AUTH = /^[A-Za-z0-9_-]{1,256}\.[A-Za-z0-9_-]{1,256}$/;
const PEM_LINE = /^(?:-----(?:BEGIN|END) [A-Z0-9 ]{1,40}-----|[A-Za-z0-9+/=]{1,128}|[A-Za-z-]{1,40}: [A-Za-z0-9,-]{1,80})$/;

export function hostname(value: unknown, field: string, wildcard = false): string {
  if (typeof value !== 'string') throw new RouterInputError(field, 'must be a string');
  const v = value.endsWith('.') ? value.slice(0, -1) : value;
  if (v.length === 0 || v.length > 253) throw new RouterInputError(field, 'must be a DNS name of 1 to 253 characters');
  const labels = v.split('.');
  const rest = wildcard && labels[0] === '*' && labels.length > 2 ? labels.slice(1) : labels;
  for (const label of rest) {
    if (!LABEL.test(label)) {
      throw new RouterInputError(field, 'must be lowercase DNS labels of letters, digits and inner hyphens, 1 to 63 characters each');
    }
  }
  return v;
}

export function slug(value: unknown, field: string): string {
  if (typeof value !== 'string' || !SLUG.test(value)) throw new RouterInputError(field, 'must be 1 to 63 lowercase letters, digits and hyphens');
  return value;
}

/** "ipv4:port" or "[ipv6]:port"; returns the address and port apart, as `set server ... addr A port P` wants them. */
export function upstream(value: unknown, field: string): { addr: string; port: number } {
  if (typeof value !== 'string' || value.length > 64) throw new RouterInputError(field, 'must be "ip:port"');
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3})|\[([0-9a-fA-F:.]{2,45})\]):(\d{1,5})$/.exec(value);
  const addr = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !addr || isIP(addr) === 0 || !(port >= 1 && port <= 65535)) throw new RouterInputError(field, 'must be "ip:port"');
  return { addr, port };
}

export function path(value: unknown, field: string): string {
  if (typeof value !== 'string' || !HEALTH_PATH.test(value)) {
    throw new RouterInputError(field, 'must be a URL path starting with "/", without spaces, quotes, ";", "#" or "\\" (1024 characters at most)');
  }
  return value;
}

export function token(value: unknown, field: string): string {
  if (typeof value !== 'string' || !TOKEN.test(value)) throw new RouterInputError(field, 'must be 1 to 256 letters, digits, "_" or "-"');
  return value;
}

export function keyAuthorization(value: unknown, field: string): string {
  if (typeof value !== 'string' || !KEY_AUTH.test(value)) throw new RouterInputError(field, 'must be "<token>.<thumbprint>" in base64url');
  return value;
}

export function drainMs(value: unknown, field: string): number {
  if (value === undefined) return 30_000;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 3_600_000) {
    throw new RouterInputError(field, 'must be a whole number of milliseconds from 0 to 3600000');
  }
  return value;
}

/** PEM text as HAProxy's `set ssl cert <<` payload wants it: no blank line (that ends the payload), no '\r'. */
export function pem(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length > 64 * 1024) throw new RouterInputError(field, 'must be PEM text');
  const lines = value.replace(/\r/g, '').split('\n').filter((l) => l !== '');
  if (lines.length < 3 || !lines.every((l) => PEM_LINE.test(l))) throw new RouterInputError(field, 'must be PEM text');
  return `${lines.join('\n')}\n`;
}

/** A whole route checked at once, before anything is sent: a bad route changes nothing. */
export function route(r: Route, i: number): Required<Route> {
  const at = `routes[${i}]`;
  if (!Array.isArray(r.hosts) || !Array.isArray(r.upstreams)) throw new RouterInputError(at, 'hosts and upstreams must be arrays');
  const hosts = r.hosts.map((h, j) => hostname(String(h).toLowerCase(), `${at}.hosts[${j}]`));
  r.upstreams.forEach((u, j) => upstream(u, `${at}.upstreams[${j}]`));
  return {
    app: slug(r.app, `${at}.app`),
    hosts: [...new Set(hosts)].sort(),
    upstreams: [...new Set(r.upstreams)].sort(),
    healthPath: r.healthPath === undefined ? '/' : path(r.healthPath, `${at}.healthPath`),
    drainTimeoutMs: drainMs(r.drainTimeoutMs, `${at}.drainTimeoutMs`),
  };
}

export function certificate(c: Certificate, i: number): Certificate {
  const at = `certificates[${i}]`;
  if (typeof c.name !== 'string' || !CERT_NAME.test(c.name)) throw new RouterInputError(`${at}.name`, 'must match ^[a-z0-9][a-z0-9-]{0,62}$');
  if (!Array.isArray(c.hosts) || c.hosts.length === 0) throw new RouterInputError(`${at}.hosts`, 'must list at least one name');
  return {
    name: c.name,
    hosts: c.hosts.map((h, j) => hostname(h, `${at}.hosts[${j}]`, true)),
    certPem: pem(c.certPem, `${at}.certPem`),
    keyPem: pem(c.keyPem, `${at}.keyPem`),
  };
}
