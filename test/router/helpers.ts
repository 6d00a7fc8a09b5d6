import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export { freePort } from '../support/server.js';

export interface Upstream {
  server: Server;
  /** "127.0.0.1:port", as a Route upstream. */
  addr: string;
  name: string;
  hits: number;
  /** Paths of the requests it got, in order (health checks included). */
  paths: string[];
  inFlight: number;
  /** Stops accepting, lets in-flight requests finish, then drops the idle keep-alive connections. */
  close(): Promise<void>;
}

/**
 * A small app replica: answers JSON {name, headers}; `/slow?ms=N` answers after N ms;
 * `/stream` writes one chunk, then the rest once `release` is called.
 */
export async function startUpstream(
  name: string,
  extra?: (req: IncomingMessage, res: ServerResponse) => boolean,
): Promise<Upstream> {
  const up = { hits: 0, inFlight: 0, paths: [] } as unknown as Upstream;
  const server = createServer((req, res) => {
    up.hits++;
    up.paths.push(req.url ?? '/');
    up.inFlight++;
    res.on('close', () => up.inFlight--);
    if (extra?.(req, res)) return;
    const url = new URL(req.url ?? '/', 'http://x');
    const ms = url.pathname === '/slow' ? Number(url.searchParams.get('ms') ?? 1000) : Math.floor(Math.random() * 5);
    setTimeout(() => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name, headers: req.headers }));
    }, ms);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  up.server = server;
  up.name = name;
  up.addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  up.close = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    while (up.inFlight > 0) await sleep(10);
    server.closeAllConnections();
    await closed;
  };
  return up;
}

export interface Reply {
  status: number;
  body: string;
  headers: IncomingMessage['headers'];
}

/** GET http://127.0.0.1:port<path> with a Host header, as a browser resolving <host> to this machine would. */
export function get(port: number, host: string, path = '/', agent?: Agent, timeoutMs = 10_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: agent ?? false, timeout: timeoutMs }, (res) =>
      collect(res, resolve, reject),
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${host}${path} timed out`)));
    req.on('error', (err: Error & { beforeResponseOnReusedSocket?: boolean }) => {
      err.beforeResponseOnReusedSocket = req.reusedSocket && !gotResponse;
      reject(err);
    });
    let gotResponse = false;
    req.on('response', () => (gotResponse = true));
    req.end();
  });
}

/**
 * GET over a keep-alive agent the way browsers, curl and Go's client do it: a request whose reused
 * keep-alive connection was closed by the server before any response byte is sent again, once, on a
 * new connection (RFC 9112 §9.3.1; Node's docs on request.reusedSocket show the same pattern).
 * Node's Agent does not do this by itself.
 */
export async function getKeepAlive(
  port: number,
  host: string,
  agent: Agent,
  onRetry: (err: Error) => void,
): Promise<Reply> {
  try {
    return await get(port, host, '/', agent);
  } catch (err) {
    if (!(err as { beforeResponseOnReusedSocket?: boolean }).beforeResponseOnReusedSocket) throw err;
    onRetry(err as Error);
    // On a new connection: another pooled one may be closing for the same reason.
    return get(port, host, '/');
  }
}

export function getHttps(port: number, host: string, ca: string | Buffer, path = '/'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, servername: host, headers: { host }, ca, agent: false, timeout: 10_000 },
      (res) => collect(res, resolve, reject),
    );
    req.on('timeout', () => req.destroy(new Error(`GET https://${host}${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function collect(res: IncomingMessage, resolve: (r: Reply) => void, reject: (e: Error) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
  res.on('error', reject);
}

/** Polls fn until it returns a truthy value or the deadline passes (then throws with the last error). */
export async function eventually<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
