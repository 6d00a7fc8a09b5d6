/**
 * Cluster mode: where an app with volumes may run. Berth's volumes are named volumes of the
 * manager's own engine (the one the control plane drives: volume helpers, backups and restores run
 * there), and a named volume is per node: a replica Swarm put on another node would get an empty
 * volume of the same name there, and a rescheduled one would lose its data. So Berth adds a
 * placement constraint pinning such an app's replicas to that node, as CapRover does for
 * persistent apps.
 */

export const VOLUME_PIN_REASON = "its volumes live on this node (the manager's engine, where Berth keeps volumes, their backups and restores; a named volume is per node)";

/** The constraint Berth adds to the replicas of an app with volumes. */
export function volumePin(nodeId: string): string {
  return `node.id==${nodeId}`;
}

/** The node Berth's volumes live on, as far as a constraint can be checked against it. */
export interface VolumeNode {
  id: string;
  hostname: string;
  labels: Record<string, string>;
}

const EXPR = /^\s*([^=!\s]+)\s*(==|!=)\s*(.*?)\s*$/;

/**
 * Why the volumes' node cannot meet `constraint` (Swarm's rules: values compared without case, a
 * missing label meets `!=` only); null when it does, or when that cannot be told here
 * (`node.platform.*`, `engine.labels.*`: the release fails naming it if it does not).
 */
export function unmetBy(constraint: string, node: VolumeNode): string | null {
  const m = EXPR.exec(constraint);
  if (!m) return null;
  const [, key, op, value] = m as unknown as [string, string, '==' | '!=', string];
  const k = key.toLowerCase();
  let actual: string | undefined;
  if (k === 'node.id') actual = node.id;
  else if (k === 'node.hostname') actual = node.hostname;
  else if (k === 'node.role') actual = 'manager';
  else if (k.startsWith('node.labels.')) actual = node.labels[key.slice('node.labels.'.length)];
  else return null;
  const equal = actual !== undefined && actual.toLowerCase() === value.toLowerCase();
  if (op === '==' ? equal : !equal) return null;
  const label = k.startsWith('node.labels.') ? key.slice('node.labels.'.length) : null;
  const what =
    k === 'node.role' ? 'is a manager'
    : label === null ? `has ${k.slice('node.'.length)} ${actual}`
    : actual === undefined ? `has no label ${label}`
    : `has the label ${label}=${actual}`;
  return `an app with volumes runs on ${node.hostname} (${volumePin(node.id)}), where Berth keeps its volumes; that node ${what}, so "${constraint}" would leave no node to run it`;
}
