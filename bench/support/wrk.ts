import { runOk } from '../../src/lib/exec.js';
import { assertLocal } from './load.js';

export interface WrkStats {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Socket errors plus non-2xx/3xx answers. */
  errors: number;
}

const toMs = (v: string, unit: string) => Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);

/** One wrk run (Debian's wrk): 2 threads, `connections` keep-alive connections, `seconds` long. */
export async function wrk(target: { address: string; port: number; path: string; host?: string }, connections: number, seconds: number): Promise<WrkStats> {
  assertLocal(target.address);
  const args = ['-t2', `-c${connections}`, `-d${seconds}s`, '--latency'];
  if (target.host) args.push('-H', `Host: ${target.host}`);
  args.push(`http://${target.address}:${target.port}${target.path}`);
  const out = (await runOk('wrk', args, { timeoutMs: (seconds + 30) * 1000 })).stdout;
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)$`, 'm').exec(out);
    if (!m) throw new Error(`wrk: no ${p}% latency in:\n${out}`);
    return toMs(m[1], m[2]);
  };
  const rps = Number(/^Requests\/sec:\s+([\d.]+)/m.exec(out)?.[1]);
  const requests = Number(/^\s+(\d+) requests in/m.exec(out)?.[1]);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = non2xx + (sock ? sock.slice(1).reduce((n, x) => n + Number(x), 0) : 0);
  return { rps, p50Ms: pct('50'), p99Ms: pct('99'), requests, errors };
}
