import { createRequire } from 'node:module';

type Tldts = typeof import('tldts');
let tldts: Tldts | undefined;
/**
 * The public-suffix list (~12 MB resident) is loaded the first time a name needs classifying, i.e.
 * only once ACME is set up: a control plane that issues from its own CA alone never holds it.
 * Synchronous (tldts ships CommonJS), so the policy stays a plain function.
 */
const publicSuffixes = (): Tldts => (tldts ??= createRequire(import.meta.url)('tldts') as Tldts);

export type Issuer = 'berth-ca' | 'acme';

/** Renew this long before a certificate expires (Let's Encrypt's advice for 90-day certificates). */
export const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * A private name is one no public CA can validate: `localhost` and `*.localhost`, names whose last
 * label is not a public suffix (`.internal`, `.lan`, `.test`, ...), and names under a domain the
 * operator marks internal (ROUTER_INTERNAL_DOMAINS).
 */
export function isPrivateName(host: string, internalDomains: readonly string[] = []): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (internalDomains.some((d) => h === d || h.endsWith(`.${d}`))) return true;
  const p = publicSuffixes().parse(h, { allowPrivateDomains: false });
  // An IP address, or a suffix no ICANN rule knows, cannot get a public certificate.
  return p.isIp === true || p.isIcann !== true || !p.domain;
}

/** Who signs a host's certificate: ACME for public names when ACME is set up (an account email), otherwise Berth's CA. */
export function issuerFor(host: string, opts: { acme: boolean; internalDomains?: readonly string[] }): Issuer {
  return opts.acme && !isPrivateName(host, opts.internalDomains) ? 'acme' : 'berth-ca';
}

/** Whether a certificate expiring at notAfter should be replaced now. */
export function renewalDue(notAfter: Date, now: Date, renewBeforeMs = RENEW_BEFORE_MS): boolean {
  return notAfter.getTime() - now.getTime() <= renewBeforeMs;
}

/** Wait before the n-th retry of a failed issuance (n >= 1): 1 min, doubling, at most 6 h. */
export function retryDelayMs(attempt: number): number {
  return Math.min(60_000 * 2 ** Math.max(0, attempt - 1), 6 * 60 * 60 * 1000);
}
