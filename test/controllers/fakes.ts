import type { BuildImageOptions, ContainerInfo, ContainerSpec, ContainerState, ContainerStats, ImageInfo, LogLine, Runtime, RuntimeEvent } from '../../src/runtime/types.js';
import type { Challenge, Route, Router } from '../../src/router/types.js';
import type { Clock } from '../../src/controllers/deps.js';

/**
 * In-memory stand-ins for the engine and the router, behind Berth's own interfaces, for fast tests
 * of the controllers' logic. They never replace the real-Docker and real-router tests.
 *
 * An image's name says how its containers behave:
 *   ...:ok        starts, gets an address, answers its health check
 *   ...:unhealthy starts and runs, never answers
 *   ...:exits     exits with code 3 as soon as it starts (init cannot run its command)
 *   ...:refused   the engine refuses to start it (HTTP 400, as for a missing entrypoint)
 * A container with a command (a one-off or release command) exits when waited on: with 1 when the
 * command is `false`, else 0.
 */
interface FakeContainer {
  id: string;
  spec: ContainerSpec;
  state: ContainerState;
  exitCode: number | null;
  restartCount: number;
  address: string | null;
}

export class FakeRuntime implements Runtime {
  readonly containers = new Map<string, FakeContainer>();
  readonly networks = new Set<string>();
  /** Every engine change, in order: "create web-...-v1-r0-g0", "start ...", "stop ...", "remove ...". */
  readonly calls: string[] = [];
  /** Called before every engine change; throwing from it is an engine (or control plane) that fails right there. */
  hook: (op: string, name: string) => void = () => {};
  private seq = 0;
  private ip = 2;

  async ping() {}
  async ensureNetwork(name: string) {
    this.networks.add(name);
  }
  async removeNetwork(name: string) {
    this.networks.delete(name);
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    this.change('create', spec.name);
    if ([...this.containers.values()].some((c) => c.spec.name === spec.name)) throw Object.assign(new Error(`name ${spec.name} in use`), { statusCode: 409 });
    for (const m of spec.mounts ?? []) this.volumes.add(m.volume);
    const id = `fake${++this.seq}`;
    this.containers.set(id, { id, spec, state: 'created', exitCode: null, restartCount: 0, address: null });
    return id;
  }

  async startContainer(id: string) {
    const c = this.must(id);
    this.change('start', c.spec.name);
    if (c.spec.image.endsWith(':refused')) throw Object.assign(new Error('exec: "missing": executable file not found'), { statusCode: 400 });
    if (c.spec.image.endsWith(':exits')) {
      Object.assign(c, { state: 'exited', exitCode: 3, address: null });
      return;
    }
    Object.assign(c, { state: 'running', exitCode: null, address: `10.9.0.${this.ip++}` });
  }

  async stopContainer(id: string) {
    const c = this.containers.get(id);
    if (!c) return;
    this.change('stop', c.spec.name);
    if (c.state === 'running') Object.assign(c, { state: 'exited', exitCode: 0, address: null });
  }

  async removeContainer(id: string) {
    const c = this.containers.get(id);
    if (!c) return;
    this.change('remove', c.spec.name);
    this.containers.delete(id);
  }

  /** Volumes the engine holds (made by the first container that mounts one). */
  readonly volumes = new Set<string>();

  async waitContainer(id: string): Promise<number> {
    const c = this.must(id);
    if (c.spec.cmd) Object.assign(c, { state: 'exited', exitCode: c.spec.cmd[0] === 'false' ? 1 : 0, address: null });
    return c.exitCode ?? 0;
  }

  async copyFrom(): Promise<NodeJS.ReadableStream> {
    throw new Error('the fake engine holds no files');
  }

  async attach(): Promise<NodeJS.ReadWriteStream> {
    throw new Error('the fake engine has no terminals');
  }

  async resize(): Promise<void> {}

  async attachPipes(): Promise<never> {
    throw new Error('the fake engine has no pipes');
  }

  async copyTo(): Promise<void> {
    throw new Error('the fake engine holds no files');
  }

  async createHelper(): Promise<string> {
    throw new Error('the fake engine runs no helpers');
  }

  async ensureVolume(name: string): Promise<void> {
    this.volumes.add(name);
  }

  async volumeUsers(name: string, except?: Record<string, string>): Promise<string[]> {
    const excepted = (labels: Record<string, string> | undefined) => !!except && Object.entries(except).every(([k, v]) => labels?.[k] === v);
    return [...this.containers.values()].filter((c) => c.spec.mounts?.some((m) => m.volume === name) && !excepted(c.spec.labels)).map((c) => c.spec.name);
  }

  async listVolumes(): Promise<string[]> {
    return [...this.volumes];
  }

  async removeVolume(name: string): Promise<boolean> {
    if ([...this.containers.values()].some((c) => c.spec.mounts?.some((m) => m.volume === name))) return false;
    this.volumes.delete(name);
    return true;
  }

