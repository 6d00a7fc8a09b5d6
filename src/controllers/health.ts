import type { Containers } from '../runtime/types.js';
import type { Clock, Probe, ProbeAnswer } from './deps.js';
import { diagnoseListening, explainExit } from './explain.js';

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
export async function probe(url: string, timeoutMs = 2000): Promise<ProbeAnswer> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.body?.cancel();
    return { healthy: res.status < 500, said: `HTTP ${res.status}` };
  } catch (err) {
    return { healthy: false, said: failureInWords(err, timeoutMs) };
  }
}

function failureInWords(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const code = e.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection closed without an answer';
  return code ? `no HTTP answer (${code})` : 'no HTTP answer';
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

/** The verdict on a container that exited before it answered: why, in words, and its last log lines. */
export async function exitedEarly(
  runtime: Pick<Containers, 'logs'>,
  dockerId: string,
  code: number | null | undefined,
  more: { oomKilled?: boolean; memoryMb?: number } = {},
): Promise<HealthError> {
  return new HealthError(explainExit({ exitCode: code, ...more }), await lastLogLines(runtime, dockerId));
}

/** A replica listening on another port than its own is certain once it has lasted this long (an app may open an admin port first). */
const OTHER_PORT_CERTAIN_MS = 5000;

/**
 * Waits until the container answers its health check, or fails with the reason and the last lines
 * of its log: as soon as the cause is certain (it exited, was killed for memory, listens only on a
 * loopback address, or on other ports for a while), or when timeoutMs passes, saying what the last
 * probe got and what the container listens on.
 */
export async function waitHealthy(
  kit: { replicas: Pick<Containers, 'inspectContainer' | 'logs' | 'listening'>; clock: Clock; probe: Probe },
  dockerId: string,
  url: string,
  opts: { timeoutMs: number; graceMs: number; signal?: AbortSignal; lastExitCode?: () => number | null | undefined; oomSeen?: () => boolean },
): Promise<void> {
  const { replicas: runtime, clock } = kit;
  const deadline = clock.now() + opts.graceMs + opts.timeoutMs;
  const port = Number(new URL(url).port);
  let last: ProbeAnswer | null = null;
  let listening = '';
  let otherPortSince: number | null = null;
  if (opts.graceMs > 0) await clock.sleep(opts.graceMs, opts.signal);
  for (;;) {
    if (opts.signal?.aborted) throw new Canceled();
    const info = await runtime.inspectContainer(dockerId);
    if (!info) throw new HealthError('the container disappeared', []);
    if (info.state === 'exited' || info.state === 'dead' || info.restartCount > 0) {
      // Docker may have restarted it already, so the engine's event is the surer source of the code.
      throw await exitedEarly(runtime, dockerId, info.exitCode ?? opts.lastExitCode?.(), { oomKilled: info.oomKilled || !!opts.oomSeen?.(), memoryMb: info.memoryMb });
    }
    if (info.state === 'running') {
      last = await kit.probe(url);
      if (last.healthy) return;
      // No HTTP answer at all: the sockets it listens on may say why, for certain.
      const sockets = !last.said.startsWith('HTTP') && runtime.listening ? await runtime.listening(dockerId).catch(() => null) : null;
      if (sockets) {
        const d = diagnoseListening(sockets, port);
        if (d.kind === 'loopback') throw new HealthError(d.message, await lastLogLines(runtime, dockerId));
        if (d.kind === 'other-port') {
          otherPortSince ??= clock.now();
          if (clock.now() - otherPortSince >= OTHER_PORT_CERTAIN_MS) throw new HealthError(d.message, await lastLogLines(runtime, dockerId));
        } else otherPortSince = null;
        listening = d.kind === 'reachable' ? '' : `; ${d.message}`;
      }
    }
    if (clock.now() > deadline) {
      const got = last ? `; the last probe got ${last.said}` : '';
      throw new HealthError(
        `no healthy answer from ${new URL(url).pathname} within ${Math.round(opts.timeoutMs / 1000)} s${got}${listening}`,
        await lastLogLines(runtime, dockerId),
      );
    }
    await clock.sleep(250, opts.signal);
  }
}
