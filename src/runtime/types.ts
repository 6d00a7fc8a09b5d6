/**
 * The container runtime, as the rest of Berth sees it: a few ports, each sized to its callers
 * (Containers, Runs, Networks, Volumes, Images, ImageBuilds, EngineEvents). Domain code and
 * controllers import these interfaces only; the Docker Engine implementation lives beside them.
 */

export interface ContainerSpec {
  /** Docker container name; unique on the engine. */
  name: string;
  image: string;
  /** Overrides the image's command when set. */
  cmd?: string[];
  env: Record<string, string>;
  /** Berth's labels (berth.app, berth.release, berth.replica, ...): how reconcile finds its containers. */
  labels: Record<string, string>;
  /** The project's network; the container joins it with the given DNS aliases. */
  network: string;
  aliases: string[];
  memoryMb: number;
  /** CPU cores, fractional allowed (0.5 = half a core). 0 = no limit. */
  cpu: number;
  pidsLimit?: number;
  /** Named engine volumes (never host paths), made on first use and writable by any user. */
  mounts?: VolumeMount[];
  /** A pseudo-terminal with stdin open (interactive one-off commands); its output is raw, not in the log. */
  tty?: boolean;
  /** stdin open without a terminal (attachPipes); it closes when the attached client closes it. */
  stdin?: boolean;
  /** 'no' for one-off commands: they run once. Default: restarted unless stopped. */
  restart?: 'unless-stopped' | 'no';
  /** Where a replica may run in cluster mode (Swarm constraints, e.g. `node.labels.tier==web`); one engine ignores it. */
  placement?: { constraints: string[] };
}

export interface VolumeMount {
  /** The engine volume's name. */
  volume: string;
  /** Absolute path in the container. */
  path: string;
  /** Labels the volume gets if it has to be made. */
  labels: Record<string, string>;
}

/** Capabilities a root helper may be given (file access only: never network, mount or admin ones). */
export type HelperCapability = 'CHOWN' | 'DAC_OVERRIDE' | 'DAC_READ_SEARCH' | 'FOWNER' | 'FSETID';

/**
 * A short-lived root helper on Berth's own helper image (berth/base): no network, no capabilities
 * but the file ones it names, limits, never restarted. For jobs on a volume's files that must see
 * every owner (a tar snapshot, du); never for user code.
 */
export interface HelperSpec {
  /** Engine-generated when absent. */
  name?: string;
  cmd: string[];
  labels: Record<string, string>;
  mounts: (VolumeMount & { readOnly: boolean })[];
  capabilities: HelperCapability[];
}

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerPipes {
  stdin: NodeJS.WritableStream;
  /** Ends when the container's output does (it stopped, or the signal aborted). */
  output: AsyncIterable<{ stream: 'stdout' | 'stderr'; data: Buffer }>;
}

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  labels: Record<string, string>;
  state: ContainerState;
  /** Exit code of the last run, when it exited. */
  exitCode: number | null;
  /** Why the engine could not start it (a missing entrypoint...); null when it never tried or succeeded. */
  startError: string | null;
  restartCount: number;
  /** Address on each attached network, by network name. */
  addresses: Record<string, string>;
  /** The node (hostname) it runs on, when the runtime spans several (cluster mode); absent on one engine. */
  node?: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** The kernel killed it for going over its memory limit (when the runtime knows). */
  oomKilled?: boolean;
  /** Its memory limit in MB, when it has one and the runtime knows it. */
  memoryMb?: number;
}

/** A TCP socket a container listens on: address as the kernel has it bound ('0.0.0.0', '::', '127.0.0.1'...). */
export interface ListeningSocket {
  address: string;
  port: number;
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** ISO timestamp from the engine. */
  time: string;
  line: string;
}

export interface LogOptions {
  tail?: number;
  /** Unix seconds. */
  since?: number;
  follow?: boolean;
  signal?: AbortSignal;
}

/** A running container's resource use, from one engine sample. */
export interface ContainerStats {
  /** Share of one core over the engine's last sample interval (100 = one core busy; 200 = two). */
  cpuPercent: number;
  /** Memory in use, page cache the kernel can drop left out (as `docker stats` counts it). */
  memoryMb: number;
}

export interface RuntimeEvent {
  /** Engine action: start, die, oom, health_status, destroy, ... */
  action: string;
  containerId: string;
  labels: Record<string, string>;
  exitCode: number | null;
  time: string;
}

export interface BuildImageOptions {
  /** Directory holding the build context. */
  contextDir: string;
  /** Path of the Dockerfile, relative to contextDir. */
  dockerfile: string;
  tag: string;
  labels?: Record<string, string>;
  memoryMb?: number;
  timeoutMs: number;
  signal?: AbortSignal;
  onLine?: (line: string) => void;
}

export type { ImageUser } from './image-user.js';
import type { ImageUser } from './image-user.js';

export interface ImageInfo {
  id: string;
  /** The image's configured user; '' means root. */
  user: string;
  exposedPorts: number[];
  /** Bytes, and when the image was made (the engine's record). */
  size?: number;
  created?: string;
  /** The image's own labels, which its containers inherit. */
  labels?: Record<string, string>;
}

/**
 * createContainer's refusal when the nodes cannot get the replica's image (cluster mode: Berth's
 * registry is not running, or the push to it failed). The release's rollout cannot go on, and
 * waiting does not help it: the controller fails the release with this message as its reason.
 */
export class ImageUnavailable extends Error {}

/**
 * The engine cannot start this container again: it still holds a task of it from a start that an
 * engine shutdown interrupted (moby's "task ... already exists", which only removing the container
 * clears). Its owner replaces it; its data lives in volumes, not in the container.
 */
