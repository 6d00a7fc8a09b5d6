import type { Static } from '@sinclair/typebox';
import type { Handlers } from '../register.js';
import type { ApiContext, AuthUser } from '../context.js';
import type { FastifyRequest } from 'fastify';
import { LABEL_KEY, type ClusterState, type Node } from '../contract/cluster.js';
import { HttpError, badRequest, conflict } from '../errors.js';
import { allNodeChanges, clusterRow, nodeChange, replicasByContainerId, requestCluster, requestNodeChange, runningAppsWithVolumes } from '../../store/cluster.js';
import type { NodeChangeRow } from '../../store/cluster.js';
import type { SwarmNode, SwarmTask } from '../../runtime/swarm/types.js';
import { trustCommand } from '../../registry/trust.js';
import { LABEL } from '../../runtime/labels.js';
import { controlPlanes as listControlPlanes, LEADER } from '../../store/leases.js';

/** Non-admins get the answer an unknown route gets: cluster mode is invisible to them. */
function requireAdmin(user: AuthUser, raw: FastifyRequest) {
  if (!user.is_admin) throw new HttpError(404, 'not_found', `no route ${raw.method} ${raw.url.split('?')[0]}`);
}

async function clusterState(ctx: ApiContext): Promise<Static<typeof ClusterState>> {
  const row = await clusterRow(ctx.db);
  const enabled = ctx.config.clusterMode;
  if (!row) return { status: 'none', message: null, advertise_addr: null, node_id: null, enabled };
  return {
    enabled,
    status: row.status as Static<typeof ClusterState>['status'],
    message: row.message,
    advertise_addr: row.advertise_addr,
    node_id: row.swarm_node_id,
  };
}

async function requireActive(ctx: ApiContext): Promise<void> {
  if (!ctx.config.clusterMode) throw conflict('cluster mode is off on this server (BERTH_CLUSTER=1 turns it on)');
  const row = await clusterRow(ctx.db);
  if (row?.status !== 'active') throw conflict('cluster mode is not on: run `berth cluster init` (POST /api/v1/cluster/init) first');
}

/** The controller applies what was written; an engine that does not answer leaves it pending, to be applied later. */
async function applied(ctx: ApiContext): Promise<void> {
  try {
    await ctx.cluster.reconcile();
  } catch (err) {
    ctx.log.warn({ err }, 'cluster change saved, not applied yet');
    throw new HttpError(503, 'unavailable', 'the Docker Engine did not answer; the change is saved and will be applied when it does');
  }
}

const sum = (tasks: SwarmTask[], k: 'reserved_cpus' | 'reserved_memory_bytes') => tasks.reduce((n, t) => n + t[k], 0);

type BerthReplicas = Awaited<ReturnType<typeof replicasByContainerId>>;

/** Swarm's availability, or 'draining' while an admin's drain waits for Berth to move the node's replicas (the node is paused meanwhile). */
function availability(n: SwarmNode, change: NodeChangeRow | undefined): Static<typeof Node>['availability'] {
  return change?.status === 'pending' && change.availability === 'drain' && n.availability !== 'drain' ? 'draining' : n.availability;
}

function nodeDto(n: SwarmNode, tasks: SwarmTask[], change: NodeChangeRow | undefined, berth: BerthReplicas): Static<typeof Node> {
  // Replicas that run or are about to: what the scheduler counts against the node.
  const live = tasks.filter((t) => t.node_id === n.id && t.desired_state === 'running');
  return {
    id: n.id,
    hostname: n.hostname,
    addresses: [...new Set([n.addr, ...(n.manager_addr ? [n.manager_addr.split(':')[0]!] : [])].filter(Boolean))],
    role: n.role,
    leader: n.leader,
    availability: availability(n, change),
    state: n.state,
    engine_version: n.engine_version,
    labels: n.labels,
    capacity: { cpus: n.cpus, memory_bytes: n.memory_bytes },
    allocated: { cpus: sum(live, 'reserved_cpus'), memory_bytes: sum(live, 'reserved_memory_bytes') },
    replicas: live.map((t) => {
      const mine = berth.get(t.labels[LABEL.container] ?? '');
      const version = Number(t.labels[LABEL.version]);
      return {
        task_id: t.id,
        app: t.labels[LABEL.app] ?? null,
        service_id: t.service_id,
        state: t.state,
        addresses: t.addresses,
        app_slug: mine?.slug ?? null,
        release: mine && Number.isInteger(version) ? version : null,
        status: mine?.status ?? null,
        in_rotation: mine ? mine.in_rotation : null,
      };
    }),
    last_change: change ? { status: change.status, message: change.message, at: change.updated_at } : null,
  };
}

