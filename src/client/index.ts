import { routes, type RouteInput, type RouteName, type RouteOutput } from '../api/contract/index.js';
import { sockets, type SocketInput, type SocketMessage, type SocketName } from '../api/contract/sockets.js';

/** An error answer from the API, carrying its status and `{code,message,details}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  baseUrl: string;
  token?: string;
  /** Per-request limit; the control plane answers fast, so a hang is a fault. */
  timeoutMs?: number;
}

type Input<N extends RouteName> = Partial<RouteInput<N>>;

/** A contract path with its :params filled in. */
function fillPath(template: string, params: Record<string, string>): string {
  return template.replace(/:([a-z_]+)/g, (_, k: string) => {
    if (params[k] === undefined) throw new Error(`missing path parameter ${k}`);
    return encodeURIComponent(params[k]);
  });
}

function setQuery(url: URL, query: Record<string, unknown>) {
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
  }
}

/** How a stream ended: the server's close code and reason (1000: it finished normally). */
export interface StreamEnd {
  code: number;
  reason: string;
}

/** Typed client for the Berth API: route names, inputs and outputs all come from the contract. */
export class BerthClient {
  constructor(readonly opts: ClientOptions) {}

  url(path: string): string {
    return new URL(path, this.opts.baseUrl).toString();
  }

  async call<N extends RouteName>(name: N, input: Input<N> = {}): Promise<RouteOutput<N>> {
    const def = routes[name];
    const url = new URL(fillPath(def.path, (input.params ?? {}) as Record<string, string>), this.opts.baseUrl);
    setQuery(url, (input.query ?? {}) as Record<string, unknown>);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    let body: string | undefined;
    if (input.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(input.body);
    }
    let res: Response;
    try {
      res = await fetch(url, { method: def.method, headers, body, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new ApiError(0, 'unreachable', `cannot reach Berth at ${this.opts.baseUrl}${cause ? ` (${cause})` : ''}`);
    }
    const text = await res.text();
    // A route that sends a file (the CA's PEM) answers with its text.
    if (res.ok && 'produces' in def) return text as RouteOutput<N>;
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new ApiError(res.status, 'bad_response', `unexpected answer from ${url.pathname}: ${text.slice(0, 200)}`);
    }
    if (!res.ok) {
      const e = (json as { error?: { code: string; message: string; details?: unknown } })?.error;
      throw new ApiError(res.status, e?.code ?? 'http_error', e?.message ?? `HTTP ${res.status}`, e?.details);
    }
    return json as RouteOutput<N>;
  }

  /**
   * Opens one of the contract's WebSockets and hands each message, typed from the contract, to
   * onMessage. Resolves when the server closes it; rejects when the socket fails (refused, no
   * access: the upgrade's HTTP error). Aborting the signal closes it; onOpen is
   * called once the server has accepted it, with a function that sends a JSON message on it (for
   * the sockets that take input, like a run's terminal).
   */
  async stream<N extends SocketName>(
    name: N,
    input: Partial<SocketInput<N>>,
    onMessage: (msg: SocketMessage<N>) => void,
    opts: { signal?: AbortSignal; onOpen?: (send: (msg: unknown) => void) => void } = {},
  ): Promise<StreamEnd> {
    const url = new URL(fillPath(sockets[name].path, (input.params ?? {}) as Record<string, string>), this.opts.baseUrl.replace(/^http/, 'ws'));
    setQuery(url, (input.query ?? {}) as Record<string, unknown>);
    // Loaded on first use: the rest of the client needs nothing beyond fetch.
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(url, { headers: this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {} });
    return new Promise<StreamEnd>((resolve, reject) => {
      ws.on('open', () => opts.onOpen?.((msg) => ws.send(JSON.stringify(msg))));
      ws.on('message', (data) => onMessage(JSON.parse(String(data)) as SocketMessage<N>));
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
      // The upgrade refused (400, 401, 404, ...): an ApiError with the status and the server's error, like call()'s.
      ws.on('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let e: { code?: string; message?: string; details?: unknown } | undefined;
          try {
            e = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: typeof e }).error;
          } catch {
            /* not the API's JSON error */
          }
          reject(new ApiError(res.statusCode ?? 0, e?.code ?? 'http_error', e?.message ?? `cannot open ${url.pathname}: HTTP ${res.statusCode}`, e?.details));
          ws.terminate();
        });
      });
      ws.on('error', reject);
      opts.signal?.addEventListener('abort', () => ws.close(), { once: true });
    });
  }
}
