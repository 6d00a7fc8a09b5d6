import { join } from 'node:path';
import { CHALLENGE_PREFIX } from '../routes.js';
import type { RouterState } from './state.js';

export interface ConfigOptions {
  /** Directory of every HAProxy file of this Berth data directory. */
  dir: string;
  httpPort: number;
  httpsPort: number;
  /** Interface the public listeners bind; empty = all. */
  listenHost?: string;
  redirectHttps?: boolean;
  /** Upper bound on how long a worker replaced by a reload keeps its old connections (seconds). */
  hardStopAfterS: number;
  /** Unprivileged user the workers run as (the master keeps root to bind ports and re-read files). */
  user?: string;
  /**
   * Cluster mode: the network namespace (a name under /var/run/netns) every server slot connects
   * from, where the replicas' overlay addresses answer (docs/cluster.md).
   */
  serverNamespace?: string;
  /** One line per request (HAProxy's httplog format) on stderr, i.e. haproxy.log in `dir`. */
  accessLog?: boolean;
}

/** The ring HAProxy writes each request's log line to, read by ./timing.ts. */
export const TIMING_RING = 'berth-timing';
/**
 * HAProxy's `option httplog` format (its documentation's equivalent log-format), then the address
 * and port of the server that answered: the replica a request reached, whoever owns the slot now.
 */
export const HTTPLOG_FORMAT = '%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r %si:%sp';

/** File names under ConfigOptions.dir. */
export const files = {
  config: 'haproxy.cfg',
  state: 'state.json',
  admin: 'admin.sock',
  master: 'master.sock',
  pid: 'haproxy.pid',
  log: 'haproxy.log',
  hosts: 'hosts.map',
  apps: 'apps.map',
  health: 'health.map',
  verify: 'verify.map',
  acme: 'acme.map',
  crtList: 'crt.list',
  certs: 'certs',
  defaultCert: 'certs/default.pem',
  notFound: '404.html',
  unavailable: '503.html',
} as const;

export function pathOf(dir: string, name: keyof typeof files): string {
  return join(dir, files[name]);
}

export type MapName = 'hosts' | 'apps' | 'health' | 'verify' | 'acme';

/** The entries of every map, as the state says they should be (key, value). */
export function mapEntries(state: RouterState): Record<MapName, [string, string][]> {
  const used = state.backends.filter((b) => b.app !== null);
  return {
    hosts: used.flatMap((b) => b.hosts.map((h): [string, string] => [h, b.name])),
    apps: used.map((b) => [b.name, b.app!]),
    health: used.map((b) => [b.name, b.healthPath]),
    // "<host>/<token>" -> token (router.ts builds the keys).
    verify: state.challenges.map((k) => [k, k.slice(k.indexOf('/') + 1)]),
    acme: Object.entries(state.acme),
  };
}

/** Map files: "key value" lines, as HAProxy loads them at start and `show map` lists them. */
export function renderMaps(state: RouterState): Record<MapName, string> {
  const e = mapEntries(state);
  const lines = (pairs: [string, string][]) => pairs.map(([k, v]) => `${k} ${v}\n`).join('');
  return { hosts: lines(e.hosts), apps: lines(e.apps), health: lines(e.health), verify: lines(e.verify), acme: lines(e.acme) };
}

export function renderCrtList(dir: string, state: RouterState): string {
  return state.certs.map((c) => `${join(dir, files.certs, `${c.name}.pem`)} ${c.hosts.join(' ')}\n`).join('');
}

/** berth_session and __Host-berth_session, in any case (a browser may send either; stripping a look-alike costs nothing). */
const SESSION = "(?i:(?:__host-)?berth_session)";

/**
 * The dashboard's session cookie never reaches an app: it is cut out of the Cookie header of every
 * request the router forwards, the app's own cookies are kept. Twice over, for a header carrying
 * both names; a header that still has one after that (a third copy) loses the whole Cookie header.
 */
function stripSessionCookie(): string[] {
  const inner = `  http-request replace-header Cookie '^(.*?);\\s*${SESSION}=[^;]*(.*)$' '\\1\\2'`;
  const first = `  http-request replace-header Cookie '^\\s*${SESSION}=[^;]*;?\\s*(.*)$' '\\1'`;
  return [
    inner, first, inner, first,
    `  http-request del-header Cookie if { req.hdr(cookie) -m reg '(^|;)\\s*${SESSION}=' }`,
    '  http-request del-header Cookie if { req.fhdr_cnt(cookie) eq 1 } { req.fhdr(cookie) -m len 0 }',
  ];
}

/**
 * The whole configuration: one frontend for HTTP and HTTPS, a pool of preallocated backends with
 * server slots. Everything that changes with traffic (hosts, servers, answers, certificates) is in
 * maps, slots and the crt-list, which the runtime API edits in place; this text only changes when
 * the pool or the slots grow.
 */
