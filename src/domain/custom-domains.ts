import { lookup } from 'node:dns/promises';
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

/** Addresses the name resolves to. `*.localhost` is loopback by definition (RFC 6761), whatever the resolver says. */
async function resolve(hostname: string): Promise<string[]> {
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return ['127.0.0.1'];
  try {
    return (await lookup(hostname, { all: true })).map((a) => a.address);
  } catch {
    return [];
  }
}

/**
 * A domain is verified when its DNS leads to this platform's router: the router answers the domain's
 * token at a well-known path, and we ask for it at the addresses the name resolves to.
 */
export async function checkDomain(d: DomainRow, routerHttpPort: number): Promise<{ ok: boolean; message: string | null }> {
  const addresses = await resolve(d.hostname);
  if (addresses.length === 0) return { ok: false, message: `${d.hostname} does not resolve; point its DNS (A, AAAA or CNAME) at this server` };
  for (const address of addresses) {
    const host = isIP(address) === 6 ? `[${address}]` : address;
    try {
      const res = await fetch(`http://${host}:${routerHttpPort}${CHALLENGE_PREFIX}${d.token}`, {
        headers: { host: d.hostname },
        redirect: 'manual',
        signal: AbortSignal.timeout(5000),
      });
      if (res.status === 200 && (await res.text()).trim() === d.token) return { ok: true, message: null };
    } catch {
      /* try the next address */
    }
  }
  return {
    ok: false,
    message: `${d.hostname} resolves to ${addresses.join(', ')}, which did not answer the check at ${CHALLENGE_PREFIX}${d.token}; point its DNS at this server`,
  };
}
