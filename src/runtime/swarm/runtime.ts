import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, messageOf, statusOf, type CallOptions } from '../engine-api.js';
import { modemOptions } from '../docker/client.js';
import { LABEL } from '../labels.js';
import { demuxUntil } from '../log-stream.js';
import {
  ImageUnavailable,
  type BuildImageOptions,
  type ContainerInfo,
  type ContainerSpec,
  type ContainerStats,
  type LogLine,
  type LogOptions,
  type PullOptions,
  type Runtime,
  type RuntimeEvent,
} from '../types.js';
import type { OverlayAnchor } from './anchor.js';
import { ENDED, failures, replicaService, toContainerInfo, type EngineService, type EngineTask } from './replica-service.js';
import { SwarmServices } from './services.js';
import { volumePin } from './volume-placement.js';

interface ServiceApi {
  /** POST /services/create; `auth` goes in X-Registry-Auth (undefined: no header). */
  createService(auth: PullAuth | undefined, opts: CallOptions & Record<string, unknown>): Promise<{ id: string }>;
  getService(id: string): {
    inspect(opts?: CallOptions): Promise<EngineService>;
    update(opts: CallOptions & { _query: { version: number }; _body: Record<string, unknown> }): Promise<unknown>;
    remove(opts?: CallOptions): Promise<unknown>;
    logs(opts: CallOptions & Record<string, unknown>): Promise<Readable | Buffer>;
  };
  listServices(opts: CallOptions & { filters?: string }): Promise<EngineService[]>;
  listNodes(opts?: CallOptions): Promise<{ ID: string; Description?: { Hostname?: string } }[]>;
  listTasks(opts: CallOptions & { filters?: string }): Promise<EngineTask[]>;
  info(opts?: CallOptions): Promise<{ Swarm?: { NodeID?: string } }>;
}

/** Registry credentials as the Engine API takes them (X-Registry-Auth). */
export interface PullAuth {
  username: string;
  password: string;
  serveraddress: string;
}

export interface SwarmRuntimeOptions {
  /** The manager's own engine: builds, images, volumes, one-off commands and add-ons stay there. */
  local: Runtime;
  dockerHost?: string;
  anchor: OverlayAnchor;
  /** The anchor's namespace was bound anew: the router must reload to open it. */
  onNetnsChanged: () => Promise<void>;
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

/** A container id of the local engine; anything else the runtime hands out is a service id. */
const LOCAL_ID = /^[0-9a-f]{64}$/;
const SWARM_TASK_LABEL = 'com.docker.swarm.task.id';
/** A replica whose tasks failed this often since its start is refused, like a container the engine cannot start. */
const MAX_START_FAILURES = 3;

/**
 * The Runtime in cluster mode. Each app replica (a container spec carrying `berth.app`) is a Swarm
 * service of one task on the project's overlay, placed by the Swarm; started = 1 task, stopped = 0.
 * The id the app controller keeps is the service's. Everything else (one-off commands, add-ons,
 * builds, images, volumes) stays on the manager's engine, delegated to `local`; project networks
 * are attachable overlays so those containers share them with the replicas on every node.
 */
export class SwarmRuntime implements Runtime {
  private readonly api: ServiceApi;
  private readonly overlays: SwarmServices;
  private readonly local: Runtime;
  private readonly timeoutMs: number;
  private readonly pollMs: number;
  private anchorQueue: Promise<unknown> = Promise.resolve();
  /** The manager's own node in the Swarm (where its engine's volumes are), once known. */
  private localNode: string | null = null;
  /** Node id → hostname, read again when a task names a node not in it. */
  private readonly nodeNames = new Map<string, string>();

  constructor(private readonly opts: SwarmRuntimeOptions) {
    this.local = opts.local;
    this.timeoutMs = opts.callTimeoutMs ?? 30_000;
    this.pollMs = opts.pollMs ?? 250;
    const host = opts.dockerHost ?? process.env.DOCKER_HOST;
    this.api = connect({ ...modemOptions(host), timeout: this.timeoutMs }) as unknown as ServiceApi;
    this.overlays = new SwarmServices({ dockerHost: host, callTimeoutMs: this.timeoutMs });
  }

