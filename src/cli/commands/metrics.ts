import type { Command } from 'commander';
import { client, globals } from '../session.js';
import { emit, table } from '../output.js';
import type { RouteOutput } from '../../api/contract/index.js';

type Metrics = RouteOutput<'getAppMetrics'>;
type Traffic = Metrics['total'];

type Use = { cpu_percent: number | null; memory_mb: number | null };

function row(name: string, t: Traffic, status = '', use?: Use) {
  const r = t.responses;
  return {
    cpu: use?.cpu_percent == null ? '' : `${use.cpu_percent}%`,
    mem: use?.memory_mb == null ? '' : `${use.memory_mb} MB`,
    name,
    status,
    rate: `${t.requests_per_s}/s`,
    total: String(t.requests_total),
    classes: `${r['2xx']} / ${r['3xx']} / ${r['4xx']} / ${r['5xx']}`,
    open: String(t.current_sessions),
    time: `${t.avg_ms.response} / ${t.avg_ms.total} ms`,
  };
}

export function metricsTable(m: Metrics): string {
  const rows = [row(m.app, m.total), ...m.replicas.map((r) => row(`  ${r.name ?? r.upstream}`, r, r.status, r))];
  return table(rows, [
    ['name', 'App / replica'],
    ['status', 'Status'],
    ['rate', 'Req/s'],
    ['total', 'Requests'],
    ['classes', '2xx / 3xx / 4xx / 5xx'],
    ['open', 'Open'],
    ['time', 'Avg response / total'],
    ['cpu', 'CPU'],
    ['mem', 'Memory'],
  ]);
}

type Series = Metrics['history']['series'][number];
const newest = (v: (number | null)[]) => [...v].reverse().find((x) => x !== null) ?? null;

/** A process type's sampled history: its total and each replica, the newest CPU and memory, restarts over the range. */
export function typeTable(m: Metrics): string {
  const name = (s: Series) => (s.replica === null ? `all ${s.type} replicas` : `  ${s.type} ${s.replica}`);
  const rows = m.history.series.map((s) => {
    const cpu = newest(s.cpu_percent);
    const mem = newest(s.memory_mb);
    return {
      name: name(s),
      cpu: cpu === null ? '' : `${cpu}%`,
      mem: mem === null ? '' : `${mem} MB`,
      restarts: String(s.restarts.reduce<number>((n, x) => n + (x ?? 0), 0)),
    };
  });
  return table(rows, [
    ['name', 'Type / replica'],
    ['cpu', 'CPU'],
    ['mem', 'Memory'],
    ['restarts', 'Restarts (1 h)'],
  ]);
}

export function registerMetrics(program: Command) {
  program
    .command('metrics <app>')
    .description("an app's traffic as the router counts it (request rate, responses, open sessions, response times), and each replica's CPU and memory")
    .option('--type <type>', "a process type's sampled history instead (web, worker, ...): its total's and each replica's newest CPU and memory, restarts over the last hour")
    .action(async (app: string, o: { type?: string }, cmd: Command) => {
      const m = await client(cmd).call('getAppMetrics', { params: { id: app }, query: o.type === undefined ? {} : { type: o.type } });
      emit(globals(cmd), m, () => (o.type === undefined ? metricsTable(m) : typeTable(m)));
    });
}
