import type { Containers } from '../runtime/types.js';
import type { Clock, Probe } from './deps.js';

export class HealthError extends Error {
  constructor(
    message: string,
    readonly logTail: string[],
  ) {
    super(message);
  }
}

/** The control plane is stopping: not a verdict on the replica, which the next start picks up again. */
export class Canceled extends Error {
  constructor() {
    super('canceled: the control plane is stopping');
  }
}

/** One probe: any answer below 500 counts as healthy (a 404 on / still means the app is up). */
export async function probe(url: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.body?.cancel();
    return res.status < 500;
  } catch {
    return false;
  }
}

export async function lastLogLines(runtime: Pick<Containers, 'logs'>, dockerId: string, n = 20): Promise<string[]> {
  const lines: string[] = [];
  try {
    for await (const l of runtime.logs(dockerId, { tail: n, signal: AbortSignal.timeout(5000) })) lines.push(l.line);
  } catch {
    /* the container may be gone already */
  }
  return lines.slice(-n);
}

/** The verdict on a container that exited before it answered: its exit code and last log lines. */
export async function exitedEarly(runtime: Pick<Containers, 'logs'>, dockerId: string, code: number | null | undefined): Promise<HealthError> {
  return new HealthError(`the container exited with code ${code ?? 'unknown'} before it became healthy`, await lastLogLines(runtime, dockerId));
}

/**
 * Waits until the container answers its health check, or fails with the reason and the last lines
 * of its log: when it exits, or when timeoutMs passes.
 */
export async function waitHealthy(
  kit: { replicas: Pick<Containers, 'inspectContainer' | 'logs'>; clock: Clock; probe: Probe },
  dockerId: string,
  url: string,
  opts: { timeoutMs: number; graceMs: number; signal?: AbortSignal; lastExitCode?: () => number | null | undefined },
): Promise<void> {
  const { replicas: runtime, clock } = kit;
  const deadline = clock.now() + opts.graceMs + opts.timeoutMs;
  if (opts.graceMs > 0) await clock.sleep(opts.graceMs, opts.signal);
  for (;;) {
    if (opts.signal?.aborted) throw new Canceled();
    const info = await runtime.inspectContainer(dockerId);
    if (!info) throw new HealthError('the container disappeared', []);
    if (info.state === 'exited' || info.state === 'dead' || info.restartCount > 0) {
      // Docker may have restarted it already, so the engine's event is the surer source of the code.
      throw await exitedEarly(runtime, dockerId, info.exitCode ?? opts.lastExitCode?.());
    }
    if (info.state === 'running' && (await kit.probe(url))) return;
    if (clock.now() > deadline) {
      throw new HealthError(
        `no healthy answer from ${new URL(url).pathname} within ${Math.round(opts.timeoutMs / 1000)} s`,
        await lastLogLines(runtime, dockerId),
      );
    }
    await clock.sleep(250, opts.signal);
  }
}
