import type { Db } from '../../store/db.js';
import { appsVisibleTo, samplesSince, type MetricRow } from '../../store/metrics.js';
import { FINE_S, parseKey } from '../../domain/metrics.js';

/** Label values in the exposition format: backslash, double quote and newline escaped. */
const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

interface Metric {
  name: string;
  help: string;
  value: (r: MetricRow) => number | null;
  /** Extra label (the response class), when the metric has one. */
  cls?: string;
  /** Extra label: the quantile a response-time figure is. */
  quantile?: string;
}

const rate = (n: number, r: MetricRow) => (r.span_s > 0 ? n / r.span_s : null);

const METRICS: Metric[] = [
  { name: 'berth_app_requests_per_second', help: 'Requests per second over the last 10 s sample (router counters).', value: (r) => rate(r.requests, r) },
  ...(['2xx', '3xx', '4xx', '5xx'] as const).map((c): Metric => ({
    name: 'berth_app_responses_per_second',
    help: 'Responses per second by class over the last 10 s sample.',
    cls: c,
    value: (r) => rate(r[`r${c}`], r),
  })),
  { name: 'berth_app_response_time_avg_seconds', help: "HAProxy's average response time (last 1024 requests); not a percentile.", value: (r) => (r.response_ms === null ? null : r.response_ms / 1000) },
  ...([['0.5', 'p50_ms'], ['0.95', 'p95_ms'], ['0.99', 'p99_ms']] as const).map(([q, col]): Metric => ({
    name: 'berth_app_response_time_seconds',
    help: 'Response-time percentiles of the requests of the last 10 s sample (each request timed by the router).',
    quantile: q,
    value: (r) => (r[col] === null ? null : r[col] / 1000),
  })),
  { name: 'berth_app_open_connections', help: 'Open connections through the router (requests in flight, WebSockets, streams).', value: (r) => r.sessions },
  { name: 'berth_app_cpu_percent', help: 'CPU use, 100 = one core busy.', value: (r) => r.cpu_percent },
  { name: 'berth_app_memory_bytes', help: 'Memory in use, page cache left out.', value: (r) => (r.memory_mb === null ? null : Math.round(r.memory_mb * 1024 * 1024)) },
  { name: 'berth_app_restarts', help: 'Container restarts by the engine in the last 10 s sample.', value: (r) => r.restarts },
];

/**
 * The newest 10 s sample of every app (replica=""), process type (process_type="worker",
 * replica="") and replica slot (process_type="web", replica="0") the user can see, as gauges in
 * Prometheus' text format. Gauges of the last interval, not counters: Berth keeps counts per
 * bucket, and a scrape every 10 s or more sees every bucket.
 */
export async function prometheusText(db: Db, userId: string, nowS: number): Promise<string> {
  const apps = await appsVisibleTo(db, userId);
  const byId = new Map(apps.map((a) => [a.id, a]));
  const rows = await samplesSince(db, FINE_S, nowS - 6 * FINE_S, nowS + FINE_S, apps.map((a) => a.id));
  const latest = new Map<string, MetricRow>();
  for (const r of rows) latest.set(`${r.app_id}\n${r.replica}`, r); // rows come oldest first
  const out: string[] = [];
  const described = new Set<string>();
  for (const m of METRICS) {
    if (!described.has(m.name)) {
      out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} gauge`);
      described.add(m.name);
    }
    for (const r of latest.values()) {
      const v = m.value(r);
      const a = byId.get(r.app_id);
      if (v === null || !a) continue;
      // The app's own series keep the labels they had before process types (no process_type).
      const { type, replica } = parseKey(r.replica);
      const labels = [`project="${label(a.project)}"`, `app="${label(a.slug)}"`, ...(type === null ? [] : [`process_type="${label(type)}"`]), `replica="${replica === null ? '' : replica}"`, ...(m.cls ? [`class="${m.cls}"`] : []), ...(m.quantile ? [`quantile="${m.quantile}"`] : [])];
      out.push(`${m.name}{${labels.join(',')}} ${Number(v.toFixed(6))}`);
    }
  }
  return out.join('\n') + '\n';
}
