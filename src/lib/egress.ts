import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { networkInterfaces } from 'node:os';

/**
 * Berth's one egress rule for requests the control plane (or the engine, for it) makes to addresses
 * a user chose: notification webhooks, git URLs, vendor and registry hosts, image references, the
 * ACME directory. Loopback, link-local, private, shared (CGNAT), unique-local, multicast, reserved
 * and the host's own addresses are refused unless the admin allows the host or network
 * (BERTH_EGRESS_ALLOW). Checked when the value is given (checkUrl/checkHost) and again on the
 * address a name resolves to when connecting (guardedLookup, checkResolved): DNS rebinding does not
 * get past it.
 */

/** The message every refusal carries, and all a delivery's error says: never the connect error of an internal address. */
export const REFUSED = "refused by Berth's egress rule";

export class EgressRefused extends Error {
  constructor(
    readonly field: string,
    readonly target: string,
  ) {
    super(`${field} ${target} is ${REFUSED} (an internal or local address); an admin can allow it with BERTH_EGRESS_ALLOW`);
    this.name = 'EgressRefused';
  }
}

interface Net {
  v6: boolean;
  base: bigint;
  bits: number;
}

export interface EgressAllow {
  hosts: Set<string>;
  nets: Net[];
}

/** An IPv4 or IPv6 address as a number (v4: 32 bits, v6: 128 bits), or null. */
function parseIp(raw: string): { v6: boolean; n: bigint } | null {
  const ip = raw.replace(/^\[|\]$/g, '').split('%')[0];
  const kind = isIP(ip);
  if (kind === 4) return { v6: false, n: ip.split('.').reduce((a, p) => (a << 8n) | BigInt(Number(p)), 0n) };
  if (kind !== 6) return null;
  let text = ip;
  // A dotted tail (::ffff:127.0.0.1) is two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = parseIp(dotted[1])!.n;
    text = `${text.slice(0, -dotted[1].length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return { v6: true, n: groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g || '0', 16)), 0n) };
}

function net(cidr: string): Net {
  const [addr, len] = cidr.split('/');
  const ip = parseIp(addr);
  if (!ip) throw new Error(`"${cidr}" is not an address or CIDR`);
  const max = ip.v6 ? 128 : 32;
  const bits = len === undefined ? max : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > max) throw new Error(`"${cidr}" has a bad prefix length`);
  return { v6: ip.v6, base: ip.n >> BigInt(max - bits), bits };
}

const inNet = (ip: { v6: boolean; n: bigint }, nw: Net) => ip.v6 === nw.v6 && ip.n >> BigInt((ip.v6 ? 128 : 32) - nw.bits) === nw.base;

const INTERNAL = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24',
  '192.0.2.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4',
  '::/128', '::1/128', 'fc00::/7', 'fe80::/10', 'fec0::/10', 'ff00::/8', '100::/64', '2001:db8::/32',
].map(net);

/** IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4): judged by that IPv4 address. */
function embeddedV4(ip: { v6: boolean; n: bigint }): { v6: boolean; n: bigint } | null {
  if (!ip.v6) return null;
  if (ip.n >> 32n === 0xffffn || ip.n >> 32n === 0n) return { v6: false, n: ip.n & 0xffffffffn };
  if (ip.n >> 32n === 0x0064ff9b0000000000000000n) return { v6: false, n: ip.n & 0xffffffffn };
  if (ip.n >> 112n === 0x2002n) return { v6: false, n: (ip.n >> 80n) & 0xffffffffn };
  return null;
}

/** BERTH_EGRESS_ALLOW: comma-separated host names, addresses and CIDRs. */
export function parseEgressAllow(raw: string | undefined): EgressAllow {
  const allow: EgressAllow = { hosts: new Set(), nets: [] };
  for (const item of (raw ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    if (item.includes('/') || isIP(item.replace(/^\[|\]$/g, ''))) allow.nets.push(net(item.replace(/^\[|\]$/g, '')));
    else allow.hosts.add(item.replace(/\.$/, ''));
  }
  return allow;
}

function ownAddresses(): { v6: boolean; n: bigint }[] {
  return Object.values(networkInterfaces())
    .flat()
    .map((a) => (a ? parseIp(a.address) : null))
    .filter((a): a is { v6: boolean; n: bigint } => a !== null);
}

/** True when an address may be connected to: public, or allowed by the admin. */
export function addressAllowed(address: string, allow: EgressAllow): boolean {
  const ip = parseIp(address);
  if (!ip) return false;
  if (allow.nets.some((n) => inNet(ip, n))) return true;
  const v4 = embeddedV4(ip);
  if (v4 && v4.n !== 0n) return addressAllowed(`${(v4.n >> 24n) & 255n}.${(v4.n >> 16n) & 255n}.${(v4.n >> 8n) & 255n}.${v4.n & 255n}`, allow);
  if (INTERNAL.some((n) => inNet(ip, n))) return false;
  return !ownAddresses().some((o) => o.v6 === ip.v6 && o.n === ip.n);
}

const bare = (host: string) => host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
const isLocalName = (h: string) => h === 'localhost' || h.endsWith('.localhost');

/**
 * Input-time check of a host (no DNS): an address literal must be allowed; "localhost" names are
 * loopback (RFC 6761). Names are checked again on their resolved address when connected to.
 */
export function checkHost(host: string, field: string, allow: EgressAllow): void {
  const h = bare(host);
  if (allow.hosts.has(h)) return;
  if (isLocalName(h)) {
    if (!addressAllowed('127.0.0.1', allow)) throw new EgressRefused(field, host);
    return;
  }
  // Numeric forms the URL parser or a resolver reads as IPv4 (2130706433, 0x7f.1) are normalised by URL; reject the rest.
  if (isIP(h)) {
    if (!addressAllowed(h, allow)) throw new EgressRefused(field, host);
    return;
  }
  if (/^[0-9.]+$/.test(h) || /^0x/i.test(h)) throw new EgressRefused(field, host);
}

/** Input-time check of a URL's host. */
export function checkUrl(url: string, field: string, allow: EgressAllow): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return; // the caller's own validation names a URL that does not parse
  }
  checkHost(u.hostname, field, allow);
}

/**
 * Connect-time: the addresses `host` resolves to that are allowed (all of them when the host itself
 * is allowed by name: then [] and the caller resolves as usual); none allowed is a refusal.
 */
export async function checkResolved(host: string, field: string, allow: EgressAllow): Promise<string[]> {
  checkHost(host, field, allow);
  const h = bare(host);
  if (isIP(h)) return [h];
  if (allow.hosts.has(h)) return [];
  const addrs = await new Promise<string[]>((ok, fail) =>
    dnsLookup(h, { all: true }, (err, a) => (err ? fail(err) : ok(a.map((x) => x.address)))),
  );
  const ok = addrs.filter((a) => addressAllowed(a, allow));
  if (ok.length === 0) throw new EgressRefused(field, host);
  return ok;
}

/**
 * A `lookup` for http(s) agents and sockets: resolves, keeps only the allowed addresses and refuses
 * (EgressRefused) when none is, so a connection only ever goes to an address the rule checked.
 */
export function guardedLookup(field: string, allow: EgressAllow): LookupFunction {
  return (hostname, options, callback) => {
    const h = bare(hostname);
    dnsLookup(h, { ...options, all: true }, (err, addrs) => {
      if (err) return callback(err, '', 0);
      const ok = allow.hosts.has(h) ? addrs : addrs.filter((a) => addressAllowed(a.address, allow));
      if (ok.length === 0) return callback(Object.assign(new EgressRefused(field, hostname), { code: 'EGRESS_REFUSED' }), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: typeof ok) => void)(null, ok);
      callback(null, ok[0].address, ok[0].family);
    });
  };
}

/**
 * One HTTP(S) request under the rule: the URL's host is checked, the connection's resolved address
 * is checked by guardedLookup, redirects are not followed (a 3xx is the answer). Resolves to the
 * status; rejects with EgressRefused, a TimeoutError, or the connection's error.
 */
export async function egressRequest(
  url: string,
  o: { method: string; headers: Record<string, string>; body?: string; timeoutMs: number; field: string; allow: EgressAllow },
): Promise<number> {
  checkUrl(url, o.field, o.allow);
  const u = new URL(url);
  const { request } = u.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise<number>((resolve, reject) => {
    const req = request(u, { method: o.method, headers: o.headers, lookup: guardedLookup(o.field, o.allow), agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(res.statusCode ?? 0));
    });
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer in ${o.timeoutMs} ms`), { name: 'TimeoutError' })), o.timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', (err) => reject(err instanceof EgressRefused || (err as { code?: string }).code === 'EGRESS_REFUSED' ? new EgressRefused(o.field, u.host) : err));
    req.end(o.body);
  });
}
