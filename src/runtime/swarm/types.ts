/**
 * The cluster engine (Docker Swarm) as the control plane sees it: the swarm itself and its nodes.
 * Only server/main.ts imports an implementation; controllers and handlers use this interface.
 */

export type NodeRole = 'manager' | 'worker';
export type NodeAvailability = 'active' | 'pause' | 'drain';

export interface SwarmNode {
  id: string;
  hostname: string;
  /** The address the node talks to the swarm from. */
  addr: string;
  role: NodeRole;
  leader: boolean;
  /** The manager's own listen address (managers only). */
  manager_addr: string | null;
  availability: NodeAvailability;
  /** 'ready' | 'down' | 'unknown' | 'disconnected', as the managers see it. */
  state: string;
  engine_version: string;
  labels: Record<string, string>;
  cpus: number;
  memory_bytes: number;
  /** Swarm's object version: an update must name the version it changes. */
  version: number;
}

export interface SwarmTask {
  id: string;
  node_id: string;
  service_id: string;
  labels: Record<string, string>;
  /** What the orchestrator wants ('running', 'shutdown', ...) and what the task does. */
  desired_state: string;
  state: string;
  /** Why the task is not running: the scheduler's reason (e.g. an unsatisfiable constraint) or the engine's error. */
  error: string | null;
  addresses: string[];
  reserved_cpus: number;
  reserved_memory_bytes: number;
}

export interface SwarmStatus {
  /** 'inactive' | 'pending' | 'active' | 'error' | 'locked' */
  state: string;
  node_id: string | null;
  node_addr: string | null;
  /** Whether this engine is a manager (only a manager answers node and token calls). */
  manager: boolean;
}

/** An engine refusal a caller can act on (a wrong advertise address, a node that is still up). */
export class SwarmRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Cluster {
  status(): Promise<SwarmStatus>;
  /** `docker swarm init`; no address: the engine picks its one interface, or refuses. Returns the node id. */
  init(advertiseAddr: string | null): Promise<string>;
  joinTokens(): Promise<{ worker: string; manager: string }>;
  nodes(): Promise<SwarmNode[]>;
  /** null when no such node. */
  node(id: string): Promise<SwarmNode | null>;
  updateNode(id: string, change: { availability?: NodeAvailability; labels?: Record<string, string> }): Promise<void>;
  removeNode(id: string, force: boolean): Promise<void>;
  tasks(nodeId?: string): Promise<SwarmTask[]>;
}