  ping(): Promise<void> {
    return this.local.ping();
  }

  async ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    await this.overlays.ensureOverlay(name, labels);
    await this.syncAnchor(name);
  }

  /**
   * Until the signal aborts, looks every `everyMs` whether the anchor still runs in the namespace
   * the router connects from: a restarted anchor (an engine restart) has a new one, and until the
   * router reloads, no replica of any app can be reached.
   */
  async watchAnchor(signal: AbortSignal, everyMs = 1000): Promise<void> {
    while (!signal.aborted) {
      await this.syncAnchor().catch(() => undefined);
      await sleep(everyMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /** The anchor on `network` (if given) and bound at its netns path; the router reloaded when that changed. */
  private syncAnchor(network?: string): Promise<void> {
    // One at a time: binding the namespace is a delete and an attach of one path.
    const step = this.anchorQueue.then(async () => {
      if (network) await this.opts.anchor.connect(network);
      if (await this.opts.anchor.sync()) await this.opts.onNetnsChanged();
    });
    this.anchorQueue = step.catch(() => undefined);
    return step;
  }

  async removeNetwork(name: string): Promise<void> {
    await this.opts.anchor.disconnect(name);
    await this.local.removeNetwork(name);
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    if (!isReplica(spec)) return this.local.createContainer(spec);
    if (!Number.isFinite(spec.memoryMb) || spec.memoryMb < 6) throw new Error(`memoryMb must be at least 6, got ${spec.memoryMb}`);
    const image = await this.local.inspectImage(spec.image);
    const published = this.opts.imageFor
      ? await this.opts.imageFor(spec).catch((err: unknown) => {
          throw new ImageUnavailable(`the nodes cannot get ${spec.image}: ${messageOf(err)}`);
        })
      : null;
    const placed = await this.withVolumes(published ? { ...spec, image: published.image } : spec);
    // Resolved to numeric ids on this engine: the nodes run the same image, with the same files.
    const body = replicaService(placed, image ? (await this.local.imageUser(spec.image)).runAs : '', this.opts.stopGraceS);
    try {
      const res = await this.api.createService(published?.auth, { ...body, abortSignal: this.signal() });
      return res.id;
    } catch (err) {
      // Made by an earlier attempt the control plane did not live to record: adopt it.
      if (statusOf(err) === 409) {
        const [same] = await this.services({ name: [spec.name] });
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
    for (const m of spec.mounts) await this.local.ensureVolume(m.volume, m.labels);
    const pin = volumePin(await this.managerNode());
    return { ...spec, placement: { constraints: [...(spec.placement?.constraints ?? []).filter((c) => c !== pin), pin] } };
  }

  private async managerNode(): Promise<string> {
    if (this.localNode) return this.localNode;
    let id: string | undefined;
    try {
      id = (await this.api.info({ abortSignal: this.signal() })).Swarm?.NodeID;
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
      const svc = await this.inspectService(id);
      if (!svc) throw withStatus(new Error(`service ${id} is gone`), 404);
      const tasks = await this.tasks([id]);
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
      await this.api.getService(id).remove({ abortSignal: this.signal() });
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
    while ((await this.tasks([id])).some(pending)) {
      if (Date.now() > deadline) throw new Error(`service ${id}: its task did not stop and go within ${Math.round(ms / 1000)} s`);
      await sleep(this.pollMs);
    }
  }

  async waitContainer(id: string, signal?: AbortSignal): Promise<number> {
    if (isLocal(id)) return this.local.waitContainer(id, signal);
    for (;;) {
      const info = await this.inspectContainer(id);
      if (!info || info.state === 'exited') return info?.exitCode ?? 0;
      await sleep(this.pollMs * 4, undefined, { signal });
    }
  }

  copyFrom(id: string, path: string, signal: AbortSignal): Promise<NodeJS.ReadableStream> {
    return isLocal(id) ? this.local.copyFrom(id, path, signal) : Promise.reject(notForReplicas('copy from'));
  }

  copyTo(id: string, dir: string, tar: NodeJS.ReadableStream, signal: AbortSignal): Promise<void> {
    return isLocal(id) ? this.local.copyTo(id, dir, tar, signal) : Promise.reject(notForReplicas('copy into'));
  }

  attach(id: string, signal: AbortSignal): Promise<NodeJS.ReadWriteStream> {
    return isLocal(id) ? this.local.attach(id, signal) : Promise.reject(notForReplicas('attach to'));
  }

  resize(id: string, cols: number, rows: number): Promise<void> {
    return isLocal(id) ? this.local.resize(id, cols, rows) : Promise.reject(notForReplicas('resize'));
  }

  attachPipes(id: string, signal: AbortSignal): ReturnType<Runtime['attachPipes']> {
    return isLocal(id) ? this.local.attachPipes(id, signal) : Promise.reject(notForReplicas('attach to'));
  }

  /** Backup and session helpers run on the manager's own engine, beside the add-ons. */
  createHelper(spec: Parameters<Runtime['createHelper']>[0]): Promise<string> {
    return this.local.createHelper(spec);
  }

  ensureVolume(name: string, labels: Record<string, string>): Promise<void> {
    return this.local.ensureVolume(name, labels);
  }

  /** On the manager's engine only: a named volume is per node, and replicas with volumes are pinned there (docs/cluster.md). */
  volumeUsers(volume: string): Promise<string[]> {
    return this.local.volumeUsers(volume);
  }

  listVolumes(labels: Record<string, string>): Promise<string[]> {
    return this.local.listVolumes(labels);
  }

  removeVolume(name: string): Promise<boolean> {
    return this.local.removeVolume(name);
  }

  async inspectContainer(id: string): Promise<ContainerInfo | null> {
    if (isLocal(id)) return this.local.inspectContainer(id);
    const svc = await this.inspectService(id);
    if (!svc) return null;
    const tasks = await this.tasks([id]);
    return toContainerInfo(svc, tasks, await this.namer(tasks));
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    const services = await this.services({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });
    const tasks = services.length ? await this.tasks(services.map((s) => s.ID)) : [];
    const namer = await this.namer(tasks);
    const local = (await this.local.listContainers(labels)).filter((c) => !isTaskContainer(c.labels));
    return [...local, ...services.map((s) => toContainerInfo(s, tasks, namer))];
  }

  async *logs(id: string, opts: LogOptions): AsyncGenerator<LogLine> {
    if (isLocal(id)) return yield* this.local.logs(id, opts);
    if (opts.signal?.aborted) return;
    const follow = opts.follow ?? false;
    const signal = follow ? opts.signal : opts.signal ? AbortSignal.any([opts.signal, this.signal(2)]) : this.signal(2);
    let body: Readable | Buffer;
    try {
      // The manager gathers the lines of the service's tasks from whichever node ran them.
      body = await this.api.getService(id).logs({ follow, stdout: true, stderr: true, timestamps: true, tail: opts.tail ?? 'all', since: opts.since ?? 0, abortSignal: signal });
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

  events(labels: Record<string, string>, signal: AbortSignal): AsyncIterable<RuntimeEvent> {
    return merge([withoutTasks(this.local.events(labels, signal)), this.taskEvents(labels, signal)]);
  }

  inspectImage(ref: string) {
    return this.local.inspectImage(ref);
  }

  imageUser(ref: string) {
    return this.local.imageUser(ref);
  }

  buildImage(opts: BuildImageOptions) {
    return this.local.buildImage(opts);
  }

  removeImage(ref: string): Promise<void> {
    return this.local.removeImage(ref);
  }

  listImages(labels: Record<string, string>) {
    return this.local.listImages(labels);
  }

  pullImage(ref: string, opts: PullOptions): Promise<void> {
    return this.local.pullImage(ref, opts);
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
        services = await this.services({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });
        tasks = services.length ? await this.tasks(services.map((s) => s.ID)) : [];
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

  /** Hostnames of the tasks' nodes (the list of nodes read again only for one not seen yet). */
  private async namer(tasks: EngineTask[]): Promise<(id: string) => string | undefined> {
    if (tasks.some((t) => t.NodeID && !this.nodeNames.has(t.NodeID))) {
      const nodes = await this.api.listNodes({ abortSignal: this.signal() }).catch(() => []);
      for (const n of nodes) if (n.Description?.Hostname) this.nodeNames.set(n.ID, n.Description.Hostname);
    }
    return (id) => this.nodeNames.get(id);
  }

  /** Sets the service's task count; false when there is no such service. */
  private async scale(id: string, replicas: number): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const svc = await this.inspectService(id);
      if (!svc) return false;
      if (svc.Spec.Mode.Replicated?.Replicas === replicas) return true;
      try {
        await this.api.getService(id).update({
          _query: { version: svc.Version.Index },
          _body: { ...svc.Spec, Mode: { Replicated: { Replicas: replicas } } },
          abortSignal: this.signal(),
        });
        return true;
      } catch (err) {
        // Another update came first ("update out of sequence"): read the new version and try again.
        if (attempt < 3 && /out of sequence/i.test(messageOf(err))) continue;
        throw refusal('update service', err);
      }
    }
  }

  private async inspectService(id: string): Promise<EngineService | null> {
    try {
      return await this.api.getService(id).inspect({ abortSignal: this.signal() });
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw refusal('inspect service', err);
    }
  }

  private async services(filters: Record<string, string[]>): Promise<EngineService[]> {
    try {
      return await this.api.listServices({ filters: JSON.stringify(filters), abortSignal: this.signal() });
    } catch (err) {
      throw refusal('list services', err);
    }
  }

  private async tasks(serviceIds: string[]): Promise<EngineTask[]> {
    try {
      return await this.api.listTasks({ filters: JSON.stringify({ service: serviceIds }), abortSignal: this.signal() });
    } catch (err) {
      throw refusal('list tasks', err);
    }
  }

  private signal(times = 1): AbortSignal {
    return AbortSignal.timeout(this.timeoutMs * times);
  }
}

function isReplica(spec: ContainerSpec): boolean {
  return !!spec.labels[LABEL.app] && !spec.tty && spec.restart !== 'no';
}

/**
 * A replica's task container on the manager's own engine. Swarm gives task containers the service's
 * labels, the instance label included, so the manager's engine lists them among Berth's containers;
 * taken for strays, they were removed (SIGKILL) seconds after every start there (seen in the
 * cluster apps test: replicas on the manager killed every 5 s, requests through them failed).
 */
function isTaskContainer(labels: Record<string, string>): boolean {
  return SWARM_TASK_LABEL in labels;
}

async function* withoutTasks(events: AsyncIterable<RuntimeEvent>): AsyncGenerator<RuntimeEvent> {
  for await (const e of events) if (!isTaskContainer(e.labels)) yield e;
}

function isLocal(id: string): boolean {
  return LOCAL_ID.test(id);
}

function placementOf(svc: EngineService): string[] {
  return ((svc.Spec.TaskTemplate as { Placement?: { Constraints?: string[] } }).Placement?.Constraints ?? []);
}

function withStatus(err: Error, status: number): Error {
  (err as Error & { statusCode?: number }).statusCode = status;
  return err;
}

/** The engine's words, with its status kept (a 4xx is the request's fault, anything else the engine's). */
function refusal(what: string, err: unknown): Error {
  return withStatus(new Error(`docker ${what}: ${messageOf(err).trim()}`), statusOf(err) ?? 0);
}

function notForReplicas(what: string): Error {
  return withStatus(new Error(`cannot ${what} a replica in cluster mode (it runs as a Swarm service, maybe on another node)`), 409);
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