/** The nodes with their replicas, Berth's view of those replicas joined in. */
async function nodeDtos(ctx: ApiContext, nodes: SwarmNode[], tasks: SwarmTask[], changes: NodeChangeRow[]) {
  const berth = await replicasByContainerId(ctx.db, [...new Set(tasks.map((t) => t.labels[LABEL.container]).filter((c): c is string => !!c))]);
  return nodes.map((n) => nodeDto(n, tasks, changes.find((c) => c.node_id === n.id), berth));
}

/** A node by id or hostname. */
async function findNode(ctx: ApiContext, idOrHostname: string): Promise<SwarmNode> {
  await requireActive(ctx);
  const byId = await ctx.cluster.engine.node(idOrHostname);
  if (byId) return byId;
  const named = (await ctx.cluster.engine.nodes()).filter((n) => n.hostname === idOrHostname);
  if (named.length > 1) throw conflict(`${named.length} nodes are named "${idOrHostname}": use the node id`, 'id');
  if (!named[0]) throw new HttpError(404, 'not_found', `node "${idOrHostname}" not found`);
  return named[0];
}

async function freshNode(ctx: ApiContext, id: string) {
  const n = await ctx.cluster.engine.node(id);
  if (!n) throw new HttpError(404, 'not_found', `node "${id}" not found`);
  const change = await nodeChange(ctx.db, id);
  return (await nodeDtos(ctx, [n], await ctx.cluster.engine.tasks(id), change ? [change] : []))[0]!;
}

/** Writes a node change, has it applied, and answers with the node as it now is (or the engine's refusal). */
async function changeNode(ctx: ApiContext, node: SwarmNode, change: Parameters<typeof requestNodeChange>[2]) {
  await requestNodeChange(ctx.db, node.id, change);
  await applied(ctx);
  const row = await nodeChange(ctx.db, node.id);
  if (row?.status === 'failed') throw conflict(`node "${node.hostname}": ${row.message}`);
}

/** An instance silent this long is no longer listed (it may come back: its row stays until it is 10 minutes old). */
const LISTED_MS = 30_000;

async function controlPlanes(ctx: ApiContext) {
  const me = ctx.controlPlane ?? { id: ctx.instanceId, address: ctx.config.advertiseUrl, startedAt: new Date().toISOString(), leading: () => true };
  if (ctx.store.engine === 'sqlite') {
    const at = new Date().toISOString();
    return {
      engine: 'sqlite' as const,
      leader: { id: me.id, since: me.startedAt, term: 1 },
      items: [{ id: me.id, address: me.address, started_at: me.startedAt, last_seen: at, leader: true, self: true }],
    };
  }
  const { now, planes, lease } = await listControlPlanes(ctx.db, LEADER, LISTED_MS);
  const iso = (ms: number) => new Date(ms).toISOString();
  const holder = lease && lease.expires_ms >= now ? lease : null;
  return {
    engine: 'postgres' as const,
    leader: holder ? { id: holder.holder, since: iso(holder.acquired_ms), term: holder.token } : null,
    items: [
      ...planes.map((p) => ({ id: p.id, address: p.address, started_at: iso(p.started_ms), last_seen: iso(p.last_seen_ms), leader: holder?.holder === p.id, self: p.id === me.id })),
      // The instance answering is alive even before its first heartbeat is written.
      ...(planes.some((p) => p.id === me.id) ? [] : [{ id: me.id, address: me.address, started_at: me.startedAt, last_seen: iso(now), leader: holder?.holder === me.id, self: true }]),
    ],
  };
}

