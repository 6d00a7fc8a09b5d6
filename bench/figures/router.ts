import { compare, type LoadStats, type Target } from '../support/load.js';
import { row, type Row } from '../support/report.js';
import type { Bench } from '../support/context.js';

const CONCURRENCY = 16;
const LOAD = { concurrency: CONCURRENCY, warmupMs: 500, maxRequests: 100_000 };
const ROUNDS = 4;
const ROUND_MS = 2500;

/**
 * Requests/s and latency of a small JSON answer through Caddy, against the same replicas reached
 * directly at their bridge addresses (with three replicas the generator spreads requests over the
 * three itself, as Caddy does).
 */
export async function router(b: Bench): Promise<Row[]> {
  const rows: Row[] = [];
  const slug = b.appName('router');
  const { s, dev } = await b.deployTestApp(slug, 1);
  for (const n of [1, 3]) {
    if (n > 1) {
      await dev.call('scaleApp', { params: { id: slug }, body: { replicas: n } });
      await b.healthy(dev, slug, n);
    }
    const ips = await b.replicaAddresses(dev, slug);
    if (ips.length !== n) throw new Error(`expected ${n} replica addresses, got ${ips.length}`);
    const viaCaddy: Target[] = [{ address: '127.0.0.1', port: s.routerPort, host: `${slug}.localhost`, path: '/health' }];
    const direct: Target[] = ips.map((ip) => ({ address: ip, port: 8080, path: '/health' }));
    const [berth, base] = await compare({ ...LOAD, targets: viaCaddy }, { ...LOAD, targets: direct }, ROUNDS, ROUND_MS);
    check(berth, 'through the router');
    check(base, 'direct');
    const label = `${n} replica${n > 1 ? 's' : ''}`;
    const baselineName = n > 1 ? `the ${n} containers directly, round robin` : 'the same container directly';
    const note = `concurrency ${CONCURRENCY}, keep-alive, GET /health (~16 B JSON); ${berth.requests} vs ${base.requests} requests`;
    rows.push(
      row({ group: 'router', figure: `router ${label}: throughput`, unit: 'req/s', berth: berth.rps, baseline: base.rps, baselineName, better: 'higher', note }),
      row({ group: 'router', figure: `router ${label}: p50 latency`, unit: 'ms', berth: berth.p50Ms, baseline: base.p50Ms, baselineName, better: 'lower', note }),
      row({ group: 'router', figure: `router ${label}: p99 latency`, unit: 'ms', berth: berth.p99Ms, baseline: base.p99Ms, baselineName, better: 'lower', note }),
    );
  }
  await dev.call('deleteApp', { params: { id: slug } });
  return rows;
}

function check(st: LoadStats, what: string) {
  if (st.requests === 0 || st.errors > 0 || st.non2xx > 0) {
    throw new Error(`load ${what}: ${st.requests} answered, ${st.errors} errors, ${st.non2xx} not 2xx (${st.firstError ?? ''})`);
  }
}
