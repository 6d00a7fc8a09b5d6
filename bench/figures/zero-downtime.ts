import { startLoad } from '../../test/support/load.js';
import { waitFor } from '../../test/support/wait.js';
import type { BerthClient } from '../../src/client/index.js';
import type { Bench } from '../support/context.js';
import { row, type Row } from '../support/report.js';

const REPLICAS = 2;

/**
 * Failed requests (connection errors and 5xx) out of all sent through the router while a new
 * release of a two-replica app rolls out under continuous load. The baseline is the same redeploy
 * with the `recreate` strategy (stop the old replicas, then start the new ones), which is what
 * `docker stop` + `docker run` by hand amounts to behind a proxy.
 */
export async function zeroDowntime(b: Bench): Promise<Row[]> {
  const rolling = await redeployUnderLoad(b, 'rolling');
  const recreate = await redeployUnderLoad(b, 'recreate');
  return [
    row({
      group: 'zero-downtime',
      figure: 'rolling redeploy under load: failed requests',
      unit: 'requests',
      berth: rolling.failed,
      baseline: recreate.failed,
      baselineName: 'the same redeploy, strategy recreate',
      better: 'lower',
      note: `rolling: ${rolling.failed} failed of ${rolling.sent} (keep-alive, no resend); recreate: ${recreate.failed} of ${recreate.sent}; rollout took ${(rolling.ms / 1000).toFixed(1)} s vs ${(recreate.ms / 1000).toFixed(1)} s`,
    }),
  ];
}

async function redeployUnderLoad(b: Bench, strategy: 'rolling' | 'recreate') {
  const slug = b.appName(`zd-${strategy}`);
  const { s, dev } = await b.deployTestApp(slug, REPLICAS, { strategy });
  const load = startLoad({ port: s.routerPort, host: `${slug}.localhost`, concurrency: 4, maxMs: 180_000 });
  const t0 = performance.now();
  let ms = 0;
  let failure: unknown;
  try {
    // Let the load run steadily before and after, so the rollout sits inside it.
    await new Promise((r) => setTimeout(r, 1000));
    const res = await dev.call('setEnv', { params: { id: slug }, body: { set: { BENCH_RELEASE: '2' } } });
    await settled(dev, slug, res.release!.version);
    ms = performance.now() - t0 - 1000;
    await b.healthy(dev, slug, REPLICAS);
    await new Promise((r) => setTimeout(r, 1000));
  } catch (err) {
    failure = err;
  }
  const result = await load.stop();
  if (failure) throw failure;
  await dev.call('deleteApp', { params: { id: slug } });
  return { ...result, ms };
}

function settled(dev: BerthClient, slug: string, version: number) {
  return waitFor(
    `${slug} v${version} to go live`,
    async () => {
      const r = await dev.call('getRelease', { params: { id: slug, version } });
      return r.status === 'pending' || r.status === 'deploying' ? undefined : r;
    },
    { timeoutMs: 180_000, intervalMs: 100 },
  ).then((r) => {
    if (r.status !== 'live') throw new Error(`release v${version} ended ${r.status}: ${r.reason}`);
    return r;
  });
}
