import type { BerthClient } from '../../src/client/index.js';
import type { RouteOutput } from '../../src/api/contract/index.js';
import { run } from '../../src/lib/exec.js';
import { waitFor } from './wait.js';

export type Release = RouteOutput<'getRelease'>;
export type Container = RouteOutput<'getContainer'>;

/** Waits until a release is no longer pending or deploying, and returns it. */
export function settled(c: BerthClient, app: string, version: number, timeoutMs = 120_000): Promise<Release> {
  return waitFor(
    `${app} v${version} to settle`,
    async () => {
      const r = await c.call('getRelease', { params: { id: app, version } });
      return r.status === 'pending' || r.status === 'deploying' ? undefined : r;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** Waits until the app has exactly n containers, all healthy and in rotation (optionally of one release). */
export async function healthy(c: BerthClient, app: string, n: number, opts: { release?: number; timeoutMs?: number } = {}): Promise<Container[]> {
  let last: unknown;
  let ids: string[] = [];
  try {
    return await waitFor(
      `${app} to have ${n} healthy replicas in rotation`,
      async () => {
        const items = (await c.call('listContainers', { query: { app } })).items;
        last = items.map((x) => `${x.name}:${x.status}:${x.in_rotation}`);
        ids = items.map((x) => x.docker_id).filter((id): id is string => !!id);
        const ok = items.length === n && items.every((x) => x.status === 'healthy' && x.in_rotation && (opts.release === undefined || x.release === opts.release));
        return ok ? items : undefined;
      },
      { timeoutMs: opts.timeoutMs ?? 120_000, intervalMs: 200 },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last)}; the engine says: ${await engineSays(ids)}`, { cause: err });
  }
}

/** What the engine says of the containers, for a failure's message. */
async function engineSays(ids: string[]): Promise<string> {
  if (!ids.length) return 'nothing';
  const format = '{{.Name}} {{.State.Status}} exit={{.State.ExitCode}} error={{json .State.Error}} restarts={{.RestartCount}} started={{.State.StartedAt}} finished={{.State.FinishedAt}}';
  const r = await run('docker', ['inspect', '--format', format, ...ids], { timeoutMs: 20_000 }).catch((err: Error) => ({ stdout: '', stderr: err.message }));
  return JSON.stringify((r.stdout + r.stderr).trim().split('\n'));
}