  async inspectContainer(id: string): Promise<ContainerInfo | null> {
    const c = this.containers.get(id);
    return c ? this.info(c) : null;
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerInfo[]> {
    return [...this.containers.values()].filter((c) => Object.entries(labels).every(([k, v]) => c.spec.labels[k] === v)).map((c) => this.info(c));
  }

  async *logs(): AsyncIterable<LogLine> {
    yield { stream: 'stdout', time: new Date(0).toISOString(), line: 'booting' };
  }

  async stats(id: string): Promise<ContainerStats | null> {
    const c = this.containers.get(id);
    return c?.state === 'running' ? { cpuPercent: 0, memoryMb: c.spec.memoryMb / 2 } : null;
  }

  private readonly listeners = new Set<(ev: RuntimeEvent) => void>();

  /** Engine events as the engine streams them: each open events() stream gets every emitted event. */
  emit(action: string, name: string) {
    const c = this.byName(name);
    const ev: RuntimeEvent = { action, containerId: c.id, labels: c.spec.labels, exitCode: c.exitCode, time: new Date(0).toISOString() };
    for (const l of this.listeners) l(ev);
  }

  private readonly breakers = new Set<() => void>();
  /** Every open event stream fails, as when the engine restarts. */
  breakStreams() {
    for (const b of this.breakers) b();
    this.breakers.clear();
  }

  /** Number of open event streams (the controller's watch is one). */
  get watchers(): number {
    return this.listeners.size;
  }

  async *events(labels: Record<string, string>, signal: AbortSignal): AsyncIterable<RuntimeEvent> {
    const queue: RuntimeEvent[] = [];
    let wake = () => {};
    const listener = (ev: RuntimeEvent) => {
      if (!Object.entries(labels).every(([k, v]) => ev.labels[k] === v)) return;
      queue.push(ev);
      wake();
    };
    this.listeners.add(listener);
    const aborted = () => wake();
    signal.addEventListener('abort', aborted, { once: true });
    this.breakers.add(() => {
      queue.push({ action: '__broken', containerId: '', labels: {}, exitCode: null, time: '' });
      wake();
    });
    try {
      while (!signal.aborted) {
        if (queue[0]?.action === '__broken') throw new Error('the event stream broke');
        if (queue.length) yield queue.shift()!;
        else await new Promise<void>((r) => (wake = r));
      }
    } finally {
      this.listeners.delete(listener);
      signal.removeEventListener('abort', aborted);
    }
  }

  async inspectImage(): Promise<ImageInfo | null> {
    return { id: 'sha256:fake', user: '', exposedPorts: [] };
  }
  async imageUser() {
    return { declared: '', runAs: '65534:65534', root: true };
  }
  async buildImage(_opts: BuildImageOptions): Promise<ImageInfo> {
    throw new Error('the fake runtime does not build');
  }
  async removeImage() {}
  async pullImage() {}
  async listImages() {
    return [];
  }

  /** The container exits on its own (a crash), as Docker reports it before restarting it. */
  crash(name: string, exitCode = 1) {
    const c = this.byName(name);
    Object.assign(c, { state: 'exited', exitCode, address: null });
  }

  /** Docker's restart policy brings a crashed container back. */
  restartByEngine(name: string) {
    const c = this.byName(name);
    Object.assign(c, { state: 'running', exitCode: null, address: `10.9.0.${this.ip++}`, restartCount: c.restartCount + 1 });
  }

  /** Whether the container at this address answers its health check now. */
  answers(address: string): boolean {
    const c = [...this.containers.values()].find((x) => x.address === address && x.state === 'running');
    return !!c && !c.spec.image.endsWith(':unhealthy');
  }

  running(): FakeContainer[] {
    return [...this.containers.values()].filter((c) => c.state === 'running');
  }

  byName(name: string): FakeContainer {
    const c = [...this.containers.values()].find((x) => x.spec.name === name);
    if (!c) throw new Error(`no container ${name}`);
    return c;
  }

  private change(op: string, name: string) {
    this.hook(op, name);
    this.calls.push(`${op} ${name}`);
  }

  private must(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw Object.assign(new Error(`no such container ${id}`), { statusCode: 404 });
    return c;
  }

  private info(c: FakeContainer): ContainerInfo {
    return {
      id: c.id,
      name: `/${c.spec.name}`,
      image: c.spec.image,
      labels: c.spec.labels,
      state: c.state,
      exitCode: c.exitCode,
      startError: null,
      restartCount: c.restartCount,
      addresses: c.address ? { [c.spec.network]: c.address } : {},
      createdAt: new Date(0).toISOString(),
      startedAt: null,
      finishedAt: null,
    };
  }
}

/** A router that serves exactly what it was last given, and remembers every load. */
export class FakeRouter implements Router {
  routes: Route[] = [];
  readonly history: Route[][] = [];
  async ensureRunning() {}
  async apply(routes: Route[], _challenges?: Challenge[], loaded?: (removed: string[]) => void) {
    const before = new Set(this.routes.flatMap((r) => r.upstreams));
    this.routes = structuredClone(routes);
    this.history.push(this.routes);
    loaded?.([...before].filter((u) => !routes.some((r) => r.upstreams.includes(u))));
  }
  async current() {
    return structuredClone(this.routes);
  }
  // Certificates and traffic counters are not the app controller's business: nothing to fake.
  async setCertificates() {}
  async setAcmeChallenges() {}
  async stats() {
    return null;
  }
  /** The upstreams of one app in every load so far, oldest first. */
  upstreamsOver(slug: string): string[][] {
    return this.history.map((rs) => rs.find((r) => r.app === slug)?.upstreams ?? []);
  }
}

/** Time that passes only when something waits: a health check's timeout is reached at once. */
export class FakeClock implements Clock {
  t = 0;
  now = () => this.t;
  sleep = async (ms: number) => {
    this.t += ms;
    await new Promise((r) => setImmediate(r));
  };
}
