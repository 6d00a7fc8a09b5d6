import { hostPortProblem } from '../lib/hostport.js';
import type { VendorKind, VendorAccountsTable } from '../store/schema-integrations.js';

export const VENDORS: readonly VendorKind[] = ['github', 'gitlab', 'bitbucket'];

const DEFAULT_HOST: Record<VendorKind, string> = { github: 'github.com', gitlab: 'gitlab.com', bitbucket: 'bitbucket.org' };
// The usernames each provider documents for token authentication over HTTPS.
const TOKEN_USER: Record<VendorKind, string> = { github: 'x-access-token', gitlab: 'oauth2', bitbucket: 'x-token-auth' };

/** A problem with a vendor account's fields, naming the field, or null. */
export function vendorProblem(vendor: VendorKind, host: string | undefined): { field: string; message: string } | null {
  if (host === undefined) return null;
  const bad = hostPortProblem(host);
  if (bad) return { field: 'host', message: `host ${bad}` };
  if (vendor !== 'gitlab' && host.toLowerCase() !== DEFAULT_HOST[vendor]) {
    // GitHub Enterprise and Bitbucket Server use other APIs; only GitLab is self-hosted with the same one.
    return { field: 'host', message: `${vendor} accounts are for ${DEFAULT_HOST[vendor]}; only gitlab takes another host` };
  }
  return null;
}

export const vendorHost = (vendor: VendorKind, host?: string) => (host ?? DEFAULT_HOST[vendor]).toLowerCase();
export const vendorUser = (vendor: VendorKind, username?: string) => username ?? TOKEN_USER[vendor];

const isLoopback = (hostname: string) => hostname === 'localhost' || /^127\./.test(hostname) || hostname === '[::1]';

/**
 * Why the account's credentials may not be used for this repository URL, or null. They go only to
 * the account's own host, over HTTPS (plain HTTP only to this machine), so a URL cannot send a
 * token elsewhere; and a URL with its own password is refused (it would be stored).
 */
export function repoProblem(repoUrl: string, account: Pick<VendorAccountsTable, 'host' | 'vendor'> | null): string | null {
  const web = /^https?:\/\//i.test(repoUrl);
  if (web) {
    const u = new URL(repoUrl);
    if (u.password) return 'must not contain a password: add a vendor account (berth vendors add) and name it as the source vendor';
    if (!account) return null;
    if (u.host.toLowerCase() !== account.host) return `is on ${u.host}, but the ${account.vendor} account is for ${account.host}`;
    if (u.protocol !== 'https:' && !isLoopback(u.hostname)) return 'must use https when it names a vendor account (the token would travel in clear)';
    return null;
  }
  return account ? 'must be an https URL to use a vendor account (tokens are sent over HTTPS)' : null;
}
