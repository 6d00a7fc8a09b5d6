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

export function registerMetrics(program: Command) {
  program
    .command('metrics <app>')
    .description("an app's traffic as the router counts it (request rate, responses, open sessions, response times), and each replica's CPU and memory")
    .action(async (app: string, _o, cmd: Command) => {
      const m = await client(cmd).call('getAppMetrics', { params: { id: app } });
      emit(globals(cmd), m, () => metricsTable(m));
    });
}
