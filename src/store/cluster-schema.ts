/** Cluster mode's tables (migration 0010_cluster). */

export interface ClusterTable {
  /** Always 'local': one cluster per installation. */
  id: string;
  advertise_addr: string | null;
  /** 'initializing' (asked, not yet done), 'active', 'failed' (message says why). */
  status: string;
  message: string | null;
  swarm_node_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface NodeChangesTable {
  node_id: string;
  availability: string | null;
  /** JSON object: the node's whole label set after the change. */
  labels: string | null;
  remove: number;
  force: number;
  /** 'pending' until applied, then 'done' or 'failed' (message says why). */
  status: string;
  message: string | null;
  updated_at: string;
}
