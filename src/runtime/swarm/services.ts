import { connect, messageOf, statusOf, type CallOptions } from '../engine-api.js';
import { modemOptions } from '../docker/client.js';
import { MANAGED_LABEL } from '../hardening.js';
import { DockerSwarm } from './docker-swarm.js';
import type { SwarmTask } from './types.js';

/** What a replica set on the Swarm runs: the first pieces of a Swarm Runtime (not wired into the app controller yet). */
export interface ServiceSpec {
  name: string;
  image: string;
  replicas: number;
  /** The project's overlay network; the service answers there by its name (DNS round robin over its tasks). */
  network: string;
  labels: Record<string, string>;
  env?: Record<string, string>;
  /** Swarm placement constraints, e.g. `node.labels.tier==web`. */
  constraints?: string[];
  reservations?: { cpus?: number; memoryBytes?: number };
  command?: string[];
}

interface ServicesApi {
  createNetwork(opts: CallOptions & Record<string, unknown>): Promise<{ id: string }>;
  listNetworks(opts: CallOptions & { filters?: Record<string, string[]> }): Promise<{ Name: string }[]>;
  /** `auth` goes in X-Registry-Auth; with one argument dockerode would send the whole spec (env included) in that header. */
  createService(auth: undefined, opts: CallOptions & Record<string, unknown>): Promise<{ id: string }>;
  getService(id: string): { remove(opts?: CallOptions): Promise<unknown> };
}

/**
 * Per-project overlay networks and dnsrr services. This kernel has no IPVS, so no VIPs and no
 * routing mesh: a service is reached by its tasks' overlay addresses (`tasks()`), or by name from
 * inside its network (the embedded DNS answers every task address).
 */
export class SwarmServices {
  private readonly api: ServicesApi;
  private readonly swarm: DockerSwarm;

  constructor(opts: { dockerHost?: string; callTimeoutMs?: number } = {}) {
    const host = opts.dockerHost ?? process.env.DOCKER_HOST;
    this.api = connect({ ...modemOptions(host), timeout: opts.callTimeoutMs ?? 30_000 }) as unknown as ServicesApi;
    this.swarm = new DockerSwarm({ dockerHost: host, callTimeoutMs: opts.callTimeoutMs });
  }

  /** An attachable overlay network (a project's): apps reach each other across nodes, other projects cannot. */
  async ensureOverlay(name: string, labels: Record<string, string>): Promise<void> {
    const existing = await this.api.listNetworks({ filters: { name: [name] } });
    if (existing.some((n) => n.Name === name)) return;
    try {
      await this.api.createNetwork({ Name: name, Driver: 'overlay', Attachable: true, CheckDuplicate: true, Labels: { ...labels, [MANAGED_LABEL]: 'true' } });
    } catch (err) {
      if (statusOf(err) === 409 || /already exists/i.test(messageOf(err))) return;
      throw err;
    }
  }

  async createService(spec: ServiceSpec): Promise<string> {
    const res = await this.api.createService(undefined, {
      Name: spec.name,
      Labels: { ...spec.labels, [MANAGED_LABEL]: 'true' },
      TaskTemplate: {
        ContainerSpec: {
          Image: spec.image,
          Labels: spec.labels,
          Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
          ...(spec.command ? { Args: spec.command } : {}),
        },
        Networks: [{ Target: spec.network, Aliases: [spec.name] }],
        Placement: { Constraints: spec.constraints ?? [] },
        Resources: {
          Reservations: {
            ...(spec.reservations?.cpus ? { NanoCPUs: Math.round(spec.reservations.cpus * 1e9) } : {}),
            ...(spec.reservations?.memoryBytes ? { MemoryBytes: spec.reservations.memoryBytes } : {}),
          },
        },
        RestartPolicy: { Condition: 'any', Delay: 1_000_000_000 },
      },
      Mode: { Replicated: { Replicas: spec.replicas } },
      // No IPVS here: VIP mode would give the service an address nothing answers on.
      EndpointSpec: { Mode: 'dnsrr' },
    });
    return res.id;
  }

  async removeService(id: string): Promise<void> {
    try {
      await this.api.getService(id).remove();
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  /** The service's tasks meant to run, with the node each is on and its overlay address(es). */
  async tasks(serviceId: string): Promise<SwarmTask[]> {
    return (await this.swarm.tasks()).filter((t) => t.service_id === serviceId && t.desired_state === 'running');
  }
}
