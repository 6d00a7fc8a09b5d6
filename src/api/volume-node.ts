import type { ApiContext } from './context.js';
import type { VolumeNode } from '../runtime/swarm/volume-placement.js';

/**
 * Cluster mode: the Swarm node of the control plane's own engine, where Berth's volumes live and
 * where the replicas of an app with volumes are pinned; null on one node, before `cluster init`, or
 * when none of `apps` has volumes (then no engine call is made: app reads stay off the engine).
 */
export async function volumeNode(ctx: ApiContext, ...apps: { volumes: readonly unknown[] }[]): Promise<VolumeNode | null> {
  if (!ctx.config.clusterMode || !apps.some((a) => a.volumes.length > 0)) return null;
  const status = await ctx.cluster.engine.status().catch(() => null);
  if (!status?.node_id || status.state !== 'active') return null;
  const node = await ctx.cluster.engine.node(status.node_id).catch(() => null);
  return { id: status.node_id, hostname: node?.hostname ?? status.node_id, labels: node?.labels ?? {} };
}
