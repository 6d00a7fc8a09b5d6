import { setTimeout as sleep } from 'node:timers/promises';
import type { EngineEvents, RuntimeEvent } from '../types.js';
import type { EngineService, EngineTask } from './replica-service.js';
import { isTaskContainer, labelFilter, SwarmApi } from './service-api.js';

export interface SwarmEventsOptions {
  /** The manager's own engine: its container events (the replicas' task containers left out) and its ping. */
  local: EngineEvents;
  dockerHost?: string;
  callTimeoutMs?: number;
}

/**
 * Replica events in cluster mode: the manager's engine's container events, merged with what the
 * replicas' tasks do on every node (seen by watching the tasks).
 */
export class SwarmEvents implements EngineEvents {
  private readonly swarm: SwarmApi;

  constructor(private readonly opts: SwarmEventsOptions) {
    this.swarm = new SwarmApi(opts.dockerHost ?? process.env.DOCKER_HOST, opts.callTimeoutMs ?? 30_000);
  }

  /** The manager's engine answers (the Swarm's API is that engine's). */
  ping(): Promise<void> {
    return this.opts.local.ping();
  }

  events(labels: Record<string, string>, signal: AbortSignal): AsyncIterable<RuntimeEvent> {
    return merge([withoutTasks(this.opts.local.events(labels, signal)), this.taskEvents(labels, signal)]);
  }

  /**
   * The engine's container events cover the manager's containers only: a replica's task dying on
   * another node is seen by watching the tasks (every second). A running task that ended is a `die`
   * of its service (with the exit code), a task that came up a `start`, a service that went a `destroy`.
   */
  private async *taskEvents(labels: Record<string, string>, signal: AbortSignal): AsyncGenerator<RuntimeEvent> {
    const seen = new Map<string, { labels: Record<string, string>; running: Set<string> }>();
    let first = true;
    while (!signal.aborted) {
      let services: EngineService[];
      let tasks: EngineTask[];
      try {
        services = await this.swarm.services(labelFilter(labels));
        tasks = services.length ? await this.swarm.tasks(services.map((s) => s.ID)) : [];
      } catch {
        // Not a manager yet (before `cluster init`), or the engine is away: the local event stream says so.
        await sleep(5000, undefined, { signal }).catch(() => undefined);
        continue;
      }
      const now = new Date().toISOString();
      const out: RuntimeEvent[] = [];
      for (const s of services) {
        // A task on a node that died still says `running` (nobody can tell it otherwise); Swarm gives up on it by
        // changing its desired state when it starts the replacement: that is when the replica died for Berth.
        const running = new Set(tasks.filter((t) => t.ServiceID === s.ID && t.Status.State === 'running' && t.DesiredState === 'running').map((t) => t.ID));
        const before = seen.get(s.ID);
        const base = { containerId: s.ID, labels: s.Spec.Labels ?? {}, time: now };
        for (const t of tasks.filter((x) => x.ServiceID === s.ID && before?.running.has(x.ID) && !running.has(x.ID))) {
          out.push({ ...base, action: 'die', exitCode: t.Status.ContainerStatus?.ExitCode ?? null });
        }
        if (before && [...running].some((t) => !before.running.has(t))) out.push({ ...base, action: 'start', exitCode: null });
        seen.set(s.ID, { labels: s.Spec.Labels ?? {}, running });
      }
      for (const [id, s] of seen) {
        if (services.some((x) => x.ID === id)) continue;
        seen.delete(id);
        out.push({ action: 'destroy', containerId: id, labels: s.labels, exitCode: null, time: now });
      }
      if (!first) yield* out;
      first = false;
      await sleep(1000, undefined, { signal }).catch(() => undefined);
    }
  }
}

async function* withoutTasks(events: AsyncIterable<RuntimeEvent>): AsyncGenerator<RuntimeEvent> {
  for await (const e of events) if (!isTaskContainer(e.labels)) yield e;
}

/** Every item of every source as it comes; ends when all of them ended. */
async function* merge<T>(sources: AsyncIterable<T>[]): AsyncGenerator<T> {
  const its = sources.map((s) => s[Symbol.asyncIterator]());
  const next = (i: number) => its[i]!.next().then((r) => ({ i, r }));
  const pending = new Map(its.map((_, i) => [i, next(i)]));
  while (pending.size) {
    const { i, r } = await Promise.race(pending.values());
    if (r.done) {
      pending.delete(i);
      continue;
    }
    pending.set(i, next(i));
    yield r.value;
  }
}
