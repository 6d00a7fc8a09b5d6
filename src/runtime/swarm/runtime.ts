import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { messageOf, statusOf } from '../engine-api.js';
import { LABEL } from '../labels.js';
import { demuxUntil } from '../log-stream.js';
import { ImageUnavailable, type ContainerInfo, type ContainerSpec, type ContainerStats, type Containers, type Images, type LogLine, type LogOptions, type Volumes } from '../types.js';
import { ENDED, failures, replicaService, toContainerInfo, type EngineService, type EngineTask } from './replica-service.js';
import { isTaskContainer, labelFilter, refusal, SwarmApi, withStatus, type PullAuth } from './service-api.js';
import { volumePin } from './volume-placement.js';

export type { PullAuth } from './service-api.js';

export interface SwarmRuntimeOptions {
  /**
   * The manager's own engine's containers: those carrying replica labels that are not services
   * (made before cluster mode, on this engine) are listed beside the services and handled there.
   */
  local: Containers;
  /** The manager's images: a replica's image and the user it runs as are read there. */
  images: Pick<Images, 'inspectImage' | 'imageUser'>;
  /** The manager's volumes: a replica with volumes is pinned to the manager, its volumes made there first. */
  volumes: Pick<Volumes, 'ensureVolume'>;
  dockerHost?: string;
  /**
   * Where every node pulls a replica's image from: given the replica's spec (its `berth.app` and
   * `berth.version` labels name the release), the reference to run and the credentials to pull it
   * with (Berth's registry publishes the release's image); it throws when it cannot (no registry
   * running), which fails the release. Absent: the spec's image as it is, which every node must
   * already have.
   */
  imageFor?: (spec: ContainerSpec) => Promise<{ image: string; auth?: PullAuth }>;
  /** Grace a stopping replica gets between SIGTERM and SIGKILL (set on its service). */
  stopGraceS: number;
  callTimeoutMs?: number;
  /** How long a started replica may take to have a running task (scheduling, image pull). */
  startTimeoutMs?: number;
  pollMs?: number;
}

/**
 * A container id of the manager's own engine (a replica made there before cluster mode, or any
 * container listed beside the services): handled by `local`. A service id is shorter.
 */
const LOCAL_ID = /^[0-9a-f]{64}$/;
/** A replica whose tasks failed this often since its start is refused, like a container the engine cannot start. */
const MAX_START_FAILURES = 3;

/**
 * App replicas in cluster mode (the Containers port of the app controller). Each replica is a Swarm
 * service of one task on the project's overlay, placed by the Swarm; started = 1 task, stopped = 0.
 * The id the app controller keeps is the service's. Networks, engine events, and everything that is
 * no replica (one-off commands, add-ons, helpers, builds, images, volumes) are other ports, wired
 * by server/main.ts to the manager's engine or to swarm/networks.ts and swarm/events.ts.
 */
export class SwarmRuntime implements Containers {
  private readonly swarm: SwarmApi;
  private readonly local: Containers;
  private readonly pollMs: number;
  /** The manager's own node in the Swarm (where its engine's volumes are), once known. */
  private localNode: string | null = null;

  constructor(private readonly opts: SwarmRuntimeOptions) {
    this.local = opts.local;
    this.pollMs = opts.pollMs ?? 250;
    this.swarm = new SwarmApi(opts.dockerHost ?? process.env.DOCKER_HOST, opts.callTimeoutMs ?? 30_000);
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    // One-off commands and add-ons are no replicas: they go to the Runs port, on the manager's engine.
    if (!isReplica(spec)) throw new Error(`${spec.name} is not an app replica: it runs on the manager's engine, not as a service`);
    if (!Number.isFinite(spec.memoryMb) || spec.memoryMb < 6) throw new Error(`memoryMb must be at least 6, got ${spec.memoryMb}`);
    const image = await this.opts.images.inspectImage(spec.image);
    const published = this.opts.imageFor
      ? await this.opts.imageFor(spec).catch((err: unknown) => {
          throw new ImageUnavailable(`the nodes cannot get ${spec.image}: ${messageOf(err)}`);
        })
      : null;
    const placed = await this.withVolumes(published ? { ...spec, image: published.image } : spec);
    // Resolved to numeric ids on this engine: the nodes run the same image, with the same files.
    const body = replicaService(placed, image ? (await this.opts.images.imageUser(spec.image)).runAs : '', this.opts.stopGraceS);
    try {
      const res = await this.swarm.api.createService(published?.auth, { ...body, abortSignal: this.swarm.signal() });
      return res.id;
    } catch (err) {
      // Made by an earlier attempt the control plane did not live to record: adopt it.
      if (statusOf(err) === 409) {
        const [same] = await this.swarm.services({ name: [spec.name] });
        if (same && same.Spec.Name === spec.name) return same.ID;
      }
      throw refusal('create service', err);
    }
  }

