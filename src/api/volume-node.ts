import type { ApiContext } from './context.js';
import type { VolumeNode } from '../runtime/swarm/volume-placement.js';

/**
 * Cluster mode: the Swarm node of the control plane's own engine, where Berth's volumes live and
 * where the replicas of an app with volumes are pinned; null on one node or before `cluster init`.
 */
export async function volumeNode(ctx: ApiContext): Promise<VolumeNode | null> {
  if (!ctx.config.clusterMode) return null;
  const status = await ctx.cluster.engine.status().catch(() => null);
  if (!status?.node_id || status.state !== 'active') return null;
  const node = await ctx.cluster.engine.node(status.node_id).catch(() => null);
  return { id: status.node_id, hostname: node?.hostname ?? status.node_id, labels: node?.labels ?? {} };
}
