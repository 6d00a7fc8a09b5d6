import type { Readable } from 'node:stream';
import { packContext } from './build-context.js';
import { connect, messageOf, statusOf, type ContainerInspect, type Dockerode, type ModemOptions } from './engine-api.js';
import { hardenedCreateOptions, helperCreateOptions, MANAGED_LABEL } from './hardening.js';
import { LABEL, containerLabels } from './labels.js';
import { demuxLogs, demuxUntil, FrameSplitter, isStreamEnd, jsonLines, withoutResent } from './log-stream.js';
import { freeSubnet } from './subnets.js';
import { needsLookup, resolveImageUser, ImageUserError, type ImageUser } from './image-user.js';
import { readTarFile } from './tar-file.js';
import { toContainerStats } from './stats.js';
import type {
  BuildImageOptions,
  ContainerInfo,
  ContainerPipes,
  ContainerSpec,
  ContainerState,
  ContainerStats,
  HelperSpec,
  ImageInfo,
  PullOptions,
  LogLine,
  LogOptions,
  Runtime,
  RuntimeEvent,
} from './types.js';

export interface DockerRuntimeOptions {
  /** unix:///path, tcp://host:port, http(s)://host:port or a socket path. Default: DOCKER_HOST, then the local socket. */
  dockerHost?: string;
  /** Limit for each short engine call (inspect, create, list, ...). */
  callTimeoutMs?: number;
  /**
   * Where project networks get /24 subnets once the engine's default address pools are used up
   * (stock dockerd fits about 30 user networks). Must not overlap the host's own networks.
   */
  subnetPool?: string;
  /** Image of the short root helper that makes a new volume writable (it runs chmod only). */
  helperImage?: string;
}

const DEFAULT_SOCKET = '/var/run/docker.sock';
const NEVER = '0001-01-01T00:00:00Z';
const ANSI_SGR = /\x1b\[[0-9;]*m/g;
// Event attributes the engine adds beside the container's labels.
const NON_LABEL_ATTRIBUTES = new Set(['image', 'name', 'exitCode', 'signal', 'execID', 'execDuration']);

export function modemOptions(dockerHost: string | undefined): ModemOptions {
  const host = dockerHost || DEFAULT_SOCKET;
  if (host.startsWith('/')) return { socketPath: host };
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) || DEFAULT_SOCKET };
  const url = new URL(host);
  if (url.protocol === 'tcp:' || url.protocol === 'http:' || url.protocol === 'https:') {
    const https = url.protocol === 'https:';
    return { host: url.hostname, port: Number(url.port) || (https ? 2376 : 2375), protocol: https ? 'https' : 'http' };
  }
  throw new Error(`unsupported DOCKER_HOST ${host}: use unix:// or tcp://`);
}

export class DockerRuntime implements Runtime {
  /** Short calls: the modem's socket idle timeout backs up each call's own deadline. */
  private readonly api: Dockerode;
  /** Long-lived streams (follow, events, build, stop): no idle timeout, ended by signals instead. */
  private readonly streams: Dockerode;
  private readonly callTimeoutMs: number;
  private readonly subnetPool: string;
  private readonly helperImage: string;
  /** Volumes made writable by this process: the helper runs once per volume per start (chmod is idempotent). */
  private readonly preparedVolumes = new Map<string, Promise<void>>();

  constructor(opts: DockerRuntimeOptions = {}) {
    this.subnetPool = opts.subnetPool ?? '10.213.0.0/16';
    this.helperImage = opts.helperImage ?? 'berth/base:bookworm';
    const modem = modemOptions(opts.dockerHost ?? process.env.DOCKER_HOST);
    this.callTimeoutMs = opts.callTimeoutMs ?? 30_000;
    this.api = connect({ ...modem, timeout: this.callTimeoutMs });
    this.streams = connect(modem);
  }

  async ping(): Promise<void> {
    await this.call('ping', this.callTimeoutMs, (abortSignal) => this.api.ping({ abortSignal }));
  }

