import type { KeySelect, MetricRow } from '../store/metrics.js';
import { WEB } from './containers.js';

/*
 * What a row of metric_samples is about, in its `replica` column (no migration: rows written before
 * process types keep their meaning):
 *   ''             the whole app, every process type;
 *   '0', '1', ...  a web replica slot;
 *   'type:<t>'     the total of process type <t>; web's only while the app runs another type too
 *                  (otherwise it is the app's row, and a copy of it would cost storage for nothing);
 *   '<t>/0', ...   a replica slot of a type other than web.
 * Process type names cannot hold ':' or '/' (store/formation.ts, PROCESS_TYPE), so keys never clash.
 */
export const APP_KEY = '';
export const typeKey = (type: string) => `type:${type}`;
export const slotKey = (type: string, replica: number) => (type === WEB ? String(replica) : `${type}/${replica}`);

/** What a key names: its process type (null: the whole app) and replica (null: a total). */
export function parseKey(key: string): { type: string | null; replica: number | null } {
  if (key === APP_KEY) return { type: null, replica: null };
  if (key.startsWith('type:')) return { type: key.slice(5), replica: null };
  const slash = key.lastIndexOf('/');
  if (slash < 0) return { type: WEB, replica: Number(key) };
  return { type: key.slice(0, slash), replica: Number(key.slice(slash + 1)) };
}

/** The keys of web replica slots only (alerts on one replica's memory compare them to the app's limit). */
export const isWebSlot = (key: string) => /^\d+$/.test(key);

/**
 * The rows a chart reads: without a type, the app and its web slots (as before process types);
 * with one, that type's total and its slots; with a replica, that slot alone. Web's total is its
 * own row where one was written, else the app's (the two are the same while web runs alone).
 */
export function keysFor(type: string | undefined, replica: number | undefined): { select: KeySelect; total: string | null } {
  if (replica !== undefined) {
    const key = slotKey(type ?? WEB, replica);
    return { select: { keys: [key] }, total: null };
  }
  if (type === undefined) return { select: { keys: [APP_KEY], webSlots: true }, total: APP_KEY };
  if (type === WEB) return { select: { keys: [typeKey(WEB)], webSlots: true, standIn: { key: APP_KEY, for: typeKey(WEB) } }, total: typeKey(WEB) };
  return { select: { keys: [typeKey(type)], prefix: `${type}/` }, total: typeKey(type) };
}

/** The 50th, 95th and 99th percentiles (nearest rank) of response times; null for none. */
export function percentiles(times: number[]): { p50_ms: number | null; p95_ms: number | null; p99_ms: number | null } {
  if (times.length === 0) return { p50_ms: null, p95_ms: null, p99_ms: null };
  const sorted = Float64Array.from(times).sort();
  const at = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { p50_ms: at(50), p95_ms: at(95), p99_ms: at(99) };
}

/** 10 s buckets, kept an hour; 1 min rollups, kept 14 days (docs/performance.md, "Metrics history"). */
export const FINE_S = 10;
export const COARSE_S = 60;
export const FINE_KEEP_S = 3600;
export const COARSE_KEEP_S = 14 * 86_400;

/**
 * Buckets of `step` seconds (a multiple of the rows' resolution) from rows of one app: counts add
 * up, gauges are averaged over the rows that have them. Rows keep their app and replica apart.
 */
export function aggregate(rows: MetricRow[], step: number, res: number): MetricRow[] {
  const out = new Map<string, MetricRow & { n: Record<string, number> }>();
  for (const r of rows) {
    const t = Math.floor(r.t / step) * step;
    const key = `${r.app_id}\n${r.replica}\n${t}`;
    let b = out.get(key);
    if (!b) {
      b = { app_id: r.app_id, res, t, replica: r.replica, span_s: 0, requests: 0, r2xx: 0, r3xx: 0, r4xx: 0, r5xx: 0, response_ms: null, p50_ms: null, p95_ms: null, p99_ms: null, sessions: null, cpu_percent: null, memory_mb: null, restarts: 0, n: {} };
      out.set(key, b);
    }
    b.span_s += r.span_s;
    b.requests += r.requests;
    b.r2xx += r.r2xx;
    b.r3xx += r.r3xx;
    b.r4xx += r.r4xx;
    b.r5xx += r.r5xx;
    b.restarts += r.restarts;
    for (const g of ['response_ms', 'sessions', 'cpu_percent', 'memory_mb'] as const) {
      const v = r[g];
      if (v === null) continue;
      const n = (b.n[g] ?? 0) + 1;
      b[g] = ((b[g] ?? 0) * (n - 1) + v) / n;
      b.n[g] = n;
    }
    // Percentiles do not average: a wider bucket keeps the highest (an upper bound of its own).
    for (const g of ['p50_ms', 'p95_ms', 'p99_ms'] as const) {
      const v = r[g];
      if (v !== null) b[g] = Math.max(b[g] ?? v, v);
    }
  }
  return [...out.values()].map(({ n: _n, ...row }) => row).sort((a, b) => a.t - b.t || (a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : 0));
}

