import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HaproxyRouter } from '../../src/router/haproxy/router.js';
import { freePort, get, startUpstream, type Upstream } from '../../test/router/helpers.js';
import { percentile } from '../support/load.js';
import { row, type Row } from '../support/report.js';

const SAMPLES = 60;
const GOAL_MS = 50;

/**
 * From apply() with a new replica to the first request of a running load reaching it: one
 * HAProxyRouter of its own, small Node upstreams, 4 keep-alive clients sending without pause. Each
 * step adds one replica and retires the oldest (drained), so two are in rotation at all times.
 */
export async function routerJoin(): Promise<Row[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'berth-bench-join-'));
  const router = new HaproxyRouter({ dataDir, httpPort: await freePort(), httpsPort: await freePort(), listenHost: '127.0.0.1', drainPollMs: 20 });
  const ups: Upstream[] = [];
  const firstHit = new Map<Upstream, number>();
  const upstream = async (name: string) => {
    const up: Upstream = await startUpstream(name, (req) => {
      if (req.url === '/' && !firstHit.has(up)) firstHit.set(up, performance.now());
      return false;
    });
    ups.push(up);
    return up;
  };
  const route = (list: Upstream[]) => [{ app: 'join', hosts: ['join.localhost'], upstreams: list.map((u) => u.addr), healthPath: '/hc' }];
  let stop = false;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const clients: Promise<void>[] = [];
  const samples: number[] = [];
  try {
    let live = [await upstream('u0'), await upstream('u1')];
    await router.apply(route(live));
    for (let i = 0; i < 4; i++) {
      clients.push(
        (async () => {
          while (!stop) await get(router.opts.httpPort, 'join.localhost', '/', agent).catch(() => undefined);
        })(),
      );
    }
    for (let i = 0; i < SAMPLES; i++) {
      const next = await upstream(`n${i}`);
      const t0 = performance.now();
      await router.apply(route([...live, next]));
      while (!firstHit.has(next)) await new Promise((r) => setImmediate(r));
      samples.push(firstHit.get(next)! - t0);
      const [oldest, ...rest] = live;
      live = [...rest, next];
      await router.apply(route(live));
      await oldest.close();
    }
  } finally {
    stop = true;
    await Promise.all(clients);
    agent.destroy();
    await router.stop();
    for (const u of ups) await u.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
  samples.sort((a, b) => a - b);
  const note = `${SAMPLES} replicas added under a 4-connection keep-alive load; from apply() to the first request at the new replica`;
  return [
    row({ group: 'router', figure: 'replica join to first request: p50', unit: 'ms', berth: percentile(samples, 50), baseline: GOAL_MS, baselineName: 'goal (p99)', better: 'lower', note }),
    row({ group: 'router', figure: 'replica join to first request: p99', unit: 'ms', berth: percentile(samples, 99), baseline: GOAL_MS, baselineName: 'goal', better: 'lower', note }),
  ];
}
