import { Type as T } from '@sinclair/typebox';
import * as S from './schemas.js';
import { closed, type RouteDef } from './route-def.js';

/** A Swarm node id or a node's hostname. */
const NodeParam = closed({
  id: T.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', description: 'a node id or hostname' }),
});

export const ClusterState = T.Object({
  /** 'none' (single-node), 'initializing', 'active', 'failed'. */
  status: T.Union([T.Literal('none'), T.Literal('initializing'), T.Literal('active'), T.Literal('failed')]),
  /** Why the last init failed. */
  message: T.Union([T.String(), T.Null()]),
  advertise_addr: T.Union([T.String(), T.Null()]),
  /** This engine's Swarm node id once it is a manager. */
  node_id: T.Union([T.String(), T.Null()]),
  /** Whether this server allows cluster mode at all (started with BERTH_CLUSTER=1); without it init is refused. */
  enabled: T.Boolean(),
});

const Resources = T.Object({ cpus: T.Number(), memory_bytes: T.Integer() });

export const NodeReplica = T.Object({
  task_id: T.String(),
  /** The Berth app it belongs to, when it is one of Berth's (label berth.app). */
  app: T.Union([T.String(), T.Null()]),
  service_id: T.String(),
  state: T.String(),
  addresses: T.Array(T.String()),
  /** Berth's own view of the replica, when it is one of this installation's (else null). */
  app_slug: T.Union([T.String(), T.Null()]),
  /** The release version it runs (label berth.version). */
  release: T.Union([T.Integer(), T.Null()]),
  /** Berth's replica status: starting, healthy, unhealthy, crashed, draining or stopped. */
  status: T.Union([T.String(), T.Null()]),
  in_rotation: T.Union([T.Boolean(), T.Null()]),
});

export const Node = T.Object({
  id: T.String(),
  hostname: T.String(),
  addresses: T.Array(T.String()),
  role: T.Union([T.Literal('manager'), T.Literal('worker')]),
  leader: T.Boolean(),
  /**
   * Swarm's availability, except 'draining': an admin drained the node and Berth is still moving its
   * replicas off (the node is paused in Swarm meanwhile: nothing new lands there); 'drain' once none is left.
   */
  availability: T.Union([T.Literal('active'), T.Literal('pause'), T.Literal('draining'), T.Literal('drain')]),
  /** 'ready', 'down', 'unknown' or 'disconnected', as the managers see it. */
  state: T.String(),
  engine_version: T.String(),
  labels: T.Record(T.String(), T.String()),
  capacity: Resources,
  /** The sum of the reservations of the replicas running on it. */
  allocated: Resources,
  replicas: T.Array(NodeReplica),
  /** The admin's last change to this node and how it went. */
  last_change: T.Union([T.Object({ status: T.String(), message: T.Union([T.String(), T.Null()]), at: S.Timestamp }), T.Null()]),
});

/** Node label keys: letters, digits, '.', '_', '-' (checked by the handler; OpenAPI 3.0 cannot say it of map keys). */
export const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$/;

export const ControlPlane = T.Object({
  /** This process's id among the control planes (a new one each start). */
  id: T.String(),
  /** Where its API answers (BERTH_ADVERTISE_URL). */
  address: T.String(),
  started_at: S.Timestamp,
  /** Its last heartbeat (every 2 s); an instance silent for 30 s is no longer listed. */
  last_seen: S.Timestamp,
  /** Whether it holds the lease: it runs the controllers (rollouts, builds, cron, backups, ...). */
  leader: T.Boolean(),
  /** The instance that answered this request. */
  self: T.Boolean(),
});

