import { isRootUser, MANAGED_LABEL, NOBODY, DEFAULT_PIDS_LIMIT } from '../hardening.js';
import { LABEL } from '../labels.js';
import type { ContainerInfo, ContainerSpec, ContainerState } from '../types.js';

/**
 * A Berth replica on the Swarm is a service of one task (`replicas` 0 = stopped, 1 = started), so
 * the app controller's replica-by-replica steps (rolling, blue-green, recreate, health gating) stay
 * what they are on one node. These are the Engine API (v1.41) shapes it is made from and read back.
 */

export interface EngineService {
  ID: string;
  Version: { Index: number };
  CreatedAt: string;
  UpdatedAt: string;
  Spec: {
    Name: string;
    Labels?: Record<string, string> | null;
    TaskTemplate: { ContainerSpec: { Image: string; StopGracePeriod?: number } } & Record<string, unknown>;
    Mode: { Replicated?: { Replicas: number } };
  } & Record<string, unknown>;
}

export interface EngineTask {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  CreatedAt: string;
  DesiredState: string;
  Status: { State: string; Err?: string; Message?: string; Timestamp?: string; ContainerStatus?: { ExitCode?: number } };
  NetworksAttachments?: { Network?: { Spec?: { Name?: string } }; Addresses?: string[] | null }[] | null;
}

/** Task states before `running`: the task is on its way (scheduled, pulling, starting). */
const STARTING = new Set(['new', 'allocated', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting']);
/** Task states of a task that ended (by itself or refused by its node). */
export const ENDED = new Set(['failed', 'rejected', 'complete', 'shutdown', 'orphaned', 'remove']);

/**
 * The service body of a replica, hardened like a container (runtime/hardening.ts) as far as the
 * Swarm API of Docker 20.10 allows: non-root user, every capability dropped, memory, CPU and pids
 * limits, init, named volumes only, no published port. (`no-new-privileges` has no service field
 * before API 1.44.) The service is the replica. Its task containers carry Berth's labels: the ones
 * given here and, copied by Swarm, the service's own (the instance label too), so SwarmRuntime
 * leaves them out of what the manager's engine lists.
 */
export function replicaService(spec: ContainerSpec, imageUser: string, stopGraceS: number): Record<string, unknown> {
  const memory = Math.floor(spec.memoryMb * 1024 * 1024);
  const { [LABEL.instance]: _instance, ...taskLabels } = spec.labels;
  return {
    Name: spec.name,
    Labels: { ...spec.labels, [MANAGED_LABEL]: 'true' },
    TaskTemplate: {
      ContainerSpec: {
        Image: spec.image,
        ...(spec.cmd ? { Args: spec.cmd } : {}),
        Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        Labels: { ...taskLabels, [MANAGED_LABEL]: 'true' },
        User: isRootUser(imageUser) ? NOBODY : imageUser,
        Init: true,
        CapabilityDrop: ['ALL'],
        StopGracePeriod: stopGraceS * 1e9,
        Mounts: (spec.mounts ?? []).map((m) => ({ Type: 'volume', Source: m.volume, Target: m.path, ReadOnly: false, VolumeOptions: { NoCopy: true, Labels: m.labels } })),
      },
      Resources: {
        Limits: { MemoryBytes: memory, Pids: spec.pidsLimit ?? DEFAULT_PIDS_LIMIT, ...(spec.cpu > 0 ? { NanoCPUs: Math.round(spec.cpu * 1e9) } : {}) },
        // What a node's `allocated` counts, and what the scheduler fits replicas into.
        Reservations: { MemoryBytes: memory, ...(spec.cpu > 0 ? { NanoCPUs: Math.round(spec.cpu * 1e9) } : {}) },
      },
      RestartPolicy: { Condition: 'any', Delay: 1e9, MaxAttempts: 0 },
      Placement: { Constraints: spec.placement?.constraints ?? [] },
      Networks: [{ Target: spec.network, Aliases: spec.aliases }],
      LogDriver: { Name: 'json-file', Options: { 'max-size': '10m', 'max-file': '3' } },
    },
    Mode: { Replicated: { Replicas: 0 } },
    // No IPVS on these kernels: a VIP would be an address nothing answers on.
    EndpointSpec: { Mode: 'dnsrr' },
  };
}

/** Task states of a task that ended by itself, or that its node refused. */
const FAILED = new Set(['failed', 'rejected', 'complete', 'orphaned']);

const time = (s: string) => Date.parse(s);
const newestFirst = (a: EngineTask, b: EngineTask) => time(b.CreatedAt) - time(a.CreatedAt);

/** Tasks that failed since the service was last scaled (a stop and a start begin the count again, as `docker start` does), newest first. */
export function failures(svc: EngineService, tasks: EngineTask[]): EngineTask[] {
  return tasks.filter((t) => t.ServiceID === svc.ID && time(t.CreatedAt) >= time(svc.UpdatedAt) && FAILED.has(t.Status.State)).sort(newestFirst);
}

/** The replica as a container: its current task's state and overlay address, failures as restarts. */
export function toContainerInfo(svc: EngineService, all: EngineTask[], nodeName: (id: string) => string | undefined = () => undefined): ContainerInfo {
  const replicas = svc.Spec.Mode.Replicated?.Replicas ?? 0;
  const mine = all.filter((t) => t.ServiceID === svc.ID).sort(newestFirst);
  const current = mine.find((t) => t.DesiredState === 'running');
  const failed = failures(svc, all);
  const lastEnded = mine.find((t) => ENDED.has(t.Status.State));
  let state: ContainerState;
  if (!current) state = replicas === 0 ? 'exited' : 'created';
  else if (current.Status.State === 'running') state = 'running';
  else if (STARTING.has(current.Status.State)) state = failed.length > 0 ? 'restarting' : 'created';
  else state = 'restarting';
  const addresses: Record<string, string> = {};
  if (current?.Status.State === 'running') {
    for (const a of current.NetworksAttachments ?? []) {
      const name = a.Network?.Spec?.Name;
      const addr = a.Addresses?.[0]?.split('/')[0];
      if (name && addr) addresses[name] = addr;
    }
  }
  const ended = state === 'exited' || state === 'restarting';
  return {
    id: svc.ID,
    name: svc.Spec.Name,
    image: svc.Spec.TaskTemplate.ContainerSpec.Image,
    labels: svc.Spec.Labels ?? {},
    state,
    exitCode: ended ? lastEnded?.Status.ContainerStatus?.ExitCode ?? null : null,
    startError: current && current.Status.State !== 'running' ? current.Status.Err || null : null,
    restartCount: failed.length,
    addresses,
    ...(current?.NodeID && nodeName(current.NodeID) ? { node: nodeName(current.NodeID) } : {}),
    createdAt: svc.CreatedAt,
    startedAt: current?.Status.State === 'running' ? current.Status.Timestamp ?? null : null,
    finishedAt: ended ? lastEnded?.Status.Timestamp ?? null : null,
  };
}
