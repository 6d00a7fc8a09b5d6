import { startLoad } from '../../test/support/load.js';
import { statusOf, timeUntil, type Bench } from '../support/context.js';
import { row, type Row } from '../support/report.js';

const TO = 10;

/**
 * From the scale call (1 -> 10) until ten distinct replicas have answered through the router
 * (the test app names its hostname), against nine more `docker run -d` started at once by hand
 * plus polling each new container until all ten answer.
 */
export async function scale(b: Bench): Promise<Row[]> {
  const slug = b.appName('scale');
  const { s, dev } = await b.deployTestApp(slug, 1);
  const load = startLoad({ port: s.routerPort, host: `${slug}.localhost`, concurrency: 4, maxMs: 180_000 });
  let berthMs: number;
  let failed: number;
  try {
    const t0 = performance.now();
    await dev.call('scaleApp', { params: { id: slug }, body: { replicas: TO } });
    berthMs = await timeUntil(t0, async () => load.result.hostnames.size >= TO, `${TO} replicas answering through the router`, 180_000);
  } finally {
    failed = (await load.stop()).failed;
  }
  await dev.call('deleteApp', { params: { id: slug } });

  const image = await b.image();
  const first = await b.dockerRun(image);
  const firstIp = await b.containerIp(first);
  await timeUntil(performance.now(), async () => (await statusOf(`http://${firstIp}:8080/`)) === 200, 'the first baseline container');
  const t1 = performance.now();
  const more = await Promise.all(
    Array.from({ length: TO - 1 }, async () => {
      const id = await b.dockerRun(image);
      const ip = await b.containerIp(id);
      return timeUntil(t1, async () => (await statusOf(`http://${ip}:8080/`)) === 200, 'a baseline replica');
    }),
  );
  const baseMs = Math.max(...more);
  return [
    row({
      group: 'scale',
      figure: `scale 1 -> ${TO}: all serving`,
      unit: 's',
      berth: berthMs / 1000,
      baseline: baseMs / 1000,
      baselineName: `${TO - 1} parallel docker run + poll each`,
      better: 'lower',
      note: `${failed} failed requests through the router while scaling`,
    }),
  ];
}
