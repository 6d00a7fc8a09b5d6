import type { Db } from './db.js';
import { decodeMounts } from './app-columns.js';
import { now } from './db.js';
import type { ClusterTable, NodeChangesTable } from './cluster-schema.js';

export type ClusterRow = ClusterTable;
/** A node change with its labels decoded (stored as a JSON object of strings). */
export type NodeChangeRow = Omit<NodeChangesTable, 'labels'> & { labels: Record<string, string> | null };

function decodeChange(r: NodeChangesTable): NodeChangeRow {
  const labels = r.labels === null ? null : (JSON.parse(r.labels) as unknown);
  if (labels !== null && (typeof labels !== 'object' || Array.isArray(labels) || !Object.values(labels).every((v) => typeof v === 'string'))) {
    throw new Error('column node_changes.labels does not hold an object of strings');
  }
  return { ...r, labels: labels as Record<string, string> | null };
}

const ID = 'local';

export const clusterRow = (db: Db) => db.selectFrom('cluster').selectAll().where('id', '=', ID).executeTakeFirst();

/** The admin asked for cluster mode: written before the engine is touched. */
export async function requestCluster(db: Db, advertiseAddr: string | null): Promise<void> {
  const ts = now();
  await db
    .insertInto('cluster')
    .values({ id: ID, advertise_addr: advertiseAddr, status: 'initializing', message: null, swarm_node_id: null, created_at: ts, updated_at: ts })
    .onConflict((oc) => oc.column('id').doUpdateSet({ advertise_addr: advertiseAddr, status: 'initializing', message: null, updated_at: ts }))
    .execute();
}

export async function recordCluster(db: Db, v: Pick<ClusterRow, 'status' | 'message' | 'swarm_node_id'>): Promise<void> {
  await db.updateTable('cluster').set({ ...v, updated_at: now() }).where('id', '=', ID).execute();
}

/** One row per node; a change asked while an earlier one is still pending keeps that one's other parts. */
export async function requestNodeChange(db: Db, nodeId: string, change: { availability?: string; labels?: Record<string, string>; remove?: boolean; force?: boolean }): Promise<void> {
  const earlier = await nodeChange(db, nodeId);
  const pending = earlier?.status === 'pending' ? earlier : null;
  const values = {
    availability: change.availability ?? pending?.availability ?? null,
    labels: change.labels ? JSON.stringify(change.labels) : pending?.labels ? JSON.stringify(pending.labels) : null,
    remove: change.remove ? 1 : 0,
    force: change.force ? 1 : 0,
    status: 'pending',
    message: null,
    updated_at: now(),
  };
  await db
    .insertInto('node_changes')
    .values({ node_id: nodeId, ...values })
    .onConflict((oc) => oc.column('node_id').doUpdateSet(values))
    .execute();
}

export const pendingNodeChanges = async (db: Db) =>
  (await db.selectFrom('node_changes').selectAll().where('status', '=', 'pending').orderBy('updated_at').execute()).map(decodeChange);

export const allNodeChanges = async (db: Db) => (await db.selectFrom('node_changes').selectAll().execute()).map(decodeChange);

export async function nodeChange(db: Db, nodeId: string): Promise<NodeChangeRow | undefined> {
  const r = await db.selectFrom('node_changes').selectAll().where('node_id', '=', nodeId).executeTakeFirst();
  return r && decodeChange(r);
}

export async function recordNodeChange(db: Db, nodeId: string, status: 'done' | 'failed', message: string | null): Promise<void> {
  await db.updateTable('node_changes').set({ status, message, updated_at: now() }).where('node_id', '=', nodeId).execute();
}

/** Berth's replicas among these container ids (the `berth.container` label of Swarm tasks), with their app's slug. */
export async function replicasByContainerId(db: Db, ids: string[]) {
  if (!ids.length) return new Map<string, { slug: string; status: string; in_rotation: boolean }>();
  const rows = await db
    .selectFrom('containers')
    .innerJoin('apps', 'apps.id', 'containers.app_id')
    .select(['containers.id as id', 'apps.slug as slug', 'containers.status as status', 'containers.in_rotation as in_rotation'])
    .where('containers.id', 'in', ids)
    .execute();
  return new Map(rows.map((r) => [r.id, { slug: r.slug, status: r.status, in_rotation: r.in_rotation === 1 }]));
}

/**
 * Slugs of the apps that have replicas and volumes: in cluster mode they are pinned to the manager,
 * where their volumes live, so draining it would leave them nowhere to run.
 */
export async function runningAppsWithVolumes(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('apps').select(['slug', 'volumes']).where('stopped', '=', 0).where('replicas', '>', 0).orderBy('slug').execute();
  return rows.filter((r) => decodeMounts(r.volumes).length > 0).map((r) => r.slug);
}
