import { Resolver, lookup } from 'node:dns/promises';
import { request } from 'node:http';
import { isIP } from 'node:net';
import { CHALLENGE_PREFIX } from '../router/routes.js';
import type { DomainRow } from '../store/domains.js';

// Where the router answers a domain's check token: the router serves it (router/routes.ts, next to
// the Router interface), the check fetches it.
export { CHALLENGE_PREFIX };

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why a hostname cannot be a custom domain, or null when it can. */
export function hostnameProblem(hostname: string, platformDomain: string): string | null {
  const h = hostname.toLowerCase();
  if (h.length > 253) return 'is longer than 253 characters';
  if (isIP(h)) return 'is an IP address; give a DNS name';
  const labels = h.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return 'must be a DNS name like www.example.com';
  if (h === platformDomain) return `is the platform's own domain`;
  if (labels.length === platformDomain.split('.').length + 1 && h.endsWith(`.${platformDomain}`)) {
    return `is an app address on this platform (<slug>.${platformDomain}); pick a name outside it`;
  }
  return null;
}

/**
 * True when a host is one the dashboard and API are served at (BERTH_CONTROL_HOSTS): no app may be
 * routed at it, or the router would forward the admin's session cookie to that app.
 */
export const isControlHost = (host: string, controlHosts: readonly string[]) => controlHosts.includes(host.toLowerCase().replace(/\.$/, ''));

/**
 * Addresses the name resolves to, asked of BERTH_DNS_RESOLVER when set (else the system's resolver).
 * `*.localhost` is loopback by definition (RFC 6761), whatever the resolver says.
 */
async function resolve(hostname: string, resolver?: string): Promise<string[]> {
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return ['127.0.0.1'];
  try {
    if (!resolver) return (await lookup(hostname, { all: true })).map((a) => a.address);
    const r = dnsResolver(resolver);
    const [v4, v6] = await Promise.all([r.resolve4(hostname).catch(() => []), r.resolve6(hostname).catch(() => [])]);
    return [...v4, ...v6];
  } catch {
    return [];
  }
}

function dnsResolver(server?: string): Resolver {
  const r = new Resolver({ timeout: 3000, tries: 2 });
  if (server) r.setServers([server]);
  return r;
}

/** The TXT record that proves a claim: `_berth-challenge.<hostname>` with the claim's token as its value. */
export const txtRecordName = (hostname: string) => `_berth-challenge.${hostname}`;

export interface CheckOptions {
  routerHttpPort: number;
  /** Which proofs count (BERTH_DOMAIN_VERIFY). */
  methods: ReadonlyArray<'dns' | 'http'>;
  /** host:port of the DNS server TXT records are asked of; unset: the system's. */
  resolver?: string;
}

export interface CheckResult {
  /** How the claim was proven, or null. */
  by: 'dns' | 'http' | null;
  message: string | null;
}

/** TXT values at `_berth-challenge.<hostname>` (each record's strings joined, as RFC 7208 reads them). */
async function txtValues(hostname: string, resolver?: string): Promise<string[]> {
  try {
    return (await dnsResolver(resolver).resolveTxt(txtRecordName(hostname))).map((parts) => parts.join('').trim());
  } catch {
    return [];
  }
}

/**
 * GET with the claim's host name in the Host header (the router answers per host; fetch() would send
 * the address instead), no redirect followed, 5 s at most, 4 KB of answer read.
 */
function getText(address: string, port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: address, port, path, headers: { host }, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
        if (body.length > 4096) res.destroy();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
    req.on('error', reject);
    req.end();
  });
}

/** The router answers the claim's token for its own host: proves the name's DNS leads here. */
async function httpProof(d: DomainRow, routerHttpPort: number, resolver?: string): Promise<{ ok: boolean; addresses: string[] }> {
  const addresses = await resolve(d.hostname, resolver);
  for (const address of addresses) {
    const answer = await getText(address, routerHttpPort, `${CHALLENGE_PREFIX}${d.token}`, d.hostname).catch(() => null);
    if (answer?.status === 200 && answer.body.trim() === d.token) return { ok: true, addresses };
  }
  return { ok: false, addresses };
}

/**
 * A claim is verified by proof made for it alone: a TXT record `_berth-challenge.<hostname>` holding
 * its token (proves control of the name's DNS zone), or, when the admin allows it, the router's
 * answer of its token for that host (proves only that the name's DNS leads here).
 */
export async function checkDomain(d: DomainRow, o: CheckOptions): Promise<CheckResult> {
  if (o.methods.includes('dns') && (await txtValues(d.hostname, o.resolver)).includes(d.token)) return { by: 'dns', message: null };
  const txt = `add a TXT record ${txtRecordName(d.hostname)} with the value ${d.token}`;
  if (!o.methods.includes('http')) return { by: null, message: `no TXT record ${txtRecordName(d.hostname)} holds this claim's token; ${txt}` };
  const http = await httpProof(d, o.routerHttpPort, o.resolver);
  if (http.ok) return { by: 'http', message: null };
  const where = http.addresses.length
    ? `${d.hostname} resolves to ${http.addresses.join(', ')}, which did not answer the check at ${CHALLENGE_PREFIX}${d.token}`
    : `${d.hostname} does not resolve`;
  return { by: null, message: `${where}; ${o.methods.includes('dns') ? `${txt}, or ` : ''}point its DNS at this server` };
}