export const clusterHandlers = {
  async listControlPlanes({ user, raw }, ctx) {
    requireAdmin(user, raw);
    return controlPlanes(ctx);
  },

  async getCluster({ user, raw }, ctx) {
    requireAdmin(user, raw);
    return clusterState(ctx);
  },

  async initCluster({ user, raw, body }, ctx) {
    requireAdmin(user, raw);
    if (!ctx.config.clusterMode) throw conflict('cluster mode is off on this server: start it with BERTH_CLUSTER=1 to allow `berth cluster init`');
    const current = await clusterRow(ctx.db);
    if (current?.status === 'active') return clusterState(ctx);
    await requestCluster(ctx.db, body.advertise_addr ?? null);
    await applied(ctx);
    const state = await clusterState(ctx);
    if (state.status === 'failed') throw badRequest(`the engine refused to start a swarm: ${state.message}`, 'advertise_addr');
    return state;
  },

  async getJoinCommand({ user, raw, query }, ctx) {
    requireAdmin(user, raw);
    await requireActive(ctx);
    const role = query.role ?? 'worker';
    const engine = ctx.cluster.engine;
    const self = (await engine.status()).node_id;
    const me = self ? await engine.node(self) : null;
    const managerAddr = me?.manager_addr ?? `${(await engine.status()).node_addr}:2377`;
    const tokens = await engine.joinTokens();
    const token = role === 'manager' ? tokens.manager : tokens.worker;
    const join = `docker swarm join --token ${token} ${managerAddr}`;
    // The new server's engine must trust Berth's registry (its CA) to pull the apps' images.
    const trust = await ctx.cluster.registryTrust();
    const trustStep = trust ? trustCommand(trust.address, trust.caPem) : null;
    return {
      command: trustStep ? `${trustStep} && ${join}` : join,
      token,
      manager_addr: managerAddr,
      role,
      registry_addr: trust?.address ?? null,
      trust_command: trustStep,
    };
  },

  async listNodes({ user, raw }, ctx) {
    requireAdmin(user, raw);
    await requireActive(ctx);
    const [nodes, tasks, changes] = await Promise.all([
      ctx.cluster.engine.nodes(),
      ctx.cluster.engine.tasks(),
      allNodeChanges(ctx.db),
    ]);
    return { items: await nodeDtos(ctx, nodes, tasks, changes) };
  },

  async getNode({ user, raw, params }, ctx) {
    requireAdmin(user, raw);
    const n = await findNode(ctx, params.id);
    return freshNode(ctx, n.id);
  },

  async drainNode({ user, raw, params }, ctx) {
    requireAdmin(user, raw);
    const n = await findNode(ctx, params.id);
    const others = (await ctx.cluster.engine.nodes()).filter((o) => o.id !== n.id && o.availability === 'active' && o.state === 'ready');
    if (n.availability !== 'drain' && others.length === 0) {
      throw conflict(`node "${n.hostname}" is the last active node: its replicas would have nowhere to run; activate or join another node first`, 'id');
    }
    if (n.availability !== 'drain' && n.id === (await ctx.cluster.engine.status()).node_id) {
      const pinned = await runningAppsWithVolumes(ctx.db);
      if (pinned.length) {
        throw conflict(`node "${n.hostname}" holds the volumes of ${pinned.join(', ')}: their replicas cannot move to another node; stop those apps first (berth apps stop)`, 'id');
      }
    }
    await changeNode(ctx, n, { availability: 'drain' });
    return freshNode(ctx, n.id);
  },

  async activateNode({ user, raw, params }, ctx) {
    requireAdmin(user, raw);
    const n = await findNode(ctx, params.id);
    await changeNode(ctx, n, { availability: 'active' });
    return freshNode(ctx, n.id);
  },

  async setNodeLabels({ user, raw, params, body }, ctx) {
    requireAdmin(user, raw);
    const badKey = Object.keys(body.labels).find((k) => !LABEL_KEY.test(k));
    if (badKey !== undefined) throw badRequest(`label "${badKey}" must be letters, digits, '.', '_' or '-' (at most 128)`, `labels.${badKey}`);
    const n = await findNode(ctx, params.id);
    await changeNode(ctx, n, { labels: body.labels });
    return freshNode(ctx, n.id);
  },

  async deleteNode({ user, raw, params, query }, ctx) {
    requireAdmin(user, raw);
    const n = await findNode(ctx, params.id);
    if (n.id === (await ctx.cluster.engine.status()).node_id) throw badRequest("the control plane's own node cannot be removed", 'id');
    if (n.role === 'manager') throw conflict(`node "${n.hostname}" is a manager: demote it first (docker node demote)`, 'id');
    if (n.state !== 'down' && !query.force) {
      throw conflict(`node "${n.hostname}" is ${n.state}: drain it and run \`docker swarm leave\` on it first, or remove it with force`, 'id');
    }
    await changeNode(ctx, n, { remove: true, force: query.force === true });
    return { ok: true };
  },
} satisfies Handlers;