  /**
   * A replica with volumes runs on the manager, where its volumes are (made and opened to its user
   * there first, as on one node): a named volume is per node, so a replica elsewhere would get an
   * empty one (volume-placement.ts). A user constraint that contradicts the pin leaves no
   * node, and the release fails naming both.
   */
  private async withVolumes(spec: ContainerSpec): Promise<ContainerSpec> {
    if (!spec.mounts?.length) return spec;
    for (const m of spec.mounts) await this.opts.volumes.ensureVolume(m.volume, m.labels);
    const pin = volumePin(await this.managerNode());
    return { ...spec, placement: { constraints: [...(spec.placement?.constraints ?? []).filter((c) => c !== pin), pin] } };
  }

  private async managerNode(): Promise<string> {
    if (this.localNode) return this.localNode;
    let id: string | undefined;
    try {
      id = (await this.swarm.api.info({ abortSignal: this.swarm.signal() })).Swarm?.NodeID;
    } catch (err) {
      throw refusal('info', err);
    }
    if (!id) throw withStatus(new Error('the engine is not in a Swarm (run berth cluster init): an app with volumes is pinned to its node'), 409);
    return (this.localNode = id);
  }

  async startContainer(id: string): Promise<void> {
    if (isLocal(id)) return this.local.startContainer(id);
    await this.scale(id, 1);
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 120_000);
    for (;;) {
      const svc = await this.swarm.inspectService(id);
      if (!svc) throw withStatus(new Error(`service ${id} is gone`), 404);
      const tasks = await this.swarm.tasks([id]);
      const info = toContainerInfo(svc, tasks);
      if (info.state === 'running') return;
      const failed = failures(svc, tasks);
      if (info.startError && /no suitable node/.test(info.startError)) {
        throw withStatus(new Error(`no node can run it (placement ${JSON.stringify(placementOf(svc))}): ${info.startError}`), 400);
      }
      if (failed.length >= MAX_START_FAILURES) {
        throw withStatus(new Error(`its task failed ${failed.length} times: ${failed[0]?.Status.Err || failed[0]?.Status.State}`), 400);
      }
      if (Date.now() > deadline) {
        throw withStatus(new Error(`no task was running after ${Math.round((this.opts.startTimeoutMs ?? 120_000) / 1000)} s (${info.state}${info.startError ? `: ${info.startError}` : ''})`), 408);
      }
      await sleep(this.pollMs);
    }
  }

  async stopContainer(id: string, timeoutSec: number): Promise<void> {
    if (isLocal(id)) return this.local.stopContainer(id, timeoutSec);
    if (!(await this.scale(id, 0))) return;
    await this.settled(id, (Math.max(0, timeoutSec) + 30) * 1000);
  }

  /**
   * Removed only once Swarm's task reaper has deleted its tasks: Docker 20.10's manager panics
   * (nil task in SetServiceTasksRemove) when a service is removed while the reaper deletes one of
   * its tasks, which is what follows a scale to 0 (measured: the manager's dockerd died on it).
   */
  async removeContainer(id: string): Promise<void> {
    if (isLocal(id)) return this.local.removeContainer(id);
    if (!(await this.scale(id, 0))) return;
    // A task Swarm cannot reap (its node is down) would hold the removal forever: past the wait, remove anyway.
    await this.settled(id, 60_000).catch(() => undefined);
    try {
      await this.swarm.api.getService(id).remove({ abortSignal: this.swarm.signal() });
    } catch (err) {
      if (statusOf(err) !== 404) throw refusal('remove service', err);
    }
  }

  /**
   * Waits until a service scaled to 0 has no task the reaper will still delete: every task ended,
   * and none is marked `remove` (the reaper deletes those). A task that failed on its way down (an
   * app SIGKILLed after the grace, exit 137) is marked `shutdown` instead: Swarm keeps it as history
   * and never reaps it, so waiting for it to go would hold the replica forever (seen: 10 minutes,
   * with every later change of the app queued behind it).
   */
  private async settled(id: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    const pending = (t: EngineTask) => !ENDED.has(t.Status.State) || t.DesiredState === 'remove';
    while ((await this.swarm.tasks([id])).some(pending)) {
      if (Date.now() > deadline) throw new Error(`service ${id}: its task did not stop and go within ${Math.round(ms / 1000)} s`);
      await sleep(this.pollMs);
    }
  }

  async inspectContainer(id: string): Promise<ContainerInfo | null> {
    if (isLocal(id)) return this.local.inspectContainer(id);
    const svc = await this.swarm.inspectService(id);
    if (!svc) return null;
    const tasks = await this.swarm.tasks([id]);
    return toContainerInfo(svc, tasks, await this.swarm.namer(tasks));
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    const services = await this.swarm.services(labelFilter(labels));
    const tasks = services.length ? await this.swarm.tasks(services.map((s) => s.ID)) : [];
    const namer = await this.swarm.namer(tasks);
    const local = (await this.local.listContainers(labels)).filter((c) => !isTaskContainer(c.labels));
    return [...local, ...services.map((s) => toContainerInfo(s, tasks, namer))];
  }

  async *logs(id: string, opts: LogOptions): AsyncGenerator<LogLine> {
    if (isLocal(id)) return yield* this.local.logs(id, opts);
    if (opts.signal?.aborted) return;
    const follow = opts.follow ?? false;
    const signal = follow ? opts.signal : opts.signal ? AbortSignal.any([opts.signal, this.swarm.signal(2)]) : this.swarm.signal(2);
    let body: Readable | Buffer;
    try {
      // The manager gathers the lines of the service's tasks from whichever node ran them.
      body = await this.swarm.api.getService(id).logs({ follow, stdout: true, stderr: true, timestamps: true, tail: opts.tail ?? 'all', since: opts.since ?? 0, abortSignal: signal });
    } catch (err) {
      if (opts.signal?.aborted) return;
      throw refusal('service logs', err);
    }
    yield* demuxUntil(body, signal);
  }

  /** A replica's task may run on any node: the manager's engine has no stats for it. */
  stats(id: string): Promise<ContainerStats | null> {
    return isLocal(id) ? this.local.stats(id) : Promise.resolve(null);
  }

  /** Sets the service's task count; false when there is no such service. */
  private async scale(id: string, replicas: number): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const svc = await this.swarm.inspectService(id);
      if (!svc) return false;
      if (svc.Spec.Mode.Replicated?.Replicas === replicas) return true;
      try {
        await this.swarm.api.getService(id).update({
          _query: { version: svc.Version.Index },
          _body: { ...svc.Spec, Mode: { Replicated: { Replicas: replicas } } },
          abortSignal: this.swarm.signal(),
        });
        return true;
      } catch (err) {
        // Another update came first ("update out of sequence"): read the new version and try again.
        if (attempt < 3 && /out of sequence/i.test(messageOf(err))) continue;
        throw refusal('update service', err);
      }
    }
  }
}

function isReplica(spec: ContainerSpec): boolean {
  return !!spec.labels[LABEL.app] && !spec.tty && spec.restart !== 'no';
}

function isLocal(id: string): boolean {
  return LOCAL_ID.test(id);
}

function placementOf(svc: EngineService): string[] {
  return ((svc.Spec.TaskTemplate as { Placement?: { Constraints?: string[] } }).Placement?.Constraints ?? []);
}
