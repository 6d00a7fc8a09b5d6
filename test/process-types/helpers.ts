import type { BerthClient } from '../../src/client/index.js';
import { viaRouter } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import type { Container } from '../support/rollout.js';

/** The fixture app with a web and a worker process: the worker reports to web, web lists what it hears. */
export const NODE_WORKER = new URL('../../../test/fixtures/apps/node-worker/', import.meta.url).pathname;
/** The fixture app whose web fills a queue in its Redis add-on and whose workers take jobs from it. */
export const NODE_QUEUE = new URL('../../../test/fixtures/apps/node-queue/', import.meta.url).pathname;

export interface Seen {
  release: string;
  workers: { host: string; release: string; type: string }[];
}

/** Waits until the app runs exactly `web` healthy web replicas in rotation and `worker` running workers, all of one release. */
export async function formed(c: BerthClient, app: string, web: number, worker: number, release: number, timeoutMs = 90_000): Promise<Container[]> {
  let last: unknown;
  try {
    return await waitFor(`${app} at web=${web} worker=${worker} (v${release})`, async () => {
      const items = (await c.call('listContainers', { query: { app } })).items;
      last = items.map((x) => `${x.process_type}:${x.name}:${x.status}:${x.in_rotation}`);
      const webs = items.filter((x) => x.process_type === 'web' && x.status === 'healthy' && x.in_rotation && x.release === release);
      const workers = items.filter((x) => x.process_type === 'worker' && x.status === 'running' && !x.in_rotation && x.release === release);
      return items.length === web + worker && webs.length === web && workers.length === worker ? items : undefined;
    }, { timeoutMs, intervalMs: 250 });
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last)}`, { cause: err });
  }
}

/** What web hears from the workers, through the router: waits until exactly `n` distinct ones, all of `release`, report. */
export function heard(routerPort: number, host: string, n: number, release: string, timeoutMs = 30_000): Promise<Seen> {
  return waitFor(`web to hear ${n} worker(s) of ${release}`, async () => {
    const r = await viaRouter(routerPort, host, '/workers');
    if (r.status !== 200) return undefined;
    const seen = JSON.parse(r.body) as Seen;
    return seen.workers.length === n && seen.workers.every((w) => w.release === release) ? seen : undefined;
  }, { timeoutMs, intervalMs: 250 });
}

/** Waits until a container.crashed event names the replica (a worker killed behind Berth's back), and returns it. */
export function crashReported(c: BerthClient, app: string, containerId: string, timeoutMs: number) {
  return waitFor('the crash to be reported', async () => {
    const items = (await c.call('listEvents', { query: { app, limit: 1000 } })).items;
    return items.find((e) => e.kind === 'container.crashed' && (e.data as { container?: string } | null)?.container === containerId);
  }, { timeoutMs, intervalMs: 250 });
}
