import { viaRouter } from '../../test/support/load.js';
import { median, statusOf, timeUntil, type Bench } from '../support/context.js';
import { row, type Row } from '../support/report.js';

const TRIALS = 3;

/**
 * From the deploy call (image present, app created, project network already there) to the first
 * 200 through the router, against `docker run -d` of the same image on a user network plus polling
 * its address until the first 200. Both poll every 20 ms; the median of three trials each.
 */
export async function deploy(b: Bench): Promise<Row[]> {
  const { s, dev } = await b.shared();
  const image = await b.image();
  // One deploy first, so the project network exists and neither side pays for making it.
  const warm = b.appName('deploy-warm');
  await b.deployTestApp(warm, 1);
  await dev.call('deleteApp', { params: { id: warm } });
  await b.baselineNetwork();

  const berth: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const slug = b.appName('deploy');
    await dev.call('createApp', { body: { name: slug, project: 'bench', health_check: { path: '/health', timeout_s: 60, grace_s: 0 } } });
    const t0 = performance.now();
    await dev.call('deployApp', { params: { id: slug }, body: { image_id: image, replicas: 1 } });
    berth.push(
      await timeUntil(t0, async () => (await viaRouter(s.routerPort, `${slug}.localhost`, '/', undefined, 2000).catch(() => ({ status: 0 }))).status === 200, `${slug} to answer`),
    );
    await dev.call('deleteApp', { params: { id: slug } });

    const t1 = performance.now();
    const id = await b.dockerRun(image);
    const ip = await b.containerIp(id);
    base.push(await timeUntil(t1, async () => (await statusOf(`http://${ip}:8080/`)) === 200, 'the baseline container to answer'));
  }
  const note = `median of ${TRIALS}: Berth ${berth.map((x) => x.toFixed(0)).join(', ')} ms; docker run ${base.map((x) => x.toFixed(0)).join(', ')} ms`;
  return [
    row({
      group: 'deploy',
      figure: 'deploy: call to first 200',
      unit: 's',
      berth: median(berth) / 1000,
      baseline: median(base) / 1000,
      baselineName: 'docker run + poll until 200',
      better: 'lower',
      note,
    }),
  ];
}
