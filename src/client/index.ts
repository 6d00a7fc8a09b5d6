import { routes, type RouteInput, type RouteName, type RouteOutput } from '../api/contract.js';

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

/** Typed client for the Berth API: route names, inputs and outputs all come from the contract. */
export class BerthClient {
  constructor(readonly opts: ClientOptions) {}

  url(path: string): string {
    return new URL(path, this.opts.baseUrl).toString();
  }

  async call<N extends RouteName>(name: N, input: Input<N> = {}): Promise<RouteOutput<N>> {
    const def = routes[name];
    const params = (input.params ?? {}) as Record<string, string>;
    const path = def.path.replace(/:([a-z_]+)/g, (_, k: string) => {
      if (params[k] === undefined) throw new Error(`missing path parameter ${k}`);
      return encodeURIComponent(params[k]);
    });
    const url = new URL(path, this.opts.baseUrl);
    for (const [k, v] of Object.entries((input.query ?? {}) as Record<string, unknown>)) {
      if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    }
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
}