  /** In-flight ensureNetwork calls by name: the engine may make two networks of one name when asked twice at once. */
  private readonly networkMaking = new Map<string, Promise<void>>();

  ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    let pending = this.networkMaking.get(name);
    if (!pending) {
      pending = this.makeNetwork(name, labels).finally(() => this.networkMaking.delete(name));
      this.networkMaking.set(name, pending);
    }
    return pending;
  }

  private async makeNetwork(name: string, labels: Record<string, string>): Promise<void> {
    if (await this.findNetwork(name)) return;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.createNetwork(name, labels);
        return;
      } catch (err) {
        if (await this.createdMeanwhile(err, name)) return;
        if (/non-overlapping IPv4 address pool/.test(messageOf(err))) break;
        // The engine's allocator can hand two concurrent creations the same default subnet ("Pool overlaps"): try again.
        if (attempt >= 2 || !/overlap/i.test(messageOf(err))) throw err;
      }
    }
    // Default pools exhausted: pick a free subnet ourselves; another creator may take it first, so retry.
    for (let attempt = 0; ; attempt++) {
      const networks = await this.call('list networks', this.callTimeoutMs, (abortSignal) => this.api.listNetworks({ abortSignal }));
      const used = networks.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? ''));
      const subnet = freeSubnet(this.subnetPool, used, 24, (n) => Math.floor(Math.random() * n));
      if (!subnet) throw new Error(`no free subnet left for network ${name} in ${this.subnetPool}`);
      try {
        await this.createNetwork(name, labels, subnet);
        return;
      } catch (err) {
        if (await this.createdMeanwhile(err, name)) return;
        if (attempt >= 9 || !/overlap/i.test(messageOf(err))) throw err;
      }
    }
  }

  private async createNetwork(name: string, labels: Record<string, string>, subnet?: string): Promise<void> {
    await this.call('create network', this.callTimeoutMs, (abortSignal) =>
      this.api.createNetwork({
        Name: name,
        // A user bridge: embedded DNS for aliases, and the engine's inter-bridge isolation between projects.
        Driver: 'bridge',
        CheckDuplicate: true,
        Internal: false,
        Labels: { ...labels, [MANAGED_LABEL]: 'true' },
        ...(subnet ? { IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] } } : {}),
        abortSignal,
      }),
    );
  }

  /** True when a create failed because a concurrent caller made the same network. */
  private async createdMeanwhile(err: unknown, name: string): Promise<boolean> {
    return statusOf(err) === 409 && (await this.findNetwork(name)) !== null;
  }

  async removeNetwork(name: string): Promise<void> {
    const id = await this.findNetwork(name);
    if (!id) return;
    await this.call('remove network', this.callTimeoutMs, (abortSignal) => this.api.getNetwork(id).remove({ abortSignal }), [404]);
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    const image = await this.inspectImage(spec.image);
    if (!image) throw new Error(`image ${spec.image} is not on the engine`);
    const body = hardenedCreateOptions(spec, (await this.imageUser(spec.image)).runAs, image.labels);
    for (const m of spec.mounts ?? []) await this.ensureVolume(m.volume, m.labels);
    const container = await this.call('create container', this.callTimeoutMs, (abortSignal) =>
      this.api.createContainer({ ...body, abortSignal }),
    );
    return container.id;
  }

  ensureVolume(name: string, labels: Record<string, string>): Promise<void> {
    let p = this.preparedVolumes.get(name);
    if (!p) {
      p = this.prepareVolume(name, labels);
      this.preparedVolumes.set(name, p);
      p.catch(() => this.preparedVolumes.delete(name));
    }
    return p;
  }

  /**
   * Makes the volume if it is missing, then opens its root to every user (0777): apps run as
   * whichever non-root user their image names, so the owner cannot be known in advance. The helper
   * is root only to chmod its own directory: no capabilities, no network, removed at once.
   */
  private async prepareVolume(name: string, labels: Record<string, string>): Promise<void> {
    const exists = await this.call('inspect volume', this.callTimeoutMs, (abortSignal) => this.api.getVolume(name).inspect({ abortSignal }), [404]);
    if (!exists) {
      await this.call('create volume', this.callTimeoutMs, (abortSignal) =>
        this.api.createVolume({ Name: name, Driver: 'local', Labels: { ...labels, [MANAGED_LABEL]: 'true' }, abortSignal }),
      );
    }
    const helper = await this.helper({
      cmd: ['chmod', '0777', '/volume'],
      // Only the instance: the volume's other labels (its app, its add-on) would make it pass for their containers.
      labels: { ...(labels[LABEL.instance] ? { [LABEL.instance]: labels[LABEL.instance] } : {}), [LABEL.volumeHelper]: name },
      mounts: [{ volume: name, path: '/volume', labels, readOnly: false }],
      capabilities: [],
    });
    try {
      await this.startContainer(helper);
      const code = await this.waitContainer(helper, AbortSignal.timeout(this.callTimeoutMs));
      if (code !== 0) throw new Error(`could not make volume ${name} writable (chmod exited ${code})`);
    } finally {
      await this.removeContainer(helper);
    }
  }

  async createHelper(spec: HelperSpec): Promise<string> {
    for (const m of spec.mounts) await this.ensureVolume(m.volume, m.labels);
    return this.helper(spec);
  }

  private async helper(spec: HelperSpec): Promise<string> {
    const body = helperCreateOptions(spec, this.helperImage);
    const c = await this.call('create container', this.callTimeoutMs, (abortSignal) => this.api.createContainer({ ...body, abortSignal }));
    return c.id;
  }

  async volumeUsers(volume: string): Promise<string[]> {
    const res = await this.call('list containers', this.callTimeoutMs, (abortSignal) =>
      this.api.listContainers({ all: false, filters: { volume: [volume] }, abortSignal }),
    );
    return res.map((c) => (c.Names?.[0] ?? c.Id).replace(/^\//, ''));
  }

  async waitContainer(id: string, signal?: AbortSignal): Promise<number> {
    try {
      const res = await this.streams.getContainer(id).wait({ abortSignal: signal });
      return res.StatusCode;
    } catch (err) {
      if (signal?.aborted) throw new Error('docker wait container: canceled');
      throw engineError('wait container', err);
    }
  }

  async copyFrom(id: string, path: string, signal: AbortSignal): Promise<NodeJS.ReadableStream> {
    try {
      return await this.streams.getContainer(id).getArchive({ path, abortSignal: signal });
    } catch (err) {
      throw engineError('copy from container', err);
    }
  }

  async copyTo(id: string, dir: string, tar: NodeJS.ReadableStream, signal: AbortSignal): Promise<void> {
    try {
      await this.streams.getContainer(id).putArchive(tar as Readable, { path: dir, abortSignal: signal });
    } catch (err) {
      throw engineError('copy into container', err);
    }
  }

  async attach(id: string, signal: AbortSignal): Promise<NodeJS.ReadWriteStream> {
    try {
      return await this.streams.getContainer(id).attach({ stream: true, stdin: true, stdout: true, stderr: true, logs: true, hijack: true, abortSignal: signal });
    } catch (err) {
      throw engineError('attach', err);
    }
  }

  async attachPipes(id: string, signal: AbortSignal): Promise<ContainerPipes> {
    const raw = await this.attach(id, signal);
    const frames = new FrameSplitter();
    async function* output() {
      try {
        for await (const chunk of raw as unknown as AsyncIterable<Buffer>) for (const f of frames.push(chunk)) yield { stream: f.stream, data: f.payload };
      } catch (err) {
        if (!isStreamEnd(err)) throw err;
      }
    }
    return { stdin: raw, output: output() };
  }

  async resize(id: string, cols: number, rows: number): Promise<void> {
    await this.call('resize', this.callTimeoutMs, (abortSignal) => this.api.getContainer(id).resize({ h: rows, w: cols, abortSignal }), [404, 409]);
  }

  async listVolumes(labels: Record<string, string>): Promise<string[]> {
    const res = await this.call('list volumes', this.callTimeoutMs, (abortSignal) =>
      this.api.listVolumes({ filters: { label: labelFilters(labels) }, abortSignal }),
    );
    return (res.Volumes ?? []).map((v) => v.Name);
  }

  async removeVolume(name: string): Promise<boolean> {
    try {
      await this.call('remove volume', this.callTimeoutMs, (abortSignal) => this.api.getVolume(name).remove({ abortSignal }), [404]);
      this.preparedVolumes.delete(name);
      return true;
    } catch (err) {
      // 409: a container (running or not) still uses it.
      if ((err as { statusCode?: number }).statusCode === 409) return false;
      throw err;
    }
  }

  async startContainer(id: string): Promise<void> {
    // 304: already running.
    await this.call('start container', this.callTimeoutMs, (abortSignal) => this.api.getContainer(id).start({ abortSignal }), [304]);
  }

  async stopContainer(id: string, timeoutSec: number): Promise<void> {
    const t = Math.max(0, Math.round(timeoutSec));
    await this.call(
      'stop container',
      (t + 30) * 1000,
      (abortSignal) => this.streams.getContainer(id).stop({ t, abortSignal }),
      [304, 404],
    );
  }

  async removeContainer(id: string): Promise<void> {
    // 409: the engine is already removing it.
    await this.call(
      'remove container',
      this.callTimeoutMs,
      (abortSignal) => this.api.getContainer(id).remove({ force: true, v: true, abortSignal }),
      [404, 409],
    );
  }

  async inspectContainer(id: string): Promise<ContainerInfo | null> {
    const raw = await this.call(
      'inspect container',
      this.callTimeoutMs,
      (abortSignal) => this.api.getContainer(id).inspect({ abortSignal }),
      [404],
    );
    return raw ? toContainerInfo(raw) : null;
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    const list = await this.call('list containers', this.callTimeoutMs, (abortSignal) =>
      this.api.listContainers({ all: true, filters: { label: labelFilters(labels) }, abortSignal }),
    );
    // The list lacks exit codes and restart counts; a container removed meanwhile drops out.
    const infos = await Promise.all(list.map((c) => this.inspectContainer(c.Id)));
    return infos.filter((c): c is ContainerInfo => c !== null);
  }

  async *logs(id: string, opts: LogOptions): AsyncGenerator<LogLine> {
    if (opts.signal?.aborted) return;
    const follow = opts.follow ?? false;
    const signal = follow ? opts.signal : withDeadline(this.callTimeoutMs * 2, opts.signal);
    let body: Readable | Buffer;
    try {
      body = await this.streams.getContainer(id).logs({
        follow,
        stdout: true,
        stderr: true,
        timestamps: true,
        tail: opts.tail ?? 'all',
        since: opts.since ?? 0,
        abortSignal: signal,
      });
    } catch (err) {
      if (opts.signal?.aborted) return;
      throw engineError('logs', err);
    }
    yield* withoutResent(demuxUntil(body, signal));
  }

  async stats(id: string): Promise<ContainerStats | null> {
    // stream=false: one answer, after the engine's next sample (about a second), so CPU has a previous sample to compare with.
    const raw = await this.call('container stats', this.callTimeoutMs, (abortSignal) => this.api.getContainer(id).stats({ stream: false, abortSignal }), [404]);
    return raw ? toContainerStats(raw) : null;
  }

  events(labels: Record<string, string>, signal: AbortSignal): AsyncIterable<RuntimeEvent> {
    // Asking the engine to replay from the moment of this call closes the gap before the stream connects.
    const sinceMs = Date.now();
    const since = `${Math.floor(sinceMs / 1000)}.${String((sinceMs % 1000) * 1e6).padStart(9, '0')}`;
    return this.eventStream(labels, since, signal);
  }

  private async *eventStream(labels: Record<string, string>, since: string, signal: AbortSignal): AsyncGenerator<RuntimeEvent> {
    if (signal.aborted) return;
    let body: Readable;
    try {
      body = await this.streams.getEvents({
        filters: { type: ['container'], label: labelFilters(labels) },
        since: since as unknown as number,
        abortSignal: signal,
      });
    } catch (err) {
      if (signal.aborted) return;
      throw engineError('events', err);
    }
    const stop = () => body.destroy();
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const msg of jsonLines(body)) {
        const ev = toRuntimeEvent(msg);
        if (ev) yield ev;
      }
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }

  async inspectImage(ref: string): Promise<ImageInfo | null> {
    const raw = await this.call('inspect image', this.callTimeoutMs, (abortSignal) => this.api.getImage(ref).inspect({ abortSignal }), [404]);
    if (!raw) return null;
    const ports = Object.keys(raw.Config?.ExposedPorts ?? {})
      .map((p) => Number.parseInt(p, 10))
      .filter((p) => Number.isInteger(p) && p > 0);
    return { id: raw.Id, user: raw.Config?.User ?? '', exposedPorts: ports, size: raw.Size, created: raw.Created, labels: raw.Config?.Labels ?? {} };
  }

  /** Resolved users by image content id: an image's files never change. */
  private readonly users = new Map<string, ImageUser>();

  async imageUser(ref: string): Promise<ImageUser> {
    const image = await this.inspectImage(ref);
    if (!image) throw new Error(`image ${ref} is not on the engine`);
    const known = this.users.get(image.id);
    if (known) return known;
    const need = needsLookup(image.user);
    const files = need.passwd || need.group ? await this.imageFiles(image.id, image.labels ?? {}, ['/etc/passwd', '/etc/group']) : { '/etc/passwd': null, '/etc/group': null };
    const user = resolveImageUser(image.user, { passwd: files['/etc/passwd'], group: files['/etc/group'] });
    if (this.users.size > 1000) this.users.clear();
    this.users.set(image.id, user);
    return user;
  }

  /**
   * Small text files of an image, read through the engine's archive API from a container that is
   * created and never started (nothing of the image runs); null for a file the image lacks.
   */
  private async imageFiles<P extends string>(imageId: string, labels: Record<string, string>, paths: P[]): Promise<Record<P, string | null>> {
    const c = await this.call('create container', this.callTimeoutMs, (abortSignal) =>
      this.api.createContainer({
        Image: imageId,
        Entrypoint: ['/berth-never-started'],
        Cmd: [],
        User: '65534:65534',
        NetworkDisabled: true,
        // Blanks Berth's labels a built image carries (berth.app, ...): the reader is no app's replica or stray.
        Labels: containerLabels({ [LABEL.imageReader]: 'true' }, labels),
        HostConfig: { NetworkMode: 'none', CapDrop: ['ALL'], Privileged: false, Binds: [], Mounts: [] },
        abortSignal,
      }),
    );
    try {
      const out = {} as Record<P, string | null>;
      for (const path of paths) {
        const signal = AbortSignal.timeout(this.callTimeoutMs);
        let tar: NodeJS.ReadableStream;
        try {
          tar = await this.streams.getContainer(c.id).getArchive({ path, abortSignal: signal });
        } catch (err) {
          if (statusOf(err) === 404) {
            out[path] = null;
            continue;
          }
          throw engineError('read image file', err);
        }
        out[path] = await readTarFile(tar, 1024 * 1024);
      }
      return out;
    } finally {
      // v: the anonymous volumes an image's VOLUME lines made at create go with it.
      await this.call('remove container', this.callTimeoutMs, (abortSignal) => this.api.getContainer(c.id).remove({ force: true, v: true, abortSignal }), [404]);
    }
  }

  async removeImage(ref: string): Promise<void> {
    await this.call('remove image', this.callTimeoutMs, (abortSignal) => this.api.getImage(ref).remove({ abortSignal }), [404]);
  }

  async listImages(labels: Record<string, string>) {
    const list = await this.call('list images', this.callTimeoutMs, (abortSignal) => this.api.listImages({ filters: { label: labelFilters(labels) }, abortSignal }));
    return list.map((i) => ({ id: i.Id, tags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'), labels: i.Labels ?? {}, size: i.Size ?? 0 }));
  }

  async pullImage(ref: string, opts: PullOptions): Promise<void> {
    const signal = withDeadline(opts.timeoutMs, opts.signal);
    const { repository, tag } = splitReference(ref);
    let body: Readable;
    try {
      body = await new Promise<Readable>((resolve, reject) =>
        this.streams.createImage(opts.auth, { fromImage: repository, tag, abortSignal: signal }, (err, data) => (err ? reject(err) : resolve(data))),
      );
    } catch (err) {
      if (signal.aborted) throw new Error(`pull of ${ref} timed out after ${opts.timeoutMs} ms`);
      throw new Error(messageOf(err).trim());
    }
    let error: string | null = null;
    const stop = () => body.destroy();
    signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const msg of jsonLines(body)) {
        const detail = msg.errorDetail as { message?: string } | undefined;
        if (typeof msg.error === 'string' || detail?.message) error = detail?.message ?? String(msg.error);
      }
    } finally {
      signal.removeEventListener('abort', stop);
    }
    if (signal.aborted) throw new Error(`pull of ${ref} timed out after ${opts.timeoutMs} ms`);
    if (error) throw new Error(error.trim());
  }

  async buildImage(opts: BuildImageOptions): Promise<ImageInfo> {
    const deadline = AbortSignal.timeout(opts.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([deadline, opts.signal]) : deadline;
    const failure = () => new Error(deadline.aborted ? `build timed out after ${opts.timeoutMs} ms` : 'build canceled');
    if (signal.aborted) throw failure();

    const memory = opts.memoryMb ? Math.floor(opts.memoryMb * 1024 * 1024) : undefined;
    const context = packContext(opts.contextDir, signal);
    let body: Readable;
    try {
      body = await this.streams.buildImage(context, {
        t: opts.tag,
        dockerfile: opts.dockerfile,
        ...(opts.labels ? { labels: opts.labels } : {}),
        ...(memory ? { memory, memswap: memory } : {}),
        // Intermediate containers go away even when a step fails.
        rm: true,
        forcerm: true,
        abortSignal: signal,
      });
    } catch (err) {
      context.destroy();
      if (signal.aborted) throw failure();
      throw new Error(`build failed: ${messageOf(err).trim()}`);
    }
    const stop = () => body.destroy();
    signal.addEventListener('abort', stop, { once: true });

    let error: string | null = null;
    let partial = '';
    const split = (text: string) => {
      const lines = (partial + text).split(/\r?\n/);
      partial = lines.pop() ?? '';
      for (const line of lines) opts.onLine?.(line);
    };
    // The classic builder paints a step's stderr red; the log is plain text.
    const emit = (text: string) => split(text.replace(ANSI_SGR, ''));
    try {
      for await (const msg of jsonLines(body)) {
        if (typeof msg.stream === 'string') emit(msg.stream);
        else if (typeof msg.status === 'string') emit(`${msg.status}${typeof msg.progress === 'string' ? ` ${msg.progress}` : ''}\n`);
        const detail = msg.errorDetail as { message?: string } | undefined;
        if (typeof msg.error === 'string' || detail?.message) error = detail?.message ?? String(msg.error);
      }
    } finally {
      signal.removeEventListener('abort', stop);
      context.destroy();
    }
    if (partial) opts.onLine?.(partial);
    if (signal.aborted) throw failure();
    if (error) {
      opts.onLine?.(error);
      throw new Error(`build failed: ${error}`);
    }
    const info = await this.inspectImage(opts.tag);
    if (!info) throw new Error(`build finished but image ${opts.tag} is missing`);
    return info;
  }

  private async findNetwork(name: string): Promise<string | null> {
    // The engine's name filter matches substrings; only an exact name counts.
    const list = await this.call('list networks', this.callTimeoutMs, (abortSignal) =>
      this.api.listNetworks({ filters: { name: [name] }, abortSignal }),
    );
    const same = list.filter((n) => n.Name === name).sort((a, b) => ((a.Created ?? '') < (b.Created ?? '') ? -1 : 1));
    // Two creators raced (another process, say) and the engine made both: a name that matches two
    // networks cannot be attached to, so the younger ones go (they were just made and are empty).
    for (const extra of same.slice(1)) {
      await this.call('remove network', this.callTimeoutMs, (abortSignal) => this.api.getNetwork(extra.Id).remove({ abortSignal }), [404]).catch(() => {});
    }
    return same[0]?.Id ?? null;
  }

  /**
   * Runs one engine call under a deadline. Status codes in `ok` mean "already in the wanted state"
   * and resolve to null.
   */
  private async call<T>(what: string, ms: number, fn: (signal: AbortSignal) => Promise<T>, ok: number[] = []): Promise<T> {
    const signal = AbortSignal.timeout(ms);
    try {
      return await fn(signal);
    } catch (err) {
      const status = statusOf(err);
      if (status !== undefined && ok.includes(status)) return null as T;
      if (signal.aborted) throw new Error(`docker ${what} timed out after ${ms} ms`);
      throw engineError(what, err);
    }
  }
}

function withDeadline(ms: number, signal?: AbortSignal): AbortSignal {
  const deadline = AbortSignal.timeout(ms);
  return signal ? AbortSignal.any([deadline, signal]) : deadline;
}

/** repository and tag (or digest) of a reference: "host:5000/team/app:1" → host:5000/team/app + 1; no tag is "latest", never "all tags". */
export function splitReference(ref: string): { repository: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { repository: ref.slice(0, at), tag: ref.slice(at + 1) };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { repository: ref, tag: 'latest' };
}

function engineError(what: string, err: unknown): Error {
  const e = new Error(`docker ${what}: ${messageOf(err).trim()}`);
  (e as Error & { statusCode?: number }).statusCode = statusOf(err);
  return e;
}

function labelFilters(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}

function toContainerInfo(raw: ContainerInspect): ContainerInfo {
  const state = raw.State.Status as ContainerState;
  const addresses: Record<string, string> = {};
  for (const [net, ep] of Object.entries(raw.NetworkSettings.Networks ?? {})) {
    if (ep.IPAddress) addresses[net] = ep.IPAddress;
  }
  const stopped = state === 'exited' || state === 'dead';
  return {
    id: raw.Id,
    name: raw.Name.replace(/^\//, ''),
    image: raw.Config.Image,
    labels: raw.Config.Labels ?? {},
    state,
    // A restarting container has exited: its last exit code says why.
    exitCode: stopped || state === 'restarting' ? raw.State.ExitCode : null,
    startError: raw.State.Error || null,
    restartCount: raw.RestartCount,
    addresses,
    createdAt: raw.Created,
    startedAt: raw.State.StartedAt && raw.State.StartedAt !== NEVER ? raw.State.StartedAt : null,
    finishedAt: raw.State.FinishedAt && raw.State.FinishedAt !== NEVER ? raw.State.FinishedAt : null,
  };
}

function toRuntimeEvent(msg: Record<string, unknown>): RuntimeEvent | null {
  const actor = msg.Actor as { ID?: string; Attributes?: Record<string, string> } | undefined;
  const action = (msg.Action ?? msg.status) as string | undefined;
  if (!actor?.ID || typeof action !== 'string') return null;
  const attrs = actor.Attributes ?? {};
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (!NON_LABEL_ATTRIBUTES.has(k)) labels[k] = v;
  const exit = attrs.exitCode !== undefined ? Number.parseInt(attrs.exitCode, 10) : NaN;
  const nanos = typeof msg.timeNano === 'number' ? msg.timeNano : Number(msg.time ?? 0) * 1e9;
  return {
    action,
    containerId: actor.ID,
    labels,
    exitCode: Number.isNaN(exit) ? null : exit,
    time: new Date(Math.floor(nanos / 1e6)).toISOString(),
  };
}
