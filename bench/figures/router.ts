import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { row, type Row } from '../support/report.js';
import type { Bench } from '../support/context.js';
import { treeCpuMs, treeRssMb } from '../support/rss.js';
import { startCaddy, startNginx, startStaticHaproxy, type StaticProxy } from '../support/proxies.js';
import { wrk, type WrkStats } from '../support/wrk.js';

const CONNECTIONS = 16;
const ROUNDS = 5;
const SECONDS = 5;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Requests/s and p50/p99 of a small JSON answer (wrk -t2 -c16, keep-alive) through Berth's HAProxy,
 * against the same container reached directly, through a static nginx-light reverse proxy with
 * keep-alive upstream connections, and through a static Caddy 2.6 (Berth's router before). The
 * targets take turns, round after round, so a noisy neighbour hits all alike; medians of the rounds.
 * Also the router's resident memory, idle and under that load, beside Caddy's.
 */
export async function router(b: Bench): Promise<Row[]> {
  const slug = b.appName('router');
  const { s, dev } = await b.deployTestApp(slug, 1);
  const [ip] = await b.replicaAddresses(dev, slug);
  const upstream = `${ip}:8080`;
  const proxies: StaticProxy[] = [];
  try {
    const nginx = await startNginx(upstream);
    proxies.push(nginx);
    const caddy = await startCaddy(upstream);
    proxies.push(caddy);
    const bare = await startStaticHaproxy(upstream);
    proxies.push(bare);
    const ringed = await startStaticHaproxy(upstream, { timingRing: true });
    proxies.push(ringed);
    const haproxyPid = Number(readFileSync(join(s.dataDir, 'haproxy', 'haproxy.pid'), 'utf8'));
    const idle = { haproxy: await treeRssMb(haproxyPid), caddy: await treeRssMb(caddy.pid) };
    const targets = {
      berth: { address: '127.0.0.1', port: s.routerPort, host: `${slug}.localhost`, path: '/health' },
      direct: { address: ip, port: 8080, path: '/health' },
      nginx: { address: '127.0.0.1', port: nginx.port, host: `${slug}.localhost`, path: '/health' },
      caddy: { address: '127.0.0.1', port: caddy.port, path: '/health' },
      haproxy: { address: '127.0.0.1', port: bare.port, path: '/health' },
      ringed: { address: '127.0.0.1', port: ringed.port, path: '/health' },
    };
    const runs: Record<keyof typeof targets, WrkStats[]> = { berth: [], direct: [], nginx: [], caddy: [], haproxy: [], ringed: [] };
    // The proxy's process tree, whose CPU time per request is measured (the direct target has none).
    const proxyPid = { berth: haproxyPid, nginx: nginx.pid, caddy: caddy.pid, haproxy: bare.pid, ringed: ringed.pid } as const;
    const cpuUs: Record<keyof typeof proxyPid, number[]> = { berth: [], nginx: [], caddy: [], haproxy: [], ringed: [] };
    const loaded = { haproxy: 0, caddy: 0 };
    for (let i = 0; i < ROUNDS; i++) {
      for (const name of Object.keys(targets) as (keyof typeof targets)[]) {
        const pid = name === 'direct' ? undefined : proxyPid[name];
        const cpu0 = pid ? treeCpuMs(pid) : 0;
        const pending = wrk(targets[name], CONNECTIONS, SECONDS);
        if (name === 'berth' || name === 'caddy') {
          await new Promise((r) => setTimeout(r, (SECONDS * 1000) / 2));
          const key = name === 'berth' ? 'haproxy' : 'caddy';
          loaded[key] = Math.max(loaded[key], await treeRssMb(pid!));
        }
        const st = await pending;
        if (st.errors > 0 || st.requests === 0) throw new Error(`wrk ${name}: ${st.requests} requests, ${st.errors} errors`);
        runs[name].push(st);
        if (name !== 'direct') cpuUs[name].push(((treeCpuMs(pid!) - cpu0) * 1000) / st.requests);
      }
    }
    const m = (name: keyof typeof targets, k: 'rps' | 'p50Ms' | 'p99Ms') => median(runs[name].map((r) => r[k]));
    const note = `wrk -t2 -c${CONNECTIONS} -d${SECONDS}s, keep-alive, GET /health (~16 B JSON), median of ${ROUNDS} alternating rounds`;
    const rows: Row[] = [];
    for (const [base, baselineName] of [
      ['nginx', 'static nginx-light, keep-alive upstream'],
      ['direct', 'the same container directly'],
      ['caddy', 'static Caddy 2.6 (the router before)'],
      ['haproxy', 'the same HAProxy, a bare two-line config'],
    ] as const) {
      rows.push(
        row({ group: 'router', figure: 'router: throughput', unit: 'req/s', berth: m('berth', 'rps'), baseline: m(base, 'rps'), baselineName, better: 'higher', note }),
        row({ group: 'router', figure: 'router: p50 latency', unit: 'ms', berth: m('berth', 'p50Ms'), baseline: m(base, 'p50Ms'), baselineName, better: 'lower', note }),
        row({ group: 'router', figure: 'router: p99 latency', unit: 'ms', berth: m('berth', 'p99Ms'), baseline: m(base, 'p99Ms'), baselineName, better: 'lower', note }),
      );
    }
    // What the per-request timing line costs by itself: the bare HAProxy with and without it.
    const ringNote = `the bare two-line HAProxy plus a line per request (httplog format) into an in-memory ring, as Berth's router writes for percentiles; ${note}`;
    rows.push(
      row({ group: 'router', figure: 'router: timing ring, throughput', unit: 'req/s', berth: m('ringed', 'rps'), baseline: m('haproxy', 'rps'), baselineName: 'the same bare HAProxy without it', better: 'higher', note: ringNote }),
      row({ group: 'router', figure: 'router: timing ring, p50 latency', unit: 'ms', berth: m('ringed', 'p50Ms'), baseline: m('haproxy', 'p50Ms'), baselineName: 'the same bare HAProxy without it', better: 'lower', note: ringNote }),
      row({ group: 'router', figure: 'router: timing ring, CPU per request', unit: 'us', berth: median(cpuUs.ringed), baseline: median(cpuUs.haproxy), baselineName: 'the same bare HAProxy without it', better: 'lower', note: ringNote }),
    );
    const cpuNote = `user + system CPU time of the proxy's processes during a round, over its requests; ${note}`;
    for (const [base, baselineName] of [
      ['nginx', 'static nginx-light, keep-alive upstream'],
      ['haproxy', 'the same HAProxy, a bare two-line config'],
    ] as const) {
      const berth = median(cpuUs.berth);
      rows.push(row({ group: 'router', figure: 'router: proxy CPU per request', unit: 'us', berth, baseline: median(cpuUs[base]), baselineName, better: 'lower', note: cpuNote }));
    }
    const memNote = 'resident memory of the whole process tree (master + workers)';
    rows.push(
      row({ group: 'router', figure: 'router memory, idle', unit: 'MB', berth: idle.haproxy, baseline: idle.caddy, baselineName: 'static Caddy 2.6, idle', better: 'lower', note: memNote }),
      row({ group: 'router', figure: 'router memory, under load', unit: 'MB', berth: loaded.haproxy, baseline: loaded.caddy, baselineName: 'static Caddy 2.6, same load', better: 'lower', note: memNote }),
    );
    return rows;
  } finally {
    for (const p of proxies) await p.stop();
    await dev.call('deleteApp', { params: { id: slug } });
  }
}
