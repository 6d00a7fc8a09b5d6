import { connect, type TLSSocket } from 'node:tls';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { EgressRefused, REFUSED, checkHost, guardedLookup, type EgressAllow } from '../../lib/egress.js';
import { ndjson, octetFrame, syslogMessage, type DrainLine } from '../../domain/drains.js';

const TIMEOUT_MS = 10_000;
/** TCP keepalive probes after this much silence: a receiver that vanished without a FIN is noticed. */
const KEEPALIVE_MS = 30_000;

/** Sends one batch; rejects with an error whose message says in words what went wrong. */
export interface Transport {
  send(lines: DrainLine[]): Promise<void>;
  close(): void;
}

export interface TransportOptions {
  url: string;
  ca: string | null;
  egress: EgressAllow;
  /** How long connecting may take, and one send in all (10 s; tests pass less). */
  timeoutMs?: number;
}

/** A send that ran out of time: the receiver is there but does not take what it is given. */
const sendTimeout = () => Object.assign(new Error('send timeout'), { code: 'ESENDTIMEOUT' });

/** What a failed attempt is called in the drain's status: never the connect error of a refused internal address. */
export function inWords(err: unknown, target: string, timeoutMs = TIMEOUT_MS): string {
  const e = err as { code?: string; message?: string; name?: string };
  if (err instanceof EgressRefused || e.code === 'EGRESS_REFUSED') return `${target} is ${REFUSED}`;
  switch (e.code) {
    case 'ECONNREFUSED': return `${target} refused the connection`;
    case 'ECONNRESET': case 'EPIPE': return `${target} closed the connection`;
    case 'ENOTFOUND': case 'EAI_AGAIN': return `${target} did not resolve`;
    case 'ETIMEDOUT': return `no answer from ${target} in ${timeoutMs / 1000} s`;
    case 'ESENDTIMEOUT': return `${target} did not take the lines within ${timeoutMs / 1000} s`;
    case 'DEPTH_ZERO_SELF_SIGNED_CERT': case 'SELF_SIGNED_CERT_IN_CHAIN': case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE': case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY': case 'CERT_HAS_EXPIRED': case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `${target}'s TLS certificate is not trusted (${e.code})`;
  }
  return `${target}: ${e.message ?? String(err)}`;
}

/**
 * RFC 5424 over TLS (RFC 5425), octet-counted (RFC 6587). One connection, kept open while it works;
 * a batch counts as sent once TLS took its bytes (syslog has no acknowledgement). The receiver
 * closing the connection is noticed at once, so the next batch waits for a new one.
 */
export class SyslogTransport implements Transport {
  private socket: TLSSocket | null = null;
  private readonly target: string;
  private readonly host: string;
  private readonly port: number;
  private readonly timeoutMs: number;

  constructor(private readonly o: TransportOptions) {
    this.timeoutMs = o.timeoutMs ?? TIMEOUT_MS;
    const u = new URL(o.url);
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port);
    this.target = `${u.hostname}:${this.port}`;
  }

  private open(): Promise<TLSSocket> {
    checkHost(this.host, 'url', this.o.egress);
    return new Promise((resolve, reject) => {
      const s = connect({
        host: this.host,
        port: this.port,
        servername: isIP(this.host) ? undefined : this.host,
        ...(this.o.ca ? { ca: this.o.ca } : {}),
        lookup: guardedLookup('url', this.o.egress),
        timeout: this.timeoutMs,
      });
      const fail = (err: Error) => {
        s.destroy();
        reject(err);
      };
      s.once('error', fail);
      s.once('timeout', () => fail(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      s.once('secureConnect', () => {
        s.off('error', fail);
        // Idle is normal between lines; a send has its own deadline, and keepalive finds a dead peer.
        s.setTimeout(0);
        s.setKeepAlive(true, KEEPALIVE_MS);
        s.on('error', () => s.destroy());
        // Nothing is read from a syslog receiver; its end of the stream means it went away.
        s.on('end', () => s.destroy());
        s.on('close', () => {
          if (this.socket === s) this.socket = null;
        });
        s.resume();
        resolve(s);
      });
    });
  }

  async send(lines: DrainLine[]): Promise<void> {
    try {
      if (!this.socket || this.socket.destroyed) this.socket = await this.open();
      const s = this.socket;
      const data = Buffer.concat(lines.map((l) => octetFrame(syslogMessage(l))));
      await new Promise<void>((resolve, reject) => {
        // write() calls back once the kernel took the bytes: a receiver that stops reading would
        // hold it (and the drain) forever without this deadline.
        const deadline = setTimeout(() => {
          reject(sendTimeout());
          s.destroy();
        }, this.timeoutMs);
        const onClose = () => {
          clearTimeout(deadline);
          reject(Object.assign(new Error('closed'), { code: 'ECONNRESET' }));
        };
        s.once('close', onClose);
        s.write(data, (err) => {
          clearTimeout(deadline);
          s.off('close', onClose);
          if (err) reject(err);
          else resolve();
        });
      });
    } catch (err) {
      this.close();
      throw new Error(inWords(err, this.target, this.timeoutMs), { cause: err });
    }
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }
}

/** Batched NDJSON POSTs; a 2xx answer means delivered. A user and password in the URL go as Basic auth. */
export class HttpsTransport implements Transport {
  private readonly target: string;
  private readonly timeoutMs: number;

  constructor(private readonly o: TransportOptions) {
    this.target = new URL(o.url).host;
    this.timeoutMs = o.timeoutMs ?? TIMEOUT_MS;
  }

  async send(lines: DrainLine[]): Promise<void> {
    const u = new URL(this.o.url);
    let status: number;
    try {
      checkHost(u.hostname, 'url', this.o.egress);
      status = await new Promise<number>((resolve, reject) => {
        const req = request(u, {
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson', 'user-agent': 'berth-log-drain' },
          lookup: guardedLookup('url', this.o.egress),
          agent: false,
          ...(this.o.ca ? { ca: this.o.ca } : {}),
          timeout: this.timeoutMs,
        }, (res) => {
          res.resume();
          res.on('end', () => done(() => resolve(res.statusCode ?? 0)));
          res.on('error', () => done(() => resolve(res.statusCode ?? 0)));
        });
        // The socket's timeout is for silence only: a receiver that trickles its reading or its
        // answer would hold the drain without a deadline on the whole exchange.
        const deadline = setTimeout(() => {
          reject(sendTimeout());
          req.destroy();
        }, this.timeoutMs);
        const done = (settle: () => void) => {
          clearTimeout(deadline);
          settle();
        };
        req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
        req.on('error', (err) => done(() => reject(err)));
        req.end(ndjson(lines));
      });
    } catch (err) {
      throw new Error(inWords(err, this.target, this.timeoutMs), { cause: err });
    }
    if (status < 200 || status > 299) throw new Error(`${this.target} answered HTTP ${status}`);
  }

  close(): void {}
}
