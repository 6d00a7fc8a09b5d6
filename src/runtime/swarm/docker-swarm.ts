import { connect, messageOf, statusOf, type CallOptions } from '../engine-api.js';
import { modemOptions } from '../docker/client.js';
import { SwarmRefused, type Cluster, type NodeAvailability, type SwarmNode, type SwarmStatus, type SwarmTask } from './types.js';

/** The slice of dockerode's Swarm calls used here (Engine API v1.41 field names). */
interface SwarmApi {
  info(opts?: CallOptions): Promise<{ Swarm?: { LocalNodeState?: string; NodeID?: string; NodeAddr?: string; ControlAvailable?: boolean } }>;
  swarmInit(opts: CallOptions & Record<string, unknown>): Promise<string>;
  swarmInspect(opts?: CallOptions): Promise<{ JoinTokens: { Worker: string; Manager: string } }>;
  listNodes(opts?: CallOptions): Promise<EngineNode[]>;
  listTasks(opts?: CallOptions & { filters?: string }): Promise<EngineTask[]>;
  getNode(id: string): {
    inspect(opts?: CallOptions): Promise<EngineNode>;
    update(opts: CallOptions & { _query: { version: number }; _body: Record<string, unknown> }): Promise<unknown>;
    remove(opts?: CallOptions & { force?: boolean }): Promise<unknown>;
  };
}

interface EngineNode {
  ID: string;
  Version: { Index: number };
  Spec: { Role: string; Availability: string; Labels?: Record<string, string> | null; Name?: string };
  Description?: {
    Hostname?: string;
    Resources?: { NanoCPUs?: number; MemoryBytes?: number };
    Engine?: { EngineVersion?: string };
  };
  Status: { State: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Addr?: string };
}

interface EngineTask {
  ID: string;
  NodeID?: string;
  ServiceID: string;
  Labels?: Record<string, string> | null;
  DesiredState: string;
  Status: { State: string; Err?: string; Message?: string };
  Spec?: { ContainerSpec?: { Labels?: Record<string, string> | null }; Resources?: { Reservations?: { NanoCPUs?: number; MemoryBytes?: number } } };
  NetworksAttachments?: { Addresses?: string[] | null }[] | null;
}

function toNode(n: EngineNode): SwarmNode {
  return {
    id: n.ID,
    hostname: n.Description?.Hostname ?? '',
    addr: n.Status.Addr ?? '',
    role: n.Spec.Role === 'manager' ? 'manager' : 'worker',
    leader: n.ManagerStatus?.Leader === true,
    manager_addr: n.ManagerStatus?.Addr ?? null,
    availability: n.Spec.Availability as NodeAvailability,
    state: n.Status.State,
    engine_version: n.Description?.Engine?.EngineVersion ?? '',
    labels: n.Spec.Labels ?? {},
    cpus: (n.Description?.Resources?.NanoCPUs ?? 0) / 1e9,
    memory_bytes: n.Description?.Resources?.MemoryBytes ?? 0,
    version: n.Version.Index,
  };
}

function toTask(t: EngineTask): SwarmTask {
  const r = t.Spec?.Resources?.Reservations;
  return {
    id: t.ID,
    node_id: t.NodeID ?? '',
    service_id: t.ServiceID,
    labels: { ...(t.Labels ?? {}), ...(t.Spec?.ContainerSpec?.Labels ?? {}) },
    desired_state: t.DesiredState,
    state: t.Status.State,
    error: t.Status.Err || null,
    // "10.0.1.5/24" on each attached network: the address without its prefix length.
    addresses: (t.NetworksAttachments ?? []).flatMap((a) => a.Addresses ?? []).map((a) => a.split('/')[0]!),
    reserved_cpus: (r?.NanoCPUs ?? 0) / 1e9,
    reserved_memory_bytes: r?.MemoryBytes ?? 0,
  };
}

/** Swarm through the Engine API of the control plane's engine (the same DOCKER_HOST as the runtime). */
export class DockerSwarm implements Cluster {
  private readonly api: SwarmApi;

  constructor(opts: { dockerHost?: string; callTimeoutMs?: number } = {}) {
    const timeout = opts.callTimeoutMs ?? 30_000;
    this.api = connect({ ...modemOptions(opts.dockerHost ?? process.env.DOCKER_HOST), timeout }) as unknown as SwarmApi;
    this.timeoutMs = timeout;
  }
  private readonly timeoutMs: number;

  /** Each call has a deadline; the engine's 4xx refusals become SwarmRefused with its own message. */
  private async call<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await fn(AbortSignal.timeout(this.timeoutMs));
    } catch (err) {
      const status = statusOf(err);
      if (status !== undefined && status >= 400 && status < 500) throw new SwarmRefused(status, messageOf(err).trim());
      // 503 "This node is not a swarm manager" and the like: the caller can act on these too.
      if (status === 503) throw new SwarmRefused(409, messageOf(err).trim());
      throw err;
    }
  }

  async status(): Promise<SwarmStatus> {
    const info = await this.call((abortSignal) => this.api.info({ abortSignal }));
    const s = info.Swarm ?? {};
    return {
      state: s.LocalNodeState || 'inactive',
      node_id: s.NodeID || null,
      node_addr: s.NodeAddr || null,
      manager: s.ControlAvailable === true,
    };
  }

  async init(advertiseAddr: string | null): Promise<string> {
    const id = await this.call((abortSignal) =>
      this.api.swarmInit({
        abortSignal,
        ListenAddr: '0.0.0.0:2377',
        ...(advertiseAddr ? { AdvertiseAddr: advertiseAddr } : {}),
      }),
    );
    return String(id).replace(/^"|"\s*$/g, '').trim();
  }

  async joinTokens() {
    const s = await this.call((abortSignal) => this.api.swarmInspect({ abortSignal }));
    return { worker: s.JoinTokens.Worker, manager: s.JoinTokens.Manager };
  }

  async nodes(): Promise<SwarmNode[]> {
    const list = await this.call((abortSignal) => this.api.listNodes({ abortSignal }));
    return list.map(toNode).sort((a, b) => a.hostname.localeCompare(b.hostname) || a.id.localeCompare(b.id));
  }

  async node(id: string): Promise<SwarmNode | null> {
    try {
      return toNode(await this.call((abortSignal) => this.api.getNode(id).inspect({ abortSignal })));
    } catch (err) {
      if (err instanceof SwarmRefused && err.status === 404) return null;
      throw err;
    }
  }

  async updateNode(id: string, change: { availability?: NodeAvailability; labels?: Record<string, string> }): Promise<void> {
    const n = await this.call((abortSignal) => this.api.getNode(id).inspect({ abortSignal }));
    const spec = {
      ...n.Spec,
      ...(change.availability ? { Availability: change.availability } : {}),
      ...(change.labels ? { Labels: change.labels } : {}),
    };
    await this.call((abortSignal) => this.api.getNode(id).update({ abortSignal, _query: { version: n.Version.Index }, _body: spec }));
  }

  async removeNode(id: string, force: boolean): Promise<void> {
    await this.call((abortSignal) => this.api.getNode(id).remove({ abortSignal, force }));
  }

  async tasks(nodeId?: string): Promise<SwarmTask[]> {
    const filters = nodeId ? JSON.stringify({ node: [nodeId] }) : undefined;
    const list = await this.call((abortSignal) => this.api.listTasks({ abortSignal, ...(filters ? { filters } : {}) }));
    return list.map(toTask);
  }
}