export class ContainerStuck extends Error {}

/**
 * Containers' lives: what the app controller does to a replica (and every one-off container's
 * caller too). In cluster mode a replica is a Swarm service (swarm/runtime.ts); on one engine, a container.
 */
export interface Containers {
  /** Creates a hardened container (see docs/architecture.md) and returns its id. Does not start it. Throws ImageUnavailable when the image cannot reach where it would run. */
  createContainer(spec: ContainerSpec): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** Sends SIGTERM, then SIGKILL after timeoutSec. No error if already stopped. */
  stopContainer(id: string, timeoutSec: number): Promise<void>;
  /** No error if already gone. */
  removeContainer(id: string): Promise<void>;
  /** null when there is no such container. */
  inspectContainer(id: string): Promise<ContainerInfo | null>;
  /**
   * The TCP sockets the container listens on, to explain a replica that does not answer. Null when
   * the runtime cannot see them (an engine on another host, a replica on another node); optional
   * for the same reason.
   */
  listening?(id: string): Promise<ListeningSocket[] | null>;
  /** Containers (running or not) whose labels include all of the given ones. */
  listContainers(labels: Record<string, string>): Promise<ContainerInfo[]>;
  logs(id: string, opts: LogOptions): AsyncIterable<LogLine>;
  /** One sample of CPU and memory use; null when there is no such container or it is not running. */
  stats(id: string): Promise<ContainerStats | null>;
}

/**
 * The control plane's own engine's short-lived containers: one-off commands, add-on servers and
 * their sessions, volume and backup helpers. Beyond a container's life: waits, terminals, pipes, files.
 */
export interface Runs extends Containers {
  /** Resolves with the exit code once the container has stopped (at once if it already has). */
  waitContainer(id: string, signal?: AbortSignal): Promise<number>;
  /** Creates a root helper (see HelperSpec) and returns its id. Does not start it. */
  createHelper(spec: HelperSpec): Promise<string>;
  /** A tar stream of a path in a container (running or not). */
  copyFrom(id: string, path: string, signal: AbortSignal): Promise<NodeJS.ReadableStream>;
  /** Unpacks a tar stream into a directory of a container (created or running). */
  copyTo(id: string, dir: string, tar: NodeJS.ReadableStream, signal: AbortSignal): Promise<void>;
  /** The terminal of a tty container: writes go to its stdin, reads are its output (what it wrote so far first). */
  attach(id: string, signal: AbortSignal): Promise<NodeJS.ReadWriteStream>;
  resize(id: string, cols: number, rows: number): Promise<void>;
  /** The pipes of a container without a terminal whose stdin is open (spec.stdin): writes go to its stdin (end() closes it); its output comes chunk by chunk with its stream. */
  attachPipes(id: string, signal: AbortSignal): Promise<ContainerPipes>;
}

/** Project networks, which replicas and one-off containers of a project share (overlays in cluster mode). */
export interface Networks {
  ensureNetwork(name: string, labels: Record<string, string>): Promise<void>;
  removeNetwork(name: string): Promise<void>;
}

/** Named engine volumes (on the control plane's engine: a volume is per node). */
export interface Volumes {
  /** Makes the engine volume if it is missing and writable by any user (what a container's mount of it does first). */
  ensureVolume(name: string, labels: Record<string, string>): Promise<void>;
  /** Names of the running containers that mount the engine volume, but those carrying every label of `except`. */
  volumeUsers(volume: string, except?: Record<string, string>): Promise<string[]>;
  /** Names of the engine volumes carrying all of the given labels. */
  listVolumes(labels: Record<string, string>): Promise<string[]>;
  /** false when a container still uses it; true when it is gone (or never was). */
  removeVolume(name: string): Promise<boolean>;
}

/** The engine's images. */
export interface Images {
  /** null when the image is not present locally. */
  inspectImage(ref: string): Promise<ImageInfo | null>;
  /**
   * Who the image runs as, resolved to numeric ids (names from the image's own /etc/passwd and
   * /etc/group, read without running it); uid 0 in any spelling is root. Throws ImageUserError
   * (runtime/image-user.ts) when the image's files cannot resolve its USER.
   */
  imageUser(ref: string): Promise<ImageUser>;
  removeImage(ref: string): Promise<void>;
  /** Images whose labels include all of the given ones, with their tags. */
  listImages(labels: Record<string, string>): Promise<{ id: string; tags: string[]; labels: Record<string, string>; size: number }[]>;
  /** Pulls one tag (or digest) of an image, with registry credentials if given; throws the registry's reason. */
  pullImage(ref: string, opts: PullOptions): Promise<void>;
}

/** The engine's own image builder (used when buildah cannot be: a remote engine). */
export interface ImageBuilds {
  buildImage(opts: BuildImageOptions): Promise<ImageInfo>;
}

/** Container events (what the app controller's watch follows), and whether the engine answers. */
export interface EngineEvents {
  /** Resolves when the engine answers. */
  ping(): Promise<void>;
  /** Container events for containers carrying the given labels, until the signal aborts. */
  events(labels: Record<string, string>, signal: AbortSignal): AsyncIterable<RuntimeEvent>;
}

/** All of one Docker Engine (runtime/docker.ts): what the wiring hands out port by port. */
export interface Runtime extends Runs, Networks, Volumes, Images, ImageBuilds, EngineEvents {}

export interface PullOptions {
  /** Sent to the engine in the X-Registry-Auth header, never in a URL. */
  auth?: { username: string; password: string; serveraddress: string };
  timeoutMs: number;
  signal?: AbortSignal;
}
