import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import { clusterRow, pendingNodeChanges, recordCluster, recordNodeChange } from '../store/cluster.js';
import { SwarmRefused, type Cluster, type NodeAvailability } from '../runtime/swarm/types.js';
import type { Events } from '../domain/events.js';
import type { AppNudge } from './deps.js';
import { evacuate } from './node-evacuation.js';

export interface NodeControllerDeps {
  db: Db;
  log: Logger;
  cluster: Cluster;
  events: Events;
  apps: AppNudge;
}

const PASS_MS = 10_000;
/** How long a drain waits for the app controller to move the node's replicas before Swarm moves the rest. */
const EVACUATE_MS = 300_000;

/**
 * Cluster mode's reconcile loop: makes the engine a Swarm manager once an admin asked for it, and
 * applies the admins' node changes (drain, activate, labels, removal) written to `node_changes`.
 * Without a `cluster` row it never calls the engine: single-node installs do not see it.
 */
export class NodeController {
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: NodeControllerDeps) {}

  start(): void {
    void this.reconcile().catch((err) => this.deps.log.warn({ err }, 'cluster reconcile failed'));
    this.timer = setInterval(() => void this.reconcile().catch((err) => this.deps.log.warn({ err }, 'cluster reconcile failed')), PASS_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.chain.catch(() => {});
  }

  /** One pass, after any pass already running; resolves when it is done (rejects when the engine does not answer). */
  reconcile(): Promise<void> {
    const next = this.chain.catch(() => {}).then(() => this.pass());
    this.chain = next;
    return next;
  }

  private async pass(): Promise<void> {
    const { db, cluster, log } = this.deps;
    const row = await clusterRow(db);
    if (!row) return;
    if (row.status === 'initializing') {
      const st = await cluster.status();
      try {
        // Already a manager (a pass killed after init, or an engine an operator set up): adopt it.
        const nodeId = st.state === 'active' && st.manager ? st.node_id! : await cluster.init(row.advertise_addr);
        await recordCluster(db, { status: 'active', message: null, swarm_node_id: nodeId });
        log.info({ nodeId }, 'swarm initialised');
      } catch (err) {
        if (!(err instanceof SwarmRefused)) throw err;
        await recordCluster(db, { status: 'failed', message: err.message, swarm_node_id: null });
        return;
      }
    }
    if ((await clusterRow(db))?.status !== 'active') return;
    for (const change of await pendingNodeChanges(db)) {
      try {
        if (change.remove) await cluster.removeNode(change.node_id, change.force === 1);
        else if (change.availability === 'drain' && !(await this.evacuated(change.node_id, change.updated_at))) continue;
        else {
          await cluster.updateNode(change.node_id, {
            ...(change.availability ? { availability: change.availability as NodeAvailability } : {}),
            ...(change.labels ? { labels: change.labels } : {}),
          });
        }
        await recordNodeChange(db, change.node_id, 'done', null);
      } catch (err) {
        if (!(err instanceof SwarmRefused)) throw err;
        await recordNodeChange(db, change.node_id, 'failed', err.message);
      }
    }
  }

  /**
   * A drain first pauses the node (nothing new lands there) and has the app controller replace its
   * replicas elsewhere; the change stays pending, and Swarm's drain follows once none is left there.
   */
  private async evacuated(nodeId: string, askedAt: string): Promise<boolean> {
    const { cluster, db, events, apps, log } = this.deps;
    const node = await cluster.node(nodeId);
    if (!node) return true;
    if (node.availability === 'active') await cluster.updateNode(nodeId, { availability: 'pause' });
    const left = await evacuate(db, events, apps, node.hostname);
    if (left > 0 && Date.now() - Date.parse(askedAt) > EVACUATE_MS) {
      log.warn({ node: node.hostname, left }, 'replicas still on a node being drained: Swarm moves them');
      return true;
    }
    return left === 0;
  }
}
