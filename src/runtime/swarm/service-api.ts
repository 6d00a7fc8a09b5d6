import type { Readable } from 'node:stream';
import { connect, messageOf, statusOf, type CallOptions } from '../engine-api.js';
import { modemOptions } from '../docker/client.js';
import type { EngineService, EngineTask } from './replica-service.js';

/** Registry credentials as the Engine API takes them (X-Registry-Auth). */
export interface PullAuth {
  username: string;
  password: string;
  serveraddress: string;
}

export interface ServiceApi {
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

/** The manager's Engine API for services and their tasks, each call under the short deadline. */
export class SwarmApi {
  readonly api: ServiceApi;
  /** Node id → hostname, read again when a task names a node not in it. */
  private readonly nodeNames = new Map<string, string>();

  constructor(dockerHost: string | undefined, readonly timeoutMs: number) {
    this.api = connect({ ...modemOptions(dockerHost), timeout: timeoutMs }) as unknown as ServiceApi;
  }

  async inspectService(id: string): Promise<EngineService | null> {
    try {
      return await this.api.getService(id).inspect({ abortSignal: this.signal() });
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw refusal('inspect service', err);
    }
  }

  /** Services carrying all of the given labels. */
  async services(filters: Record<string, string[]>): Promise<EngineService[]> {
    try {
      return await this.api.listServices({ filters: JSON.stringify(filters), abortSignal: this.signal() });
    } catch (err) {
      throw refusal('list services', err);
    }
  }

  async tasks(serviceIds: string[]): Promise<EngineTask[]> {
    try {
      return await this.api.listTasks({ filters: JSON.stringify({ service: serviceIds }), abortSignal: this.signal() });
    } catch (err) {
      throw refusal('list tasks', err);
    }
  }

  /** Hostnames of the tasks' nodes (the list of nodes read again only for one not seen yet). */
  async namer(tasks: EngineTask[]): Promise<(id: string) => string | undefined> {
    if (tasks.some((t) => t.NodeID && !this.nodeNames.has(t.NodeID))) {
      const nodes = await this.api.listNodes({ abortSignal: this.signal() }).catch(() => []);
      for (const n of nodes) if (n.Description?.Hostname) this.nodeNames.set(n.ID, n.Description.Hostname);
    }
    return (id) => this.nodeNames.get(id);
  }

  signal(times = 1): AbortSignal {
    return AbortSignal.timeout(this.timeoutMs * times);
  }
}

export function labelFilter(labels: Record<string, string>): Record<string, string[]> {
  return { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
}

const SWARM_TASK_LABEL = 'com.docker.swarm.task.id';

/**
 * A replica's task container on the manager's own engine. Swarm gives task containers the service's
 * labels, the instance label included, so the manager's engine lists them among Berth's containers;
 * taken for strays, they were removed (SIGKILL) seconds after every start there (seen in the
 * cluster apps test: replicas on the manager killed every 5 s, requests through them failed).
 */
export function isTaskContainer(labels: Record<string, string>): boolean {
  return SWARM_TASK_LABEL in labels;
}

export function withStatus(err: Error, status: number): Error {
  (err as Error & { statusCode?: number }).statusCode = status;
  return err;
}

/** The engine's words, with its status kept (a 4xx is the request's fault, anything else the engine's). */
export function refusal(what: string, err: unknown): Error {
  return withStatus(new Error(`docker ${what}: ${messageOf(err).trim()}`), statusOf(err) ?? 0);
}
