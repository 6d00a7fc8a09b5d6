import { X509Certificate } from 'node:crypto';

/**
 * Log drains: where an app's log lines are sent besides Berth's own log view. Two kinds:
 * `syslog+tls://host:port` (RFC 5424 messages, octet-counted over TLS, RFC 5425/6587) and
 * `https://...` (batched NDJSON POSTs). The URL may carry a credential (user:password, a token in
 * the path or query), so it is stored sealed and shown only as a hint.
 */
export type DrainKind = 'syslog' | 'https';

export interface DrainTarget {
  kind: DrainKind;
  host: string;
  port: number;
}

/** One line of one replica, as a drain sends it. */
export interface DrainLine {
  /** ISO time from the engine. */
  time: string;
  app: string;
  process_type: string;
  replica: number;
  stream: 'stdout' | 'stderr';
  line: string;
  /**
   * Where the line comes from: a replica (`app`, the default), the router (a request's access line;
   * process_type `router`, replica the slot that answered) or a build (its log; process_type `build`,
   * replica the build's number).
   */
  source?: 'app' | 'router' | 'build';
}

/** The drain a URL names, or why it is refused (a sentence about `url`). */
export function parseDrainUrl(raw: string): DrainTarget | { problem: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { problem: 'is not a valid URL' };
  }
  if (u.protocol === 'https:') {
    return { kind: 'https', host: u.hostname, port: Number(u.port || 443) };
  }
  if (u.protocol === 'syslog+tls:' || u.protocol === 'syslog-tls:') {
    if (u.username || u.password) return { problem: 'must not contain a user or password (syslog has no login)' };
    if (!u.hostname || !u.port) return { problem: 'needs a host and a port (syslog+tls://host:port)' };
    if ((u.pathname && u.pathname !== '/') || u.search || u.hash) return { problem: 'must be syslog+tls://host:port, with no path or query' };
    return { kind: 'syslog', host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
  }
  return { problem: `scheme ${u.protocol.slice(0, -1)} is not allowed (use syslog+tls://host:port or https://...)` };
}

/** scheme://host:port/… : enough to recognise a drain without showing a credential in it. */
export function drainHint(raw: string): string {
  const u = new URL(raw);
  const hidden = u.username || u.password || (u.pathname && u.pathname !== '/') || u.search;
  return `${u.protocol}//${u.host}${hidden ? '/…' : ''}`;
}

/** Why a CA bundle is refused, or null: one or more PEM certificates. */
export function caProblem(pem: string): string | null {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) return 'is not a PEM certificate';
  try {
    for (const b of blocks) new X509Certificate(b);
  } catch {
    return 'is not a valid PEM certificate';
  }
  return null;
}

// RFC 5424 header fields are printable US-ASCII without spaces; SD-PARAM values escape '"', '\' and ']'.
const field = (s: string, max: number) => (s.replace(/[^\x21-\x7e]/g, '_').slice(0, max) || '-');
const sdValue = (s: string) => s.replace(/[\\"\]]/g, (c) => `\\${c}`);

/** Berth's SD-ID: the enterprise number is IANA's documentation example (RFC 5612). */
export const SD_ID = 'berth@32473';

/**
 * One RFC 5424 message: facility user (1), severity informational (6) for stdout and error (3) for
 * stderr; HOSTNAME and APP-NAME the app's slug, PROCID `<type>.<replica>` as Heroku does, MSGID
 * the stream, and the same facts as structured data.
 */
export function syslogMessage(l: DrainLine): string {
  const pri = 8 + (l.stream === 'stderr' ? 3 : 6);
  const time = /^\d{4}-\d\d-\d\dT/.test(l.time) ? l.time.replace(/(\.\d{6})\d+/, '$1') : new Date().toISOString();
  const sd = `[${SD_ID} app="${sdValue(l.app)}" type="${sdValue(l.process_type)}" replica="${l.replica}" stream="${l.stream}" source="${l.source ?? 'app'}"]`;
  return `<${pri}>1 ${time} ${field(l.app, 255)} ${field(l.app, 48)} ${field(`${l.process_type}.${l.replica}`, 128)} ${l.stream} ${sd} ${l.line}`;
}

/** RFC 6587 octet counting: `<length in bytes> <message>`. */
export function octetFrame(msg: string): Buffer {
  const body = Buffer.from(msg, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `), body]);
}

/** An NDJSON body: one JSON object per line, each ending in a newline. */
export const ndjson = (lines: DrainLine[]) =>
  lines.map((l) => `${JSON.stringify({ time: l.time, app: l.app, process_type: l.process_type, replica: l.replica, stream: l.stream, line: l.line, source: l.source ?? 'app' })}\n`).join('');

/**
 * An engine timestamp as a key that sorts as time does. The engine writes RFC 3339 with nanoseconds
 * and trailing zeros trimmed (`…:05.1Z` after `…:05.09Z`), which does not sort as text; padded to
 * nine digits it does. Text that is not such a time is returned as it is.
 */
export function timeKey(t: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(t);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z` : t;
}

/** The most drains one app may have, whoever asks: each costs a buffer and a connection in the control plane. */
export const MAX_DRAINS_PER_APP = 10;
