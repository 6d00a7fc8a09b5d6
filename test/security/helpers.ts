import http from 'node:http';
import assert from 'node:assert/strict';
import WebSocket from 'ws';

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

/**
 * One HTTP request with the path sent byte for byte (fetch and URL would normalize `..` and
 * re-encode), and a deadline: a request that gets no answer in time is a hang, reported as such.
 */
export function send(
  baseUrl: string,
  method: string,
  path: string,
  opts: { token?: string; body?: string | Buffer; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RawAnswer> {
  const base = new URL(baseUrl);
  const headers: Record<string, string | number> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-length'] = Buffer.byteLength(opts.body);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: base.hostname, port: base.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms: ${method} ${path.slice(0, 200)}`));
    }, timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(opts.body);
  });
}

/** The answer of a well-behaved server to anything: a 2xx, or a 4xx with `{"error":{"code","message"}}`. */
export function checkAnswer(r: RawAnswer, what: string): void {
  const show = `${what} -> ${r.status} ${r.text.slice(0, 300)}`;
  assert.ok(r.status >= 200 && r.status < 500 && !(r.status >= 300 && r.status < 400), `not a 2xx or 4xx: ${show}`);
  if (r.status >= 400) {
    assert.equal(typeof r.json?.error?.code, 'string', `4xx without the JSON error shape: ${show}`);
    assert.equal(typeof r.json?.error?.message, 'string', `4xx without the JSON error shape: ${show}`);
  }
}

export interface WsOutcome {
  /** HTTP status when the upgrade was refused, else 101. */
  status: number;
  messages: string[];
  closeCode?: number;
}

/** Opens a WebSocket, collects what arrives for `ms` (or until it closes), then closes it. */
export function wsCollect(url: string, opts: { token?: string; queryToken?: string; headers?: Record<string, string>; ms?: number } = {}): Promise<WsOutcome> {
  const u = new URL(url);
  if (opts.queryToken !== undefined) u.searchParams.set('token', opts.queryToken);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(u, { headers, handshakeTimeout: 10_000 });
    const messages: string[] = [];
    let timer: NodeJS.Timeout | undefined;
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, messages });
    });
    ws.on('open', () => {
      timer = setTimeout(() => ws.close(), opts.ms ?? 1500);
    });
    ws.on('message', (d) => messages.push(String(d)));
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: 101, messages, closeCode: code });
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      if (!/Unexpected server response/.test(String(err))) reject(err);
    });
  });
}

export const wsUrl = (httpUrl: string, path: string) => new URL(path, httpUrl.replace(/^http/, 'ws')).toString();

/** Runs `fn`; if it throws, the error carries the server's logged errors, so a 500 explains itself. */
export async function explained<T>(output: () => string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const logged = output()
      .split('\n')
      .filter((l) => /"level":(50|60)/.test(l))
      .join('\n');
    throw new Error(`${(err as Error).message}${logged ? `\nserver errors:\n${logged}` : ''}`, { cause: err });
  }
}