export function renderConfig(state: RouterState, o: ConfigOptions): string {
  const p = (name: keyof typeof files) => pathOf(o.dir, name);
  const host = o.listenHost ?? '';
  const httpsSuffix = o.httpsPort === 443 ? '' : `:${o.httpsPort}`;
  const out = [
    '# Written by Berth from state.json; runtime changes are mirrored here. Do not edit.',
    'global',
    `  stats socket ${p('admin')} mode 600 level admin expose-fd listeners`,
    // The timing ring's reader (timing.ts) waits on this socket between requests: at the default
    // 10 s an idle app's reader was cut and read on only from the lines after it reconnected,
    // losing the access lines of the requests in between.
    '  stats timeout 1d',
    `  hard-stop-after ${o.hardStopAfterS}s`,
    ...(o.user ? [`  user ${o.user}`, `  group ${o.user}`] : []),
    '  tune.ssl.default-dh-param 2048',
    ...(o.accessLog ? ['  log stderr format raw local0 info'] : []),
    '',
    // Every request's line also goes to this in-memory ring, which Berth reads through the runtime
    // API for response-time percentiles (./timing.ts); when the reader lags, HAProxy drops lines
    // (counted), never waits. 1 MB holds several thousand lines.
    `ring ${TIMING_RING}`,
    '  format raw',
    '  maxlen 1024',
    '  size 1048576',
    '',
    'defaults',
    '  mode http',
    ...(o.accessLog ? ['  log global', '  option httplog'] : []),
    '  option http-keep-alive',
    // On a reload the old worker answers the next request of an idle keep-alive connection with
    // "Connection: close" instead of closing it under a client that may be sending on it.
    '  option idle-close-on-response',
    '  timeout connect 5s',
    '  timeout http-request 30s',
    '  timeout http-keep-alive 60s',
    // Long streams (SSE, long polling, slow downloads) are not cut by an idle timer.
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout tunnel 1h',
    '  timeout client-fin 30s',
    '  timeout check 3s',
    // A connection that failed is retried for every request: nothing was sent. A request that was
    // sent and got no answer at all (its replica crashed or was killed under it, or a pooled
    // connection to it broke) is retried on another replica only for GET, HEAD and OPTIONS (the
    // frontend's disable-l7-retry), as nginx does: a POST is never run twice.
    '  retries 3',
    '  retry-on conn-failure empty-response',
    '  option redispatch 1',
    '',
    'frontend berth',
    ...(o.accessLog ? ['  log global'] : []),
    `  log ring@${TIMING_RING} format raw local0 info`,
    // HAProxy's httplog format and the server's address: the ring and the access log share it, ./timing.ts parses it.
    `  log-format "${HTTPLOG_FORMAT}"`,
    `  bind ${host}:${o.httpPort}`,
    `  bind ${host}:${o.httpsPort} ssl crt ${p('defaultCert')} crt-list ${p('crtList')} alpn h2,http/1.1`,
    `  http-request set-var(txn.be) req.hdr(host),lower,word(1,:),map(${p('hosts')})`,
    `  http-request set-var(txn.acme) path,field(4,/),map(${p('acme')}) if { path_beg /.well-known/acme-challenge/ }`,
    '  http-request return status 200 content-type text/plain lf-string "%[var(txn.acme)]" if { var(txn.acme) -m found }',
    // A domain's check token is answered for that host only: one claim's token proves nothing for another name.
    `  http-request set-var(txn.vtok) path,field(4,/) if { path_beg ${CHALLENGE_PREFIX} }`,
    `  http-request set-var(txn.verify) req.hdr(host),lower,word(1,:),concat(/,txn.vtok),map(${p('verify')}) if { path_beg ${CHALLENGE_PREFIX} }`,
    '  http-request return status 200 content-type text/plain lf-string "%[var(txn.verify)]" if { var(txn.verify) -m found }',
    `  http-request return status 404 content-type "text/html; charset=utf-8" file ${p('notFound')} if !{ var(txn.be) -m found }`,
    ...(o.redirectHttps
      ? [`  http-request redirect location https://%[req.hdr(host),word(1,:)]${httpsSuffix}%[capture.req.uri] code 308 if !{ ssl_fc }`]
      : []),
    '  http-request set-header X-Forwarded-For %[src]',
    '  http-request set-header X-Forwarded-Proto %[ssl_fc,iif(https,http)]',
    '  http-request set-header X-Forwarded-Host %[req.hdr(host)]',
    ...stripSessionCookie(),
    '  http-request disable-l7-retry if !METH_GET !METH_OPTIONS',
    '  use_backend %[var(txn.be)]',
    '',
  ];
  for (const b of state.backends) {
    out.push(
      `backend ${b.name}`,
      '  balance roundrobin',
      '  option httpchk',
      `  http-check send meth GET uri-lf "%[be_name,map(${p('health')},/)]"`,
      // HAProxy's own 503 (no usable server), with the app named. Not `if { nbsrv() eq 0 }`: a new
      // worker counts 0 for its first moments after a reload while its servers already take requests.
      `  http-error status 503 content-type "text/html; charset=utf-8" hdr Retry-After 5 hdr Cache-Control no-store lf-file ${p('unavailable')}`,
      // A connection that fails on live traffic counts as all but the last failed check: if the next
      // check fails too (its node died, it crashed) the replica is out after one check instead of
      // three; a single refused connection of a live replica changes nothing.
      '  default-server check inter 2s fall 3 rise 2 observe layer4 error-limit 1 on-error sudden-death',
    );
    b.slots.forEach((s, i) => {
      // Draining slots are written free: a restarted HAProxy has nothing left to drain on them.
      const ns = o.serverNamespace ? ` namespace ${o.serverNamespace}` : '';
      out.push(s?.state === 'ready' ? `  server s${i + 1} ${s.upstream}${ns}` : `  server s${i + 1} 127.0.0.1:1 disabled${ns}`);
    });
    out.push('');
  }
  return out.join('\n');
}