/** Cluster mode (Docker Swarm) and its nodes: administrators only; for others these routes do not exist. */
export const clusterRoutes = {
  initCluster: {
    method: 'POST',
    path: '/api/v1/cluster/init',
    summary: "Make the control plane's engine a Swarm manager (admin)",
    tag: 'cluster',
    access: 'admin',
    body: closed({
      advertise_addr: T.Optional(
        T.String({ pattern: '^[A-Za-z0-9.:\\[\\]-]{1,100}$', description: 'an address (IP or IP:port) or interface name other nodes reach this one at' }),
      ),
    }),
    response: ClusterState,
  },
  getCluster: {
    method: 'GET',
    path: '/api/v1/cluster',
    summary: 'Cluster mode: whether it is on (admin)',
    tag: 'cluster',
    access: 'admin',
    response: ClusterState,
  },
  listControlPlanes: {
    method: 'GET',
    path: '/api/v1/cluster/control-planes',
    summary: 'The control-plane instances sharing this database, and which one leads (admin)',
    tag: 'cluster',
    access: 'admin',
    response: T.Object({
      /** 'sqlite': one instance, always the leader; 'postgres': several may share the database. */
      engine: T.Union([T.Literal('sqlite'), T.Literal('postgres')]),
      /** The lease holder and since when its term runs; null while none holds it (a takeover under way). */
      leader: T.Union([T.Object({ id: T.String(), since: S.Timestamp, term: T.Integer() }), T.Null()]),
      items: T.Array(ControlPlane),
    }),
  },
  getJoinCommand: {
    method: 'GET',
    path: '/api/v1/cluster/join',
    summary: 'The command that joins a new server to the cluster (admin)',
    tag: 'cluster',
    access: 'admin',
    query: closed({ role: T.Optional(T.Union([T.Literal('worker'), T.Literal('manager')], { description: 'worker or manager' })) }),
    response: T.Object({
      /** The trust step (when the cluster registry has an address), then `docker swarm join`: one line to run as root. */
      command: T.String(),
      token: T.String(),
      manager_addr: T.String(),
      role: T.String(),
      /** host:port of Berth's image registry, which nodes pull the apps' images from. */
      registry_addr: T.Union([T.String(), T.Null()]),
      /** Writes Berth's CA to /etc/docker/certs.d/<registry_addr>/ca.crt, so the node's engine trusts the registry. */
      trust_command: T.Union([T.String(), T.Null()]),
    }),
  },
  listNodes: {
    method: 'GET',
    path: '/api/v1/nodes',
    summary: 'List the cluster nodes (admin)',
    tag: 'cluster',
    access: 'admin',
    response: T.Object({ items: T.Array(Node) }),
  },
  getNode: {
    method: 'GET',
    path: '/api/v1/nodes/:id',
    summary: 'One cluster node (admin)',
    tag: 'cluster',
    access: 'admin',
    params: NodeParam,
    response: Node,
  },
  drainNode: {
    method: 'POST',
    path: '/api/v1/nodes/:id/drain',
    summary: 'Drain a node: its replicas move to other nodes (admin)',
    tag: 'cluster',
    access: 'admin',
    params: NodeParam,
    response: Node,
  },
  activateNode: {
    method: 'POST',
    path: '/api/v1/nodes/:id/activate',
    summary: 'Let a node take replicas again (admin)',
    tag: 'cluster',
    access: 'admin',
    params: NodeParam,
    response: Node,
  },
  setNodeLabels: {
    method: 'PUT',
    path: '/api/v1/nodes/:id/labels',
    summary: "Replace a node's labels, for placement constraints (admin)",
    tag: 'cluster',
    access: 'admin',
    params: NodeParam,
    body: closed({ labels: T.Record(T.String(), T.String({ maxLength: 256 }), { maxProperties: 64 }) }),
    response: Node,
  },
  deleteNode: {
    method: 'DELETE',
    path: '/api/v1/nodes/:id',
    summary: 'Remove a node that is down (or any worker, with force) from the cluster (admin)',
    tag: 'cluster',
    access: 'admin',
    params: NodeParam,
    query: closed({ force: T.Optional(T.Boolean()) }),
    response: S.Ok,
  },
} as const satisfies Record<string, RouteDef>;
