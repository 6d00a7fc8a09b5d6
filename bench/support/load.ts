import { Agent, request } from 'node:http';
import { isIP } from 'node:net';

export interface Target {
  /** 127.0.0.1 or an address on one of Docker's bridges on this machine: nothing else is load-tested. */
  address: string;
  port: number;
  path: string;
  /** Host header: the router picks the app by it. */
  host?: string;
  headers?: Record<string, string>;
}

export interface LoadOptions {
  targets: Target[];
  concurrency: number;
  /** Both bounds apply: the run ends at whichever comes first. */
  durationMs: number;
  maxRequests: number;
  /** Requests before this are not counted: connections open, JITs warm. */
  warmupMs: number;
}

export interface LoadStats {
  requests: number;
  errors: number;
  /** Answers that were not 2xx. */
  non2xx: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  firstError?: string;
  /** Every counted request's latency in ms, sorted. */
  latencies: Float64Array;
}

/** Loopback, or the private ranges Docker's bridges (and Berth's fallback subnets) use. */
export function assertLocal(address: string): void {
  const ok =
    address === '127.0.0.1' ||
    (isIP(address) === 4 && (/^10\./.test(address) || /^172\.(1[6-9]|2\d|3[01])\./.test(address) || /^192\.168\./.test(address)));
  if (!ok) throw new Error(`refusing to send load to ${address}: only loopback and Docker bridge addresses`);
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/**
 * A closed-loop load generator: `concurrency` workers, each with one keep-alive connection per
 * target, send the next request as soon as the previous answer is read. Targets are used in turn,
 * so several targets share the load evenly (client-side round robin).
 */
export async function runLoad(opts: LoadOptions): Promise<LoadStats> {
  for (const t of opts.targets) assertLocal(t.address);
  const agents = opts.targets.map(() => new Agent({ keepAlive: true, maxSockets: opts.concurrency }));
  const latencies = new Float64Array(opts.maxRequests);
  let counted = 0;
  let errors = 0;
  let non2xx = 0;
  let firstError: string | undefined;
  let next = 0;
  const t0 = performance.now();
  const measureFrom = t0 + opts.warmupMs;
  const hardEnd = measureFrom + opts.durationMs;
  let measuredStart = 0;

  const one = (i: number) =>
    new Promise<number>((resolve, reject) => {
      const t = opts.targets[i];
      const req = request(
        { host: t.address, port: t.port, path: t.path, agent: agents[i], timeout: 10_000, headers: { ...(t.host ? { host: t.host } : {}), ...t.headers } },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });

  const worker = async () => {
    for (;;) {
      const now = performance.now();
      if (now >= hardEnd || counted >= opts.maxRequests) return;
      const i = next++ % opts.targets.length;
      const start = performance.now();
      let status: number;
      try {
        status = await one(i);
      } catch (err) {
        if (start >= measureFrom) {
          errors++;
          firstError ??= (err as Error).message;
        }
        continue;
      }
      if (start < measureFrom || counted >= opts.maxRequests) continue;
      if (!measuredStart) measuredStart = start;
      if (status < 200 || status > 299) {
        non2xx++;
        firstError ??= `HTTP ${status}`;
      }
      latencies[counted++] = performance.now() - start;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const seconds = (performance.now() - Math.max(measureFrom, measuredStart || measureFrom)) / 1000;
  for (const a of agents) a.destroy();
  const sorted = latencies.subarray(0, counted).sort();
  return {
    requests: counted,
    errors,
    non2xx,
    seconds,
    rps: counted / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    firstError,
    latencies: sorted,
  };
}

/** Several runs as one: requests and time add up, percentiles over all latencies. */
export function merge(runs: LoadStats[]): LoadStats {
  const all = new Float64Array(runs.reduce((n, r) => n + r.latencies.length, 0));
  let at = 0;
  for (const r of runs) {
    all.set(r.latencies, at);
    at += r.latencies.length;
  }
  all.sort();
  const requests = runs.reduce((n, r) => n + r.requests, 0);
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  return {
    requests,
    errors: runs.reduce((n, r) => n + r.errors, 0),
    non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
    seconds,
    rps: requests / seconds,
    p50Ms: percentile(all, 50),
    p99Ms: percentile(all, 99),
    firstError: runs.find((r) => r.firstError)?.firstError,
    latencies: all,
  };
}

/**
 * Measures two sides in alternating rounds (A B B A A B ...), so a neighbour's burst of CPU on a
 * shared machine lands on both sides rather than on whichever ran second.
 */
export async function compare(a: Omit<LoadOptions, 'durationMs'>, b: Omit<LoadOptions, 'durationMs'>, rounds: number, roundMs: number) {
  const ra: LoadStats[] = [];
  const rb: LoadStats[] = [];
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const side of order) {
      if (side === 0) ra.push(await runLoad({ ...a, durationMs: roundMs }));
      else rb.push(await runLoad({ ...b, durationMs: roundMs }));
    }
  }
  return [merge(ra), merge(rb)] as const;
}
