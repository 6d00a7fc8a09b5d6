import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';

export interface Reply {
  status: number;
  body: string;
}

/** One request to the router with a Host header, as a browser resolving <slug>.localhost would send. */
export function viaRouter(port: number, host: string, path = '/', agent?: Agent, timeoutMs = 10_000): Promise<Reply> {
  return send(port, host, path, agent, timeoutMs).then((r) => r.reply);
}

/** Sockets that have carried an answer: a reset on one of them is a closed keep-alive, not a new connection. */
const answered = new WeakSet<Socket>();

/**
 * Sends a request. When the router closed the connection before any byte of an answer, the request
 * got no answer at all, and is sent again once on a new connection. A config reload closes idle
 * keep-alive connections, and browsers and curl resend on a reused connection; a brand-new one
 * closed that way is what a browser would show as a connection error, so those are counted apart
 * (resentFresh) and bounded. (They came from Caddy 2.6 swapping its listening sockets on each
 * reload; with net.ipv4.tcp_migrate_req=1, which the router sets, the kernel hands queued
 * connections to the new socket instead.) A reset after the answer began is never resent.
 */
async function send(port: number, host: string, path: string, agent: Agent | false | undefined, timeoutMs: number) {
  try {
    return { reply: await once(port, host, path, agent, timeoutMs), resent: false, fresh: false };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { usedBefore?: boolean; afterResponse?: boolean };
    if (e.afterResponse || e.code !== 'ECONNRESET') throw err;
    // On a connection of its own: Node 20's global agent keeps connections alive too, and one of
    // those may have been closed by the same reload.
    try {
      return { reply: await once(port, host, path, false, timeoutMs), resent: true, fresh: !e.usedBefore };
    } catch (again) {
      throw Object.assign(again as Error, { afterResend: true });
    }
  }
}

function once(port: number, host: string, path: string, agent: Agent | false | undefined, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let socket: Socket | undefined;
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent, timeout: timeoutMs }, (res) => {
      answered.add(res.socket);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => reject(Object.assign(err, { afterResponse: true })));
    });
    // req.reusedSocket is not set for a request the agent queued and then gave a freed socket.
    req.on('socket', (s) => (socket = s));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => reject(Object.assign(err, { usedBefore: socket !== undefined && answered.has(socket) })));
    req.end();
  });
}

export interface LoadResult {
  sent: number;
  failed: number;
  /** The first few failures, each led by the time its request was sent, to say what went wrong. */
  failures: string[];
  /** Requests sent again after a reused keep-alive connection was closed before they were read. */
  resent: number;
  /** Of those, the ones whose first connection was brand-new (see send()). */
  resentFresh: number;
  /** Which replicas answered (the test app reports its hostname). */
  hostnames: Set<string>;
}

/**
 * Sends requests continuously through the router until stop() is called (or maxMs passes, so a
 * broken test cannot run forever). A failure is a connection error or any status >= 500.
 */
export function startLoad(opts: { port: number; host: string; concurrency?: number; path?: string; maxMs?: number }) {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 4 });
  const result: LoadResult = { sent: 0, failed: 0, resent: 0, resentFresh: 0, failures: [], hostnames: new Set() };
  let running = true;
  const hardStop = setTimeout(() => (running = false), opts.maxMs ?? 180_000);
  const worker = async () => {
    while (running) {
      result.sent++;
      const sentAt = new Date();
      try {
        const { reply: r, resent, fresh } = await send(opts.port, opts.host, opts.path ?? '/', agent, 10_000);
        if (resent) result.resent++;
        if (fresh) result.resentFresh++;
        if (r.status >= 500) throw new Error(`HTTP ${r.status} ${r.body.slice(0, 80)}`);
        try {
          const h = (JSON.parse(r.body) as { hostname?: string }).hostname;
          if (h) result.hostnames.add(h);
        } catch {
          /* not the test app's JSON */
        }
      } catch (err) {
        result.failed++;
        const e = err as NodeJS.ErrnoException & { usedBefore?: boolean; afterResend?: boolean };
        if (result.failures.length < 10) {
          result.failures.push(`${sentAt.toISOString()} ${e.message}${e.code ? ` (${e.code}${e.usedBefore ? ', reused connection' : ''}${e.afterResend ? ', on the resend' : ''})` : ''}`);
        }
      }
    }
  };
  const workers = Array.from({ length: opts.concurrency ?? 4 }, worker);
  return {
    result,
    async stop(): Promise<LoadResult> {
      running = false;
      clearTimeout(hardStop);
      await Promise.all(workers);
      agent.destroy();
      return result;
    },
  };
}

/**
 * Runs `body` while a load runs against the router, and returns the load's figures. The load stops
 * whatever happens; when `body` fails, its error is what the test reports, not the load's.
 */
export async function withLoad(
  opts: Parameters<typeof startLoad>[0],
  body: (load: ReturnType<typeof startLoad>) => Promise<void>,
): Promise<LoadResult> {
  const load = startLoad(opts);
  try {
    await body(load);
  } catch (err) {
    await load.stop();
    throw err;
  }
  return load.stop();
}

/**
 * Brand-new connections a load run may see closed before an answer. With the kernel handing queued
 * connections to Caddy's new listener (net.ipv4.tcp_migrate_req=1) that was 1 in about 2,250 reloads
 * when measured; without it, about 0.4 per reload under a busy load.
 */
const freshBound = () => (readSysctl('/proc/sys/net/ipv4/tcp_migrate_req') === '1' ? 1 : 3);

function readSysctl(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * What a user would check of a load run: no request failed (after the one resend send() allows), and
 * resends stay rare: brand-new connections closed before an answer at most freshBound(), and at most
 * 1% of all requests.
 */
export function assertNoDrops(r: LoadResult, what: string): void {
  const summary = `${what}: ${r.failed} of ${r.sent} requests failed, ${r.resent} resent (${r.resentFresh} on a new connection)`;
  if (r.failed !== 0) throw new Error(`${summary}: ${r.failures.join('; ')}`);
  if (r.resentFresh > freshBound()) throw new Error(`${summary}: too many new connections closed before an answer`);
  if (r.resent > Math.max(10, r.sent / 100)) throw new Error(`${summary}: too many resends`);
}