/**
 * The minutes a rollup pass (re)writes at `nowS`: every complete minute the 10 s buckets still hold
 * that the last pass may not have finished (the one before `doneTo`), and at start all of them.
 */
export function rollupWindow(nowS: number, doneTo: number | null): { from: number; to: number } {
  const to = Math.floor(nowS / COARSE_S) * COARSE_S;
  // The oldest minute may have lost its first buckets to a prune already: never rewrite it.
  const oldest = to - FINE_KEEP_S + COARSE_S;
  return { from: doneTo === null ? oldest : Math.max(oldest, Math.min(doneTo, to) - COARSE_S), to };
}

/** Where each resolution's buckets start to be too old to keep, at `nowS`. */
export function pruneBefore(nowS: number): { fine: number; coarse: number } {
  return { fine: nowS - FINE_KEEP_S, coarse: nowS - COARSE_KEEP_S };
}

/** The resolution a chart of [from, to) at `step` reads: 10 s buckets only while they are all still kept. */
export function resolutionFor(nowS: number, from: number, step: number): number {
  return step < COARSE_S && from >= nowS - FINE_KEEP_S ? FINE_S : COARSE_S;
}

/**
 * How much a counter grew since the last reading. A smaller value means it was reset (the router
 * restarted, or its pool slot went to a new owner): everything it counts is new.
 */
export function growth(now: number, before: number | undefined): number {
  if (before === undefined) return 0;
  return now >= before ? now - before : now;
}

/** A chart's line, bucket by bucket (null: nothing sampled then). */
export interface Series {
  type: string | null;
  replica: number | null;
  requests_per_s: (number | null)[];
  responses_per_s: Record<'2xx' | '3xx' | '4xx' | '5xx', (number | null)[]>;
  responses: Record<'2xx' | '3xx' | '4xx' | '5xx', (number | null)[]>;
  response_ms_avg: (number | null)[];
  response_ms_p50: (number | null)[];
  response_ms_p95: (number | null)[];
  response_ms_p99: (number | null)[];
  open_connections: (number | null)[];
  cpu_percent: (number | null)[];
  memory_mb: (number | null)[];
  restarts: (number | null)[];
}

const round = (v: number | null, digits = 3) => (v === null ? null : Math.round(v * 10 ** digits) / 10 ** digits);

/**
 * The buckets of [from, to) at `step` (aligned to multiples of step), and a series for each key
 * seen (keys as above) from rows of one app at resolution `res`; `total`'s line is there even
 * with nothing sampled (null: no total line).
 */
export function toSeries(rows: MetricRow[], from: number, to: number, step: number, res: number, total: string | null = APP_KEY): { t: number[]; series: Series[] } {
  const start = Math.floor(from / step) * step;
  const t: number[] = [];
  for (let x = start; x < to; x += step) t.push(x);
  const index = new Map(t.map((x, i) => [x, i]));
  const lines = new Map<string, Series>();
  const blank = () => t.map(() => null);
  const line = (replica: string) => {
    let s = lines.get(replica);
    if (!s) {
      s = {
        ...parseKey(replica),
        requests_per_s: blank(),
        responses_per_s: { '2xx': blank(), '3xx': blank(), '4xx': blank(), '5xx': blank() },
        responses: { '2xx': blank(), '3xx': blank(), '4xx': blank(), '5xx': blank() },
        response_ms_avg: blank(),
        response_ms_p50: blank(),
        response_ms_p95: blank(),
        response_ms_p99: blank(),
        open_connections: blank(),
        cpu_percent: blank(),
        memory_mb: blank(),
        restarts: blank(),
      };
      lines.set(replica, s);
    }
    return s;
  };
  if (total !== null) line(total);
  for (const b of aggregate(rows, step, res)) {
    const i = index.get(b.t);
    if (i === undefined) continue;
    const s = line(b.replica);
    const rate = (n: number) => (b.span_s > 0 ? round(n / b.span_s) : null);
    s.requests_per_s[i] = rate(b.requests);
    for (const [k, n] of [['2xx', b.r2xx], ['3xx', b.r3xx], ['4xx', b.r4xx], ['5xx', b.r5xx]] as const) {
      s.responses_per_s[k][i] = rate(n);
      s.responses[k][i] = b.span_s > 0 ? n : null;
    }
    s.response_ms_avg[i] = round(b.response_ms, 1);
    s.response_ms_p50[i] = b.p50_ms;
    s.response_ms_p95[i] = b.p95_ms;
    s.response_ms_p99[i] = b.p99_ms;
    s.open_connections[i] = round(b.sessions, 1);
    s.cpu_percent[i] = round(b.cpu_percent, 2);
    s.memory_mb[i] = round(b.memory_mb, 1);
    s.restarts[i] = b.restarts;
  }
  const series = [...lines.values()].sort((a, b) => (a.replica ?? -1) - (b.replica ?? -1));
  return { t, series };
}

/** A step giving about 300 points over `seconds` (10 s, 1, 5, 15 min, 1, 3, 6 h, 1 day). */
export function defaultStep(seconds: number): number {
  const steps = [10, 60, 300, 900, 3600, 10_800, 21_600, 86_400];
  return steps.find((s) => seconds / s <= 400) ?? 86_400;
}
